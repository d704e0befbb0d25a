"""kube-controller-manager: the loops that make Deployments, ReplicaSets, Endpoints true.

``kfs controller-manager --kubeconfig FILE [--controllers '*,-garbagecollector'] ...`` runs
the controllers in one process, as ``kube-controller-manager`` does
(``cmd/kube-controller-manager/app/controllermanager.go``: flags, then ``Run``, which starts
each enabled controller over one shared informer factory). Flag names are upstream's.

What real Kubernetes does differently: some forty controllers (namespace, service account,
job, cronjob, statefulset, daemonset, HPA, PV binder...), leader election so several
copies can run for high availability, per-controller service-account credentials
(``--use-service-account-credentials``), and /healthz and /metrics on port 10257. The
default tolerations are the API server's (the DefaultTolerationSeconds admission plugin,
300 s); kfs's controller-manager applies them to pods that have none, course-sized.
"""
import argparse
import logging
import re
import sys

from kfs.util import setup_logging

# name -> upstream's 1.32 name (both are accepted by --controllers)
CONTROLLERS = {
    "replicaset": "replicaset-controller",
    "deployment": "deployment-controller",
    "endpoint": "endpoints-controller",
    "endpointslice": "endpointslice-controller",
    "garbagecollector": "garbage-collector-controller",
    "nodelifecycle": "node-lifecycle-controller",
    "disruption": "disruption-controller",
    "csrapproving": "certificatesigningrequest-approving-controller",
    "csrsigning": "certificatesigningrequest-signing-controller",
    "csrcleaner": "certificatesigningrequest-cleaner-controller",
}
EVENT_SOURCES = {"replicaset": "replicaset-controller", "deployment": "deployment-controller",
                 "endpoint": "endpoint-controller", "endpointslice": "endpoint-slice-controller",
                 "garbagecollector": "garbage-collector", "nodelifecycle": "node-controller",
                 "disruption": "controllermanager", "csrapproving": "csrapproving",
                 "csrsigning": "csrsigning", "csrcleaner": "csrcleaner"}
STARTED = "controllers started:"  # logged once informers synced and workers run
DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")


def duration(text):
    """"20s", "1m", "500ms", "5" (seconds) -> seconds (Go's time.ParseDuration, a subset)."""
    m = DURATION.match(str(text).strip())
    if not m:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r} (examples: 500ms, 20s, 1m)")
    return float(m[1]) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m[2]]


def enabled_controllers(spec, controllers=None):
    """Upstream's --controllers syntax: "*" all, "name" one, "-name" not that one.
    `controllers`: {name: upstream's long name} (default: this binary's CONTROLLERS)."""
    controllers = controllers or CONTROLLERS
    wanted = set()
    aliases = {**{k: k for k in controllers}, **{v: k for k, v in controllers.items()}}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        negate = item.startswith("-")
        name = item.lstrip("-")
        if name == "*":
            wanted |= set(controllers)
            continue
        if name not in aliases:
            raise ValueError(f"--controllers: unknown controller {name!r}; known: "
                             f"{', '.join(controllers)} (or *)")
        (wanted.discard if negate else wanted.add)(aliases[name])
    return [n for n in controllers if n in wanted]


def add_arguments(parser):
    parser.add_argument("--kubeconfig", help="kubeconfig with the API server's address and the "
                        "controller manager's credentials (default: $KUBECONFIG)")
    parser.add_argument("--controllers", default="*",
                        help="controllers to run: '*' for all, 'name' to add one, '-name' to "
                        f"leave one out; names: {', '.join(CONTROLLERS)} (default: *)")
    parser.add_argument("--node-monitor-period", type=duration, default=5.0, metavar="DURATION",
                        help="how often node health is checked (default: 5s)")
    parser.add_argument("--node-monitor-grace-period", type=duration, default=20.0,
                        metavar="DURATION", help="how long a node may go without renewing its "
                        "lease before it is marked Unknown (default: 20s; upstream 40s)")
    parser.add_argument("--default-not-ready-toleration-seconds", type=int, default=20,
                        metavar="SECONDS", help="how long pods without a not-ready toleration stay on a NotReady "
                        "node (default: 20; upstream's API server adds 300)")
    parser.add_argument("--default-unreachable-toleration-seconds", type=int, default=20,
                        metavar="SECONDS", help="how long pods without an unreachable toleration stay on an "
                        "unreachable node (default: 20; upstream's API server adds 300)")
    parser.add_argument("--cluster-signing-cert-file", metavar="FILE",
                        help="the CA certificate csrsigning signs with (without it and its "
                        "key, csrsigning does not run)")
    parser.add_argument("--cluster-signing-key-file", metavar="FILE", help="its private key")
    parser.add_argument("--cluster-signing-duration", type=duration, default=8760 * 3600.0,
                        metavar="DURATION", help="the longest a signed certificate lives "
                        "(default: 8760h, one year)")
    for name, default in (("replicaset", 5), ("deployment", 5), ("endpoint", 5),
                          ("endpointslice", 5), ("gc", 20)):
        parser.add_argument(f"--concurrent-{name}-syncs", type=int, default=default, metavar="N",
                            help=f"workers of the {name} controller (default: {default})")
    parser.add_argument("-v", "--v", type=int, default=2, dest="verbosity",
                        help="log verbosity: 0 warnings only, 2 every action (default), 4 debug")


def build(args, client, informers, recorders=None):
    """The enabled controllers over `informers` (a SharedInformers)."""
    from kfs.controllers.csrcleaner import CSRCleaner
    from kfs.controllers.deployment import DeploymentController
    from kfs.controllers.disruption import DisruptionController
    from kfs.controllers.endpoints import EndpointsController
    from kfs.controllers.endpointslice import EndpointSliceController
    from kfs.controllers.garbagecollector import GarbageCollector
    from kfs.controllers.nodelifecycle import NodeLifecycleController
    from kfs.controllers.replicaset import ReplicaSetController
    from kfs.controllers.sarapprove import SARApprover
    from kfs.controllers.signer import CSRSigningController
    recorders = recorders or {}
    make = {
        "replicaset": lambda r: ReplicaSetController(client, informers, r,
                                                     workers=args.concurrent_replicaset_syncs),
        "deployment": lambda r: DeploymentController(client, informers, r,
                                                     workers=args.concurrent_deployment_syncs),
        "endpoint": lambda r: EndpointsController(client, informers, r,
                                                  workers=args.concurrent_endpoint_syncs),
        "endpointslice": lambda r: EndpointSliceController(
            client, informers, r, workers=args.concurrent_endpointslice_syncs),
        "garbagecollector": lambda r: GarbageCollector(client, informers, r,
                                                       workers=args.concurrent_gc_syncs),
        "nodelifecycle": lambda r: NodeLifecycleController(
            client, informers, r, grace_period=args.node_monitor_grace_period,
            monitor_period=args.node_monitor_period,
            default_not_ready_toleration=args.default_not_ready_toleration_seconds,
            default_unreachable_toleration=args.default_unreachable_toleration_seconds),
        "disruption": lambda r: DisruptionController(client, informers, r),
        "csrapproving": lambda r: SARApprover(client, informers, r),
        "csrsigning": lambda r: CSRSigningController(
            client, informers, r, args.cluster_signing_cert_file,
            args.cluster_signing_key_file, args.cluster_signing_duration),
        "csrcleaner": lambda r: CSRCleaner(client, informers, r),
    }
    return [make[name](recorders.get(name)) for name in runnable(args)]


def runnable(args):
    """The enabled controllers that can run: csrsigning needs the CA's files (upstream
    starts it without a signer then, and logs so)."""
    names = enabled_controllers(args.controllers)
    if "csrsigning" in names and not (getattr(args, "cluster_signing_cert_file", None)
                                      and getattr(args, "cluster_signing_key_file", None)):
        logging.getLogger("kfs.controllers").warning(
            "csrsigning: not started, no --cluster-signing-cert-file and -key-file")
        names.remove("csrsigning")
    return names


def make_client(kubeconfig):
    from kfs.client import Client
    # informers' watches, workers and the event recorder share one connection pool
    return Client.for_component(kubeconfig, "kfs-controller-manager", pool_maxsize=64,
                                hint="the lab's is written by `kfs lab up --stage apiserver`: "
                                "kube-controller-manager.kubeconfig")


def main(args):
    from kfs.client import EventRecorder
    from kfs.controllers.manager import ControllerManager, SharedInformers
    setup_logging(args.verbosity)
    try:
        enabled = runnable(args)
        client = make_client(args.kubeconfig)
    except (ValueError, FileNotFoundError, KeyError) as e:
        print(f"kfs controller-manager: {e}", file=sys.stderr)
        return 2
    informers = SharedInformers(client)
    recorders = {n: EventRecorder(client, EVENT_SOURCES[n]) for n in enabled}
    manager = ControllerManager(client, build(args, client, informers, recorders), informers)
    return manager.serve("kfs controller-manager", f"{STARTED} {', '.join(enabled)}")
