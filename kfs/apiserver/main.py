"""kube-apiserver: the Kubernetes API over etcd, on HTTPS (upstream's flag names).

Run it as the lab does::

    kfs apiserver --etcd-servers=https://127.0.0.1:2379 --etcd-cafile=pki/etcd-ca.crt \\
        --etcd-certfile=pki/apiserver-etcd-client.crt --etcd-keyfile=pki/apiserver-etcd-client.key \\
        --tls-cert-file=pki/apiserver.crt --tls-private-key-file=pki/apiserver.key \\
        --client-ca-file=pki/ca.crt --token-auth-file=tokens.csv --secure-port=6443

Mirrors ``cmd/kube-apiserver/app/server.go`` and ``options/`` (flag names and defaults).

What real Kubernetes does differently: ~150 flags (admission plugins, audit, encryption,
feature gates, service-account issuer, aggregation), and the server runs three servers
in one process (aggregator, kube-apiserver, extensions).
"""
import os
import re
import sys

from aiohttp import web

from kfs import pki, storage as st
from kfs.apiserver import server
from kfs.storage import cacher
from kfs.util import setup_logging


def duration(text):
    """Go-style durations as upstream's flags take them: 5m, 30s, 1h30m, 0."""
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"invalid duration {text!r} (e.g. 5m, 30s, 1h)")
    scale = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    return sum(float(n) * scale[u] for n, u in parts)


def boolean(text):
    """Go's strconv.ParseBool, for flags as ``--watch-cache=false``."""
    if text.lower() in ("1", "t", "true"):
        return True
    if text.lower() in ("0", "f", "false"):
        return False
    raise ValueError(f"invalid boolean {text!r}")


def add_arguments(p):
    p.add_argument("--bind-address", default="0.0.0.0",
                   help="the address to serve on (default: all)")
    p.add_argument("--secure-port", type=int, default=6443, help="the HTTPS port (default 6443)")
    p.add_argument("--advertise-address",
                   help="the address other members of the cluster reach this server on "
                        "(the endpoints of the default/kubernetes Service)")
    p.add_argument("--etcd-servers", default="http://127.0.0.1:2379",
                   help="comma-separated etcd URLs")
    p.add_argument("--etcd-cafile", help="CA that signed etcd's serving certificates")
    p.add_argument("--etcd-certfile", help="client certificate for etcd")
    p.add_argument("--etcd-keyfile", help="client key for etcd")
    p.add_argument("--etcd-compaction-interval", type=duration, default=300.0,
                   help="how often to compact etcd's history (default 5m; 0 never)")
    p.add_argument("--event-ttl", type=duration, default=3600.0,
                   help="how long Events are kept (default 1h)")
    p.add_argument("--tls-cert-file", required=True, help="the server certificate")
    p.add_argument("--tls-private-key-file", required=True, help="the server key")
    p.add_argument("--client-ca-file",
                   help="clients presenting a certificate signed by this CA are authenticated "
                        "by it (CN = user, O = groups)")
    p.add_argument("--token-auth-file", help="static bearer tokens (CSV: token,user,uid,groups)")
    p.add_argument("--kubelet-client-certificate",
                   help="client certificate for the kubelets (pods/log)")
    p.add_argument("--kubelet-client-key", help="client key for the kubelets")
    p.add_argument("--kubelet-certificate-authority",
                   help="CA to check the kubelets' serving certificates (default: not checked)")
    p.add_argument("--service-cluster-ip-range", default="10.96.0.0/12",
                   help="the range Service ClusterIPs come from (default 10.96.0.0/12)")
    p.add_argument("--service-node-port-range", default="30000-32767",
                   help="the range of NodePorts (default 30000-32767)")
    p.add_argument("--watch-cache", type=boolean, default=True,
                   help="serve watches and lists that need not be consistent from memory, one "
                        "etcd watch per resource (default true)")
    p.add_argument("--default-watch-cache-size", type=int, default=cacher.DEFAULT_CAPACITY,
                   help="events each resource's watch cache keeps: a watch from an older "
                        "resourceVersion gets 410 Gone (default 100; 0 turns the cache off)")
    p.add_argument("-v", "--v", type=int, default=0,
                   help="log verbosity: 2 the server's story, 3 a line per request")


def kubelet_ssl(args):
    if not args.kubelet_client_certificate:
        return None
    if args.kubelet_certificate_authority:
        ctx = pki.client_ssl_context(args.kubelet_certificate_authority,
                                     args.kubelet_client_certificate, args.kubelet_client_key)
    else:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        ctx.load_cert_chain(args.kubelet_client_certificate, args.kubelet_client_key)
    return ctx


FILE_FLAGS = ("tls_cert_file", "tls_private_key_file", "client_ca_file", "token_auth_file",
              "etcd_cafile", "etcd_certfile", "etcd_keyfile", "kubelet_client_certificate",
              "kubelet_client_key", "kubelet_certificate_authority")


def missing_file(args):
    """The first file flag naming a file that is not there, as "--flag path"."""
    for attr in FILE_FLAGS:
        path = getattr(args, attr)
        if path and not os.path.isfile(path):
            return f"--{attr.replace('_', '-')} {path}: no such file"
    return None


def main(args):
    problem = missing_file(args)
    if problem:
        print(f"kfs apiserver: {problem}", file=sys.stderr)
        return 1
    setup_logging(args.v)
    try:
        tokens = pki.read_token_file(args.token_auth_file) if args.token_auth_file else {}
        storage = st.Storage(args.etcd_servers, args.etcd_cafile, args.etcd_certfile,
                             args.etcd_keyfile)
        tls = pki.server_ssl_context(args.tls_cert_file, args.tls_private_key_file,
                                     args.client_ca_file)
        kubelet = kubelet_ssl(args)
    except (OSError, ValueError) as e:
        print(f"kfs apiserver: {e}", file=sys.stderr)
        return 1
    try:
        st.wait_ready(storage, timeout=60)
    except st.Unavailable as e:
        print(f"kfs apiserver: etcd at {args.etcd_servers} does not answer: {e}",
              file=sys.stderr)
        return 1
    advertise = args.advertise_address or (
        args.bind_address if args.bind_address not in ("0.0.0.0", "::") else None)
    ctx = server.Context(storage, tokens, args.service_cluster_ip_range,
                         args.service_node_port_range, kubelet,
                         (advertise, args.secure_port) if advertise else None,
                         args.etcd_compaction_interval, args.event_ttl,
                         args.default_watch_cache_size if args.watch_cache else 0)
    ctx.access_log = args.v >= 3
    print(f"kfs apiserver: serving on https://{args.bind_address}:{args.secure_port}, "
          f"etcd {args.etcd_servers}", flush=True)
    web.run_app(server.make_app(ctx), host=args.bind_address, port=args.secure_port,
                ssl_context=tls, print=None, handler_cancellation=True, shutdown_timeout=5,
                access_log=None)
    return 0
