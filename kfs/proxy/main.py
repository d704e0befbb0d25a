"""kube-proxy: make Services reachable on this node, in iptables.

``kfs proxy --kubeconfig FILE --hostname-override node1 [--cluster-cidr CIDR] ...`` runs one
proxier for its node, as ``kube-proxy`` in iptables mode does
(``cmd/kube-proxy/app/server.go``: flags, the health and metrics servers, informers for
Services, EndpointSlices and the own Node, then the sync loop). Flag names are upstream's.

It authenticates as ``system:kube-proxy`` (its client certificate), which the bootstrap
RBAC policy binds to ``system:node-proxier``: list and watch Services and EndpointSlices,
read Nodes, write Events. Once every informer has listed and the first full sync is in the
kernel it logs ``proxy started:``. Killing it leaves the rules in place (Services keep
working); a restart resyncs. ``--cleanup`` removes everything it wrote, then exits.

What real Kubernetes does differently: a configuration file (``--config``,
KubeProxyConfiguration) beside the flags, the nftables and IPVS modes, dual-stack, conntrack
sysctl tuning at start (``--conntrack-max-per-core``), and node IP detection from the Node
object with retries.
"""
import argparse
import logging
import shutil
import socket
import sys
import threading

from kfs.util import duration, handle_sigterm, setup_logging

log = logging.getLogger("kfs.proxy")

STARTED = "proxy started:"   # logged once informers synced and the first sync is written


def address_list(text):
    """``--nodeport-addresses``: comma-separated CIDRs, or ``primary``."""
    import ipaddress
    items = [s.strip() for s in text.split(",") if s.strip()]
    for item in items:
        if item != "primary":
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise argparse.ArgumentTypeError(
                    f"invalid --nodeport-addresses entry {item!r}: want a CIDR such as "
                    "192.168.56.0/24, or 'primary'") from None
    return items


def boolean(text):
    if str(text).lower() in ("true", "1", "yes"):
        return True
    if str(text).lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {text!r} (true or false)")


def add_arguments(parser):
    parser.add_argument("--kubeconfig", help="kubeconfig with the API server's address and "
                        "kube-proxy's credentials (default: $KUBECONFIG)")
    parser.add_argument("--hostname-override", metavar="NAME",
                        help="this node's name, as its kubelet registered it (default: hostname)")
    parser.add_argument("--cluster-cidr", metavar="CIDR",
                        help="the pods' address range: traffic from outside it to a ClusterIP "
                        "is masqueraded (default: none, only --masquerade-all does)")
    parser.add_argument("--nodeport-addresses", type=address_list, default=[], metavar="CIDRS",
                        help="the addresses NodePorts answer on, as CIDRs, or 'primary' "
                        "(default: every local address)")
    parser.add_argument("--masquerade-all", action="store_true",
                        help="SNAT all traffic sent through a Service's ClusterIP")
    parser.add_argument("--sync-period", type=duration, default=30.0, metavar="DURATION",
                        help="how often the canary chains are checked and a failed sync is "
                        "retried (default: 30s)")
    parser.add_argument("--min-sync-period", type=duration, default=1.0, metavar="DURATION",
                        help="the least time between two syncs (default: 1s)")
    parser.add_argument("--healthz-bind-address", default="0.0.0.0:10256", metavar="HOST:PORT",
                        help="where /healthz and /livez are served; empty: nowhere "
                        "(default: 0.0.0.0:10256)")
    parser.add_argument("--metrics-bind-address", default="127.0.0.1:10249", metavar="HOST:PORT",
                        help="where /metrics is served; empty: nowhere (default: 127.0.0.1:10249)")
    parser.add_argument("--iptables-localhost-nodeports", type=boolean, default=True,
                        metavar="BOOL", help="answer NodePorts on 127.0.0.1 too "
                        "(sets route_localnet; default: true)")
    parser.add_argument("--iptables-masquerade-bit", type=int, default=14, metavar="BIT",
                        help="the fwmark bit that marks packets to SNAT (default: 14, 0x4000)")
    parser.add_argument("--cleanup", action="store_true",
                        help="remove every rule and chain kube-proxy wrote, then exit")
    parser.add_argument("-v", "--v", type=int, default=2, dest="verbosity",
                        help="log verbosity: 0 warnings only, 2 every sync (default), 4 debug")


def make_client(kubeconfig):
    from kfs.client import Client
    return Client.for_component(kubeconfig, "kfs-proxy", pool_maxsize=16,
                                hint="one whose user is system:kube-proxy")


def node_internal_ip(node):
    for a in ((node or {}).get("status") or {}).get("addresses") or []:
        if a.get("type") == "InternalIP" and ":" not in a.get("address", ""):
            return a["address"]
    return None


def handlers(proxier):
    """Informer handlers (kind, obj, old) -> the proxier's On* calls."""
    def on_service(kind, svc, old):
        if kind == "DELETED":
            proxier.on_service_delete(svc)
        else:
            proxier.on_service_update(old if kind == "MODIFIED" else None, svc)

    def on_slice(kind, eps, old):
        proxier.on_endpoint_slice_update(eps, remove=kind == "DELETED")

    def on_node(kind, node, old):
        if kind != "DELETED" and proxier.node_ip is None:   # the Node registered after us
            proxier.node_ip = node_internal_ip(node)
        proxier.on_node(None if kind == "DELETED" else node)
    return on_service, on_slice, on_node


def build_proxier(args, node_name, node_ip, prefix=()):
    """The proxier and its helpers; `prefix` runs every host command through it (tests and
    benchmarks point it at a throwaway network namespace: ``nsenter --net=...``)."""
    from kfs.proxy.conntrack import Conntrack
    from kfs.proxy.healthcheck import ProxyHealthServer, ServiceHealthServer
    from kfs.iptables import Iptables
    from kfs.proxy.metrics import ProxyMetrics
    from kfs.proxy.proxier import Proxier
    from kfs.proxy.util import Sysctl
    metrics = ProxyMetrics()
    healthz = ProxyHealthServer(2 * args.sync_period, metrics)
    return Proxier(Iptables(prefix), node_name, Sysctl(prefix), conntrack=Conntrack(prefix),
                   sync_period=args.sync_period, min_sync_period=args.min_sync_period,
                   masquerade_all=args.masquerade_all, masquerade_bit=args.iptables_masquerade_bit,
                   cluster_cidr=args.cluster_cidr, nodeport_addresses=args.nodeport_addresses,
                   localhost_nodeports=args.iptables_localhost_nodeports, node_ip=node_ip,
                   metrics=metrics, healthz=healthz, service_health=ServiceHealthServer(healthz))


def serve(args, proxier):
    from kfs.proxy import metrics
    if args.healthz_bind_address:
        proxier.healthz.serve(args.healthz_bind_address)
    if args.metrics_bind_address:
        metrics.serve(args.metrics_bind_address, proxier.metrics)


def run(args, client, stopped, prefix=()):
    """Informers, the proxier, its servers and loops; returns (proxier, informers) once
    the first sync is written."""
    from kfs.client import Informer
    from kfs import iptables
    from kfs.proxy import rules
    node_name = args.hostname_override or socket.gethostname()
    nodes = Informer(client, "nodes", field_selector=f"metadata.name={node_name}").start()
    nodes.wait_synced(60)
    node = nodes.get(node_name)
    if node is None:
        log.warning("no Node %s yet: NodePorts work, but node IP dependent rules wait for it",
                    node_name)
    proxier = build_proxier(args, node_name, node_internal_ip(node), prefix)
    serve(args, proxier)
    on_service, on_slice, on_node = handlers(proxier)
    proxier.on_node(node)
    nodes.add_handler(on_node)
    services = Informer(client, "services").add_handler(on_service).start()
    slices = Informer(client, "endpointslices").add_handler(on_slice).start()
    services.wait_synced(60)
    proxier.on_service_synced()
    slices.wait_synced(60)
    proxier.on_endpoint_slices_synced()
    proxier.runner.start()
    threading.Thread(target=iptables.monitor, daemon=True, name="canary",
                     args=(proxier.iptables, rules.KUBE_PROXY_CANARY, ["mangle", "nat", "filter"],
                           proxier.force_sync_proxy_rules, args.sync_period, stopped)).start()
    log.info("%s node %s, %d service ports, %d endpoint slices", STARTED, node_name,
             len(proxier.svc_port_map), len(slices.store))
    return proxier, [nodes, services, slices]


def main(args):
    setup_logging(args.verbosity)
    for tool in ("iptables", "iptables-restore", "iptables-save"):
        if not shutil.which(tool):
            print(f"kfs proxy: {tool} is not installed (python3 -m kfs.bootstrap installs it)",
                  file=sys.stderr)
            return 2
    if args.cleanup:
        from kfs.iptables import Iptables
        from kfs.proxy.proxier import cleanup_leftovers
        return 1 if cleanup_leftovers(Iptables()) else 0
    try:
        client = make_client(args.kubeconfig)
    except (FileNotFoundError, KeyError, OSError) as e:
        print(f"kfs proxy: {e}", file=sys.stderr)
        return 2
    stopped, running = handle_sigterm()
    try:
        proxier, informers = run(args, client, stopped)
        running.set()
    except TimeoutError as e:
        print(f"kfs proxy: {e}", file=sys.stderr)
        return 1
    except OSError as e:   # a health or metrics port already taken
        print(f"kfs proxy: cannot serve: {e} (see --healthz-bind-address, "
              "--metrics-bind-address)", file=sys.stderr)
        return 2
    try:
        while not stopped.wait(1.0):
            pass
    except KeyboardInterrupt:
        stopped.set()
    proxier.runner.stop()
    for inf in informers:
        inf.stop()
    return 0
