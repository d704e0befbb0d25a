"""the node agent: runs pods from a manifest directory, a URL and the API server in Docker

``kfs kubelet`` wires the kubelet together from its flags (upstream's names) and runs it
until SIGTERM: with ``--kubeconfig`` first the API server's side (``connect``: the client,
the informer of this node's pods, the Node's status and Lease, mirror pods, the pod status
writer, events), then the event recorder, the DNS configurer (``--cluster-dns``,
``--cluster-domain``, ``--resolv-conf``), the pod sources and the ``Kubelet`` built with
all of them. Stopping the kubelet leaves its pods running: a kubelet started again adopts
them from Docker's labels.

    kfs kubelet --node-name node1 --pod-manifest-path /etc/kubernetes/manifests \\
        --container-runtime-endpoint unix:///var/run/docker.sock --node-ip 192.168.56.11

Mirrors ``cmd/kubelet/app/server.go`` (run, RunKubelet: kubeDeps before the Kubelet) and
``options/options.go``.

With ``--bootstrap-kubeconfig`` a kubelet without a usable ``--kubeconfig`` first asks for
its client certificate (``bootstrap.py``: TLS bootstrapping), and with
``--rotate-server-certificates`` for its serving certificate, once its pods run.

What real Kubernetes does differently: most settings live in a KubeletConfiguration file
(``--config``); the runtime endpoint is a CRI socket (containerd, CRI-O), not Docker's; a
missing ``--kubeconfig`` without ``--bootstrap-kubeconfig`` is an error (systemd restarts
the kubelet); both certificates are rotated before they expire.
"""
import argparse
import logging
import os
import re
import signal
import socket
import sys
import threading
from dataclasses import dataclass

from kfs.kubelet import hairpin
from kfs.util import setup_logging

DESCRIPTION = """\
The node agent. Runs the pods it learns of (a manifest directory, a manifest URL, the API
server) as Docker containers: a pause container holding each pod's network namespace, the
app containers joined to it, restarted with back-off, probed, reported. Stopping it leaves
its pods running; started again, it adopts them from Docker's labels.

example:
  kfs kubelet --node-name node1 --node-ip 192.168.56.11 \\
      --pod-manifest-path /etc/kubernetes/manifests --file-check-frequency 1s \\
      --container-runtime-endpoint unix:///var/run/docker.sock
"""

DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def duration(text):
    """Go durations as upstream flags take them: "20s", "500ms", "1m30s" (or plain seconds)."""
    text = str(text).strip()
    try:
        return float(text)
    except ValueError:
        pass
    parts = DURATION.findall(text)
    if not parts or "".join(a + b for a, b in parts) != text:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r} (e.g. 20s, 500ms, 1m)")
    unit = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * unit[u] for n, u in parts)


def ip_list(text):
    """"10.96.0.10" or "10.96.0.10,10.96.0.11" -> a list of addresses."""
    import ipaddress
    ips = [t.strip() for t in text.split(",") if t.strip()]
    for ip in ips:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{ip!r} is not an IP address") from None
    return ips


def add_arguments(p):
    p.description = DESCRIPTION
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--node-name", default=socket.gethostname(),
                   help="the name of this node (default: the hostname)")
    p.add_argument("--node-ip", default="",
                   help="this node's address: the pods' hostIP and the Node's InternalIP")
    src = p.add_argument_group("pod sources")
    src.add_argument("--pod-manifest-path", metavar="DIR",
                     help="a directory of static pod manifests (one Pod per YAML/JSON file)")
    src.add_argument("--file-check-frequency", type=duration, default=20.0, metavar="DURATION",
                     help="how often to re-read the manifest directory (default: 20s)")
    src.add_argument("--manifest-url", metavar="URL",
                     help="a URL serving a Pod or PodList to run as static pods")
    src.add_argument("--manifest-url-header", action="append", default=[],
                     metavar="'KEY:VALUE'", help="an HTTP header for --manifest-url (repeatable)")
    src.add_argument("--http-check-frequency", type=duration, default=20.0, metavar="DURATION",
                     help="how often to fetch --manifest-url (default: 20s)")
    src.add_argument("--kubeconfig", metavar="FILE",
                     help="a kubeconfig for the API server: run the pods bound to this node, "
                          "register the Node, heartbeat (without it: standalone)")
    rt = p.add_argument_group("runtime")
    rt.add_argument("--container-runtime-endpoint", default="unix:///var/run/docker.sock",
                    metavar="URL", help="the Docker daemon to run pods in "
                                        "(default: unix:///var/run/docker.sock)")
    rt.add_argument("--pod-infra-container-image", default="kfs/pause:1", metavar="IMAGE",
                    help="the sandbox image that holds each pod's network namespace "
                         "(default: kfs/pause:1)")
    rt.add_argument("--root-dir", default="/var/lib/kubelet", metavar="DIR",
                    help="where pod volumes (emptyDir) and certificates live "
                         "(default: /var/lib/kubelet)")
    rt.add_argument("--sync-frequency", type=duration, default=1.0, metavar="DURATION",
                    help="how often each pod is re-synced with the runtime (default: 1s)")
    rt.add_argument("--max-backoff", type=duration, default=300.0, metavar="DURATION",
                    help="the cap of the crash-loop and image-pull back-off, which starts at "
                         "10s and doubles (default: 300s)")
    rt.add_argument("--hairpin-mode", choices=hairpin.MODES, default=hairpin.HAIRPIN_VETH,
                    help="put each pod's bridge port in hairpin mode, so that a pod reaches "
                    "itself through its Service (default: hairpin-veth)")
    dns = p.add_argument_group("the pods' DNS (/etc/resolv.conf, /etc/hosts)")
    dns.add_argument("--cluster-dns", type=ip_list, default=[], metavar="IP[,IP]",
                     help="the cluster DNS server(s): the nameserver of pods with dnsPolicy "
                          "ClusterFirst (default: none, they fall back to Default)")
    dns.add_argument("--cluster-domain", default="", metavar="DOMAIN",
                     help="the cluster's DNS domain: pods search <ns>.svc.DOMAIN svc.DOMAIN "
                          "DOMAIN (e.g. cluster.local; default: none)")
    dns.add_argument("--resolv-conf", default="/etc/resolv.conf", metavar="FILE",
                     help="the machine's resolver file, the base of every pod's resolv.conf "
                          "and all of dnsPolicy Default (default: /etc/resolv.conf; '': none)")
    boot = p.add_argument_group("TLS bootstrapping (a new node with only a bootstrap token)")
    boot.add_argument("--bootstrap-kubeconfig", metavar="FILE",
                      help="a kubeconfig with a bootstrap token: if --kubeconfig is missing "
                           "or its certificate expired, ask for a client certificate with a "
                           "CertificateSigningRequest and write --kubeconfig")
    boot.add_argument("--cert-dir", metavar="DIR",
                      help="where issued certificates and their keys go "
                           "(default: <root-dir>/pki)")
    boot.add_argument("--rotate-server-certificates", action="store_true",
                      help="ask for the serving certificate with a kubelet-serving "
                           "CertificateSigningRequest (instead of --tls-cert-file or a "
                           "self-signed one)")
    node = p.add_argument_group("node (with --kubeconfig)")
    node.add_argument("--node-status-update-frequency", type=duration, default=10.0,
                      metavar="DURATION", help="how often the Node's status is posted "
                                               "(default: 10s)")
    node.add_argument("--node-lease-duration-seconds", type=int, default=40, metavar="N",
                      help="the Lease's duration; it is renewed every quarter of it "
                           "(default: 40)")
    node.add_argument("--cloud-provider", choices=("", "external"), default="",
                      help="external: a cloud-controller-manager describes the Node; it "
                           "registers tainted node.cloudprovider.kubernetes.io/uninitialized "
                           "and leaves its addresses to the cloud once set (default: none)")
    srv = p.add_argument_group("the kubelet's HTTPS API (/healthz, /pods, /containerLogs)")
    srv.add_argument("--address", default="0.0.0.0", help="address to serve on (default: 0.0.0.0)")
    srv.add_argument("--port", type=int, default=10250, help="port to serve on (default: 10250)")
    srv.add_argument("--tls-cert-file", metavar="FILE",
                     help="serving certificate (default: a self-signed one in <root-dir>/pki)")
    srv.add_argument("--tls-private-key-file", metavar="FILE", help="its private key")
    srv.add_argument("--client-ca-file", metavar="FILE",
                     help="require client certificates signed by this CA")
    p.add_argument("-v", "--v", type=int, default=2, metavar="N",
                   help="log verbosity: 2 the story of each pod, 4 and up everything")


def fail(message):
    print(f"kfs kubelet: {message}", file=sys.stderr)
    return 2


def main(args):
    from kfs.kubelet.runtime import ContainerRuntimeError, DockerRuntime
    from kfs.kubelet.server import KubeletServer
    setup_logging(args.v)
    log = logging.getLogger("kubelet")
    if bool(args.tls_cert_file) != bool(args.tls_private_key_file):
        return fail("--tls-cert-file and --tls-private-key-file go together")
    try:
        runtime = DockerRuntime(args.container_runtime_endpoint, hairpin_mode=args.hairpin_mode)
        version = runtime.version()
    except (ContainerRuntimeError, Exception) as e:
        return fail(f"cannot reach Docker at {args.container_runtime_endpoint}: {e} "
                    f"(is dockerd running? see --container-runtime-endpoint)")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    # The kubelet is built with its API server client, so the kubeconfig and certificates
    # come first (the lab writes them before it starts kubelets; started by hand, wait).
    files = [f for f in (args.bootstrap_kubeconfig or args.kubeconfig, args.tls_cert_file,
                         args.tls_private_key_file, args.client_ca_file) if f]
    if not wait_for_files(files, stop, log):
        return 0
    cert_dir = args.cert_dir or os.path.join(args.root_dir, "pki")
    if args.bootstrap_kubeconfig:
        problem = bootstrap_client(args, cert_dir, stop)
        if problem is not None:
            return problem
    api = None
    if args.kubeconfig:
        try:
            api = connect(args, runtime)
        except Exception as e:
            return fail(f"cannot use --kubeconfig {args.kubeconfig}: {e}")
    kl = build_kubelet(args, runtime, api)
    log.info("kubelet %s starting: Docker %s at %s, root dir %s, sources: %s",
             args.node_name, version.get("Version"), args.container_runtime_endpoint,
             args.root_dir, ", ".join(kl.config.order) or "none")
    started = start_sources(args, kl.config, api)
    if api:
        log.info("using the API server at %s as node %s", api.client.server, args.node_name)
    threading.Thread(target=kl.run, name="sync-loop", daemon=True).start()
    if args.rotate_server_certificates and api and not args.tls_cert_file:
        problem = bootstrap_serving(args, api.client, cert_dir, stop)
        if problem is not None:
            return problem
    try:
        server = KubeletServer(kl, args.address, args.port, args.tls_cert_file,
                               args.tls_private_key_file, args.client_ca_file).start()
    except (OSError, ValueError) as e:
        return fail(f"cannot serve on {args.address}:{args.port}: {e}")
    stop.wait()
    log.info("kubelet stopping (its pods keep running)")
    kl.stop()
    for s in started:
        s.stop()
    server.stop()
    return 0


def bootstrap_client(args, cert_dir, stop):
    """--bootstrap-kubeconfig: make --kubeconfig usable first (None: go on; else an exit
    code)."""
    from kfs.client import ApiError
    from kfs.kubelet.bootstrap import BootstrapError, load_client_cert
    if not args.kubeconfig:
        return fail("--bootstrap-kubeconfig needs --kubeconfig: where to write the kubeconfig "
                    "with the issued certificate")
    try:
        if not load_client_cert(args.kubeconfig, args.bootstrap_kubeconfig, cert_dir,
                                args.node_name, stop):
            return 0
    except (BootstrapError, ApiError, OSError, KeyError, ValueError) as e:
        return fail(f"TLS bootstrap with --bootstrap-kubeconfig {args.bootstrap_kubeconfig} "
                    f"failed: {e}")
    return None


def bootstrap_serving(args, client, cert_dir, stop):
    """--rotate-server-certificates: the serving certificate from a kubelet-serving CSR
    (sets args.tls_cert_file and key; None: go on, else an exit code)."""
    from kfs.client import ApiError
    from kfs.kubelet.bootstrap import BootstrapError, load_serving_cert
    try:
        pem = load_serving_cert(client, cert_dir, args.node_name, args.node_ip, stop)
    except (BootstrapError, ApiError, OSError) as e:
        return fail(f"cannot get a serving certificate: {e}")
    if pem is None:
        return 0
    args.tls_cert_file = args.tls_private_key_file = str(pem)
    return None


@dataclass
class ApiDeps:
    """What the kubelet uses of the API server (upstream's ``kubelet.Dependencies``)."""
    client: object
    pods: object       # the informer of the pods bound to this node (mirror pods among them)
    node: object       # node.NodeStatus: the Node and its Lease
    mirrors: object    # mirror.MirrorPods
    status: object     # status.ApiStatusWriter: pod status and the final delete
    events: object     # kfs.client.EventRecorder

    def event(self, pod, type_, reason, message, *_):
        """The recorder's sink: an Event about the pod (about its mirror pod, if static)."""
        self.events.event(self.mirrors.involved(pod), type_, reason, message)


def connect(args, runtime):
    """The API server's side of the kubelet, from `args.kubeconfig`."""
    from kfs.client import Client
    from kfs.kubelet import sources
    client = Client.from_kubeconfig(args.kubeconfig, user_agent=f"kubelet/{args.node_name}")
    return api_deps(client, sources.node_pods_informer(client, args.node_name), args, runtime)


def api_deps(client, pods, args, runtime):
    """What the kubelet uses of the API server at `client`; `pods` is the informer of the
    pods bound to this node, which the API source runs and the mirror pods read."""
    from kfs.client import EventRecorder
    from kfs.kubelet import mirror, node, status
    node_status = node.NodeStatus(client, args.node_name, args.node_ip, args.root_dir, runtime,
                                  args.port, args.node_status_update_frequency,
                                  args.node_lease_duration_seconds,
                                  external_cloud_provider=args.cloud_provider == "external")
    mirrors = mirror.MirrorPods(client, pods, args.node_name, lambda: node_status.node_uid)
    return ApiDeps(client, pods, node_status, mirrors,
                   status.ApiStatusWriter(client, pods, mirrors),
                   EventRecorder(client, "kubelet", host=args.node_name))


def build_kubelet(args, runtime, api):
    """The event recorder, the merged pod sources and the Kubelet built with them (and with
    the API server's parts, if `api`)."""
    from kfs.kubelet import sources
    from kfs.kubelet.dns import Configurer
    from kfs.kubelet.events import Recorder
    from kfs.kubelet.kubelet import Kubelet
    names = [s for s, on in ((sources.FILE, args.pod_manifest_path),
                             (sources.HTTP, args.manifest_url),
                             (sources.API, args.kubeconfig)) if on]
    recorder = Recorder(host=args.node_name, sink=api.event if api else None)
    dns = Configurer(args.cluster_dns, args.cluster_domain, args.resolv_conf, recorder.event)
    return Kubelet(runtime, args.node_name, args.node_ip, args.root_dir,
                   sources.PodConfig(names, recorder), recorder,
                   pause_image=args.pod_infra_container_image, max_backoff=args.max_backoff,
                   sync_frequency=args.sync_frequency,
                   status_writer=api and api.status.write_status,
                   on_terminated=api and api.status.terminated,
                   mirror_pods=api and api.mirrors, dns_configurer=dns)


def start_sources(args, config, api):
    """Start the pod sources (and, with an API server, the Node's status); return them."""
    from kfs.kubelet import sources
    started = []
    if args.pod_manifest_path:
        started.append(sources.FileSource(config, args.node_name, args.pod_manifest_path,
                                          args.file_check_frequency).start())
    if args.manifest_url:
        headers = dict(h.split(":", 1) for h in args.manifest_url_header if ":" in h)
        started.append(sources.URLSource(config, args.node_name, args.manifest_url,
                                         args.http_check_frequency, headers).start())
    if api:
        started.append(sources.APISource(config, args.node_name, api.client,
                                         informer=api.pods).start())
        started.append(api.node.start())
    return started


def wait_for_files(files, stop, log):
    """Wait until every file exists (False if told to stop first)."""
    missing = [f for f in files if not os.path.exists(f)]
    if missing:
        log.info("waiting for %s", ", ".join(missing))
    while missing:
        if stop.wait(0.5):
            return False
        missing = [f for f in missing if not os.path.exists(f)]
    return True
