"""cloud-controller-manager: the loops that ask the IaaS about Nodes and load balancers.

``kfs cloud-controller-manager --kubeconfig FILE --cloud-provider netns|vagrant
[--cloud-config FILE] [--controllers '*,-service'] ...`` runs the cloud node, cloud node
lifecycle and service controllers in one process, as ``cloud-controller-manager`` does
(``k8s.io/cloud-provider/app/controllermanager.go`` and ``options/``: flags, the provider
from ``--cloud-provider`` and ``--cloud-config``, then each enabled controller over one
shared informer factory). Flag names are upstream's.

What real Kubernetes does differently: each cloud ships its own binary built on
``k8s.io/cloud-provider/app`` (out of tree); the route controller (``--configure-cloud-routes``
with ``--allocate-node-cidrs``) programs the cloud's routes; leader election, per-controller
service-account credentials, /healthz and /metrics on port 10258.
"""
import logging
import sys

from kfs.controllers.main import duration, enabled_controllers
from kfs.util import setup_logging

log = logging.getLogger("kfs.cloud")

# name -> upstream's newer name (both are accepted by --controllers)
CONTROLLERS = {
    "cloud-node": "cloud-node-controller",
    "cloud-node-lifecycle": "cloud-node-lifecycle-controller",
    "service": "service-lb-controller",
}
EVENT_SOURCES = {"cloud-node": "cloud-node-controller",
                 "cloud-node-lifecycle": "cloud-node-lifecycle-controller",
                 "service": "service-controller"}
STARTED = "cloud controllers started:"


def add_arguments(parser):
    from kfs.cloud.cloud import cloud_provider_names
    parser.add_argument("--kubeconfig", help="kubeconfig with the API server's address and the "
                        "cloud-controller-manager's credentials (default: $KUBECONFIG)")
    parser.add_argument("--cloud-provider", required=True, choices=cloud_provider_names(),
                        help="the IaaS to ask: the netns lab or the Vagrant lab")
    parser.add_argument("--cloud-config", metavar="FILE",
                        help="the provider's configuration (JSON; written by the lab's stage)")
    parser.add_argument("--cluster-name", default="kubernetes",
                        help="the cluster's name, given to the cloud (default: kubernetes)")
    parser.add_argument("--controllers", default="*",
                        help="controllers to run: '*' for all, 'name' to add one, '-name' to "
                        f"leave one out; names: {', '.join(CONTROLLERS)} (default: *)")
    parser.add_argument("--node-monitor-period", type=duration, default=5.0, metavar="DURATION",
                        help="how often the cloud is asked about not-Ready nodes "
                        "(default: 5s)")
    parser.add_argument("--node-status-update-frequency", type=duration, default=300.0,
                        metavar="DURATION", help="how often nodes' addresses are refreshed "
                        "from the cloud (default: 5m)")
    parser.add_argument("-v", "--v", type=int, default=2, dest="verbosity",
                        help="log verbosity: 0 warnings only, 2 every action (default), 4 debug")


def build(args, client, informers, cloud_provider, recorders=None):
    """The enabled controllers over `informers` (a SharedInformers)."""
    from kfs.cloud.controllers.node import CloudNodeController
    from kfs.cloud.controllers.nodelifecycle import CloudNodeLifecycleController
    from kfs.cloud.controllers.service import ServiceController
    recorders = recorders or {}
    make = {
        "cloud-node": lambda r: CloudNodeController(
            client, informers, cloud_provider, r,
            status_update_frequency=args.node_status_update_frequency),
        "cloud-node-lifecycle": lambda r: CloudNodeLifecycleController(
            client, informers, cloud_provider, r, monitor_period=args.node_monitor_period),
        "service": lambda r: ServiceController(client, informers, cloud_provider, r,
                                               cluster_name=args.cluster_name),
    }
    built = []
    for name in enabled_controllers(args.controllers, CONTROLLERS):
        if name == "service" and cloud_provider.load_balancer() is None:
            # as upstream's startServiceController: not an error, the cloud has none
            log.warning("%s: the cloud provider %s offers no load balancers; not starting "
                        "the service controller", name, cloud_provider.provider_name())
            continue
        built.append(make[name](recorders.get(name)))
    return built


def make_client(kubeconfig):
    from kfs.client import Client
    return Client.for_component(kubeconfig, "kfs-cloud-controller-manager", pool_maxsize=16,
                                hint="the lab's is written by the stage that starts the "
                                "cloud-controller-manager: cloud-controller-manager.kubeconfig")


def main(args):
    from kfs.client import EventRecorder
    from kfs.cloud.cloud import get_cloud_provider
    from kfs.controllers.manager import ControllerManager, SharedInformers
    setup_logging(args.verbosity)
    try:
        enabled = enabled_controllers(args.controllers, CONTROLLERS)
        provider = get_cloud_provider(args.cloud_provider, cloud_config=args.cloud_config)
        client = make_client(args.kubeconfig)
        informers = SharedInformers(client)
        recorders = {n: EventRecorder(client, EVENT_SOURCES[n]) for n in enabled}
        controllers = build(args, client, informers, provider, recorders)
    except (ValueError, FileNotFoundError, KeyError) as e:
        print(f"kfs cloud-controller-manager: {e}", file=sys.stderr)
        return 2
    manager = ControllerManager(client, controllers, informers)
    return manager.serve("kfs cloud-controller-manager",
                         f"{STARTED} {', '.join(c.name for c in controllers)} "
                         f"(cloud provider {args.cloud_provider})", logger=log)
