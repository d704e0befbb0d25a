"""cluster DNS (CoreDNS's kubernetes plugin): Services by name, from a watch of the API server

``kfs dns --kubeconfig FILE [--port 53] [--cluster-domain cluster.local] [--ttl 30] ...`` is
what CoreDNS is in a kubeadm cluster, run with kubeadm's Corefile spelled as flags::

    .:53 {
        errors
        health { lameduck 5s }                  # --health-port 8080: GET /health
        ready                                   # --ready-port 8181: GET /ready
        kubernetes cluster.local in-addr.arpa ip6.arpa {   # --cluster-domain
           pods insecure                        # --pods
           fallthrough in-addr.arpa ip6.arpa
           ttl 30                               # --ttl (the plugin's own default is 5)
        }
        prometheus :9153                        # --metrics-bind-address
        forward . /etc/resolv.conf              # --upstream, --resolv-conf
        cache 30
        loop
        reload
        loadbalance
    }

Mirrors ``coredns.go`` and ``core/dnsserver`` (start the servers of the Corefile) with
``plugin/kubernetes/setup.go`` (the plugin's options). The process: three informers fill
the index (``kfs.dns.index``); the UDP and TCP servers (``kfs.dns.server``) answer from the
start, SERVFAIL for the cluster's names until the first lists arrived (as CoreDNS), and
/ready says 200 from then on; ``dns started:`` is logged once synced, which the lab waits
for. An API server that goes away leaves the index as it was: queries keep being answered
from the last state seen, and the informers catch up when it is back.

What real Kubernetes does differently: CoreDNS runs as a Deployment of two pods in
kube-system behind the Service ``kube-dns`` (10.96.0.10), authenticating with its service
account's token (here a process with a client certificate, CN ``system:kube-dns``); its
Corefile comes from a ConfigMap and is reloaded when it changes.
"""
import logging
import signal
import sys
import threading

from kfs.util import setup_logging

log = logging.getLogger("kfs.dns")

STARTED = "dns started:"  # logged once the informers have synced


def port_number(text):
    port = int(text)
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is not in 0-65535")
    return port


def host_port(text):
    """"0.0.0.0:9153", ":9153" -> ("0.0.0.0", 9153); "" or "0" -> None (disabled)."""
    if text in ("", "0"):
        return None
    host, sep, port = text.rpartition(":")
    if not sep:
        raise ValueError(f"--metrics-bind-address {text!r}: expected HOST:PORT (or 0 to disable)")
    return host.strip("[]") or "0.0.0.0", port_number(port)


def add_arguments(parser):
    parser.add_argument("--kubeconfig", help="kubeconfig with the API server's address and "
                        "the DNS server's credentials (default: $KUBECONFIG)")
    parser.add_argument("--bind-address", default="0.0.0.0",
                        help="address to serve DNS (and /health, /ready) on (default: 0.0.0.0)")
    parser.add_argument("--port", type=int, default=53, help="DNS port, UDP and TCP (default: 53)")
    parser.add_argument("--cluster-domain", default="cluster.local",
                        help="the zone of the cluster's names (default: cluster.local)")
    parser.add_argument("--ttl", type=int, default=30, help="TTL of the answers, 0-3600 "
                        "(default: 30, as kubeadm's Corefile; the plugin's own default is 5)")
    parser.add_argument("--upstream", default=None, metavar="IP[:PORT]|none",
                        help="where names outside the cluster go (default: the first "
                        "nameserver of --resolv-conf); none: answer them REFUSED")
    parser.add_argument("--resolv-conf", default="/etc/resolv.conf",
                        help="the resolver file the upstream comes from "
                        "(default: /etc/resolv.conf)")
    parser.add_argument("--pods", choices=("insecure", "disabled"), default="insecure",
                        help="answer <a-b-c-d>.<ns>.pod.<zone> (insecure, kubeadm's default) "
                        "or not (disabled)")
    parser.add_argument("--metrics-bind-address", default="0.0.0.0:9153", metavar="HOST:PORT",
                        help="where Prometheus reads /metrics (default: 0.0.0.0:9153; 0 disables)")
    parser.add_argument("--health-port", type=int, default=8080,
                        help="port of GET /health, the liveness probe (default: 8080; 0 disables)")
    parser.add_argument("--ready-port", type=int, default=8181,
                        help="port of GET /ready, the readiness probe (default: 8181; 0 disables)")
    parser.add_argument("-v", "--v", type=int, default=2, dest="verbosity",
                        help="log verbosity: 0 warnings only, 2 start and sync (default), "
                        "4 every query")


def make_client(kubeconfig):
    from kfs.client import Client
    return Client.for_component(kubeconfig, "kfs-dns", pool_maxsize=8,
                                hint="one for the user system:kube-dns")


def configure(args):
    """(client, upstream, metrics address) from the flags; ValueError names a bad flag."""
    from kfs.dns.forward import parse_upstream, upstream_from_resolv_conf
    if not 0 <= args.ttl <= 3600:
        raise ValueError(f"--ttl {args.ttl}: must be 0-3600 seconds")
    for flag in ("port", "health_port", "ready_port"):
        port_number(getattr(args, flag))
    upstream = (parse_upstream(args.upstream) if args.upstream is not None
                else upstream_from_resolv_conf(args.resolv_conf))
    return make_client(args.kubeconfig), upstream, host_port(args.metrics_bind_address)


def start(args, client, upstream, metrics_address):
    """The controller, the DNS servers and the HTTP endpoints, all started."""
    from kfs.dns import metrics
    from kfs.dns.forward import Forwarder, loops_back
    from kfs.dns.index import DnsController
    from kfs.dns.kubernetes import Kubernetes
    from kfs.dns.server import ClusterResolver, Servers
    controller = DnsController(client)
    kubernetes = Kubernetes(controller.index, args.cluster_domain, args.ttl, args.pods)
    if loops_back(upstream, args.bind_address, args.port):
        raise ValueError(f"--upstream {upstream[0]}:{upstream[1]} is this server itself "
                         "(forwarding there would loop): pass another one, or none")
    forwarder = Forwarder(upstream)
    servers = Servers(ClusterResolver(kubernetes, forwarder), args.bind_address, args.port)
    http = []
    if metrics_address:
        http.append(metrics.serve_metrics(*metrics_address))
    if args.health_port:
        http.append(metrics.serve_probe(args.bind_address, args.health_port, "/health",
                                        lambda: []))
    if args.ready_port:
        http.append(metrics.serve_probe(
            args.bind_address, args.ready_port, "/ready",
            lambda: [] if controller.index.synced.is_set() else ["kubernetes"]))
    controller.start()
    servers.start()
    return controller, servers, http


def main(args):
    setup_logging(args.verbosity)
    try:
        client, upstream, metrics_address = configure(args)
        controller, servers, http = start(args, client, upstream, metrics_address)
    except (ValueError, FileNotFoundError, KeyError) as e:
        print(f"kfs dns: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a port in use, or below 1024 without root
        print(f"kfs dns: cannot listen: {e} (ports below 1024 need root; see --port, "
              "--health-port, --ready-port, --metrics-bind-address)", file=sys.stderr)
        return 2
    host, port = servers.address
    upstream_text = f"{upstream[0]}:{upstream[1]}" if upstream else "none (REFUSED)"
    log.info("serving %s on %s:%d (udp, tcp), upstream %s; waiting for the informers",
             args.cluster_domain, host, port, upstream_text)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    announced = False
    try:
        while not done.wait(0.1):
            if not announced and controller.index.synced.is_set():
                index = controller.index
                log.info("%s zone %s on %s:%d (udp, tcp), %d services, %d namespaces, "
                         "ttl %ds, upstream %s", STARTED, args.cluster_domain, host, port,
                         len(index.services), len(index.namespaces), args.ttl, upstream_text)
                announced = True
    except KeyboardInterrupt:
        pass
    servers.stop()
    for h in http:
        h.shutdown()
    controller.stop()
    return 0
