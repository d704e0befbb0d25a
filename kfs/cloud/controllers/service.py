"""The service controller: a Service of type LoadBalancer gets a load balancer from the cloud.

Mirrors ``k8s.io/cloud-provider/controllers/service/controller.go`` (``syncService``,
``processServiceCreateOrUpdate``, ``processLoadBalancerDelete``, ``nodeSyncInternal``,
``nodeIncludedPredicate``), shrunk. ``reconcile("namespace/name")``:

- a Service that wants a load balancer (``spec.type: LoadBalancer``, not being deleted) first
  gets the finalizer ``service.kubernetes.io/load-balancer-cleanup``, so that its deletion
  waits for the cleanup; then ``EnsureLoadBalancer`` with the eligible nodes, and the answer
  goes into ``status.loadBalancer`` (``kubectl get svc`` shows it as EXTERNAL-IP);
- a Service that has the finalizer but no longer wants one (deleted, or its type changed):
  ``EnsureLoadBalancerDeleted``, ``status.loadBalancer`` cleared, then the finalizer removed,
  so the API server can finish deleting it.

When the set of eligible nodes changes (a node joins, leaves, or its address changes), every
load-balanced Service's load balancer is pointed at the new set (``UpdateLoadBalancer``,
the key ``NODE_SYNC``). Eligible: not labelled
``node.kubernetes.io/exclude-from-external-load-balancers``, not tainted
``ToBeDeletedByClusterAutoscaler``, and (kfs) initialized by the cloud node controller.

What real Kubernetes does differently: a failed sync is retried with exponential backoff
and an event (``SyncLoadBalancerFailed``); ``spec.loadBalancerClass`` hands a Service to
another controller; the node sync runs every ``--node-sync-period`` as well as on changes;
annotations choose the cloud's load balancer kind.
"""
import copy
import logging

from kfs import meta
from kfs.cloud import cloud
from kfs.cloud.controllers.node import UNINITIALIZED
from kfs.controllers.manager import Controller

log = logging.getLogger("kfs.cloud.controllers.service")

FINALIZER = "service.kubernetes.io/load-balancer-cleanup"
EXCLUDE_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
TO_BE_DELETED = "ToBeDeletedByClusterAutoscaler"
NODE_SYNC = "@nodes"  # not a namespace/name: the "nodes changed" work item
RETRY = 5.0


def wants_load_balancer(service):
    return service["spec"].get("type") == "LoadBalancer" and \
        not service["metadata"].get("deletionTimestamp")


def has_finalizer(service):
    return FINALIZER in (service["metadata"].get("finalizers") or [])


def node_included(node):
    """nodeIncludedPredicate, plus: the cloud node controller has initialized it."""
    if EXCLUDE_LABEL in (node["metadata"].get("labels") or {}):
        return False
    return not any(t.get("key") in (TO_BE_DELETED, UNINITIALIZED)
                   for t in node.get("spec", {}).get("taints") or [])


def needs_update(old, new):
    """needsUpdate, shrunk: what the load balancer is made of changed (not, say, the status
    this controller just wrote)."""
    o, n = old["metadata"], new["metadata"]
    return (old.get("spec") != new.get("spec")
            or o.get("deletionTimestamp") != n.get("deletionTimestamp")
            or o.get("annotations") != n.get("annotations") or o.get("uid") != n.get("uid"))


class ServiceController(Controller):
    name = "service"

    def __init__(self, client, informers, cloud_provider, recorder=None,
                 cluster_name="kubernetes"):
        super().__init__(client, informers, recorder)
        self.balancers = cloud_provider.load_balancer()
        if self.balancers is None:
            raise ValueError(f"cloud provider {cloud_provider.provider_name()!r} has no "
                             "LoadBalancer: the service controller cannot run")
        self.cluster_name = cluster_name
        self.known_nodes = None  # what the load balancers were last pointed at
        self.service_informer = informers["services"].add_handler(self.on_service)
        self.node_informer = informers["nodes"].add_handler(self.on_node)

    # -- handlers -------------------------------------------------------------------------------

    def on_service(self, kind, service, old):
        if kind == "DELETED" or not (wants_load_balancer(service) or has_finalizer(service)):
            return
        if old is None or needs_update(old, service):
            self.enqueue(service)

    def on_node(self, kind, node, old):
        self.enqueue(NODE_SYNC)

    # -- the sync ---------------------------------------------------------------------------------

    def reconcile(self, key):
        if key == NODE_SYNC:
            return self.sync_nodes()
        cached = self.service_informer.get(key)
        if cached is None:
            return None
        service = copy.deepcopy(cached)
        try:
            if wants_load_balancer(service):
                self.ensure(service)
            elif has_finalizer(service):
                self.delete(service)
        except cloud.CloudError as e:
            log.warning("service %s: %s", key, e)
            self.event(cached, "Warning", "SyncLoadBalancerFailed", f"Error syncing load "
                       f"balancer: {e}")
            return RETRY
        return None

    def eligible_nodes(self):
        return sorted((n for n in self.node_informer.list() if node_included(n)),
                      key=meta.name)

    def ensure(self, service):
        if not has_finalizer(service):
            service = self.patch_finalizers(service, [*(service["metadata"].get("finalizers")
                                                         or []), FINALIZER])
        self.event(service, "Normal", "EnsuringLoadBalancer", "Ensuring load balancer")
        status = self.balancers.ensure_load_balancer(self.cluster_name, service,
                                                     self.eligible_nodes())
        self.event(service, "Normal", "EnsuredLoadBalancer", "Ensured load balancer")
        self.patch_status(service, status)

    def delete(self, service):
        self.event(service, "Normal", "DeletingLoadBalancer", "Deleting load balancer")
        self.balancers.ensure_load_balancer_deleted(self.cluster_name, service)
        self.event(service, "Normal", "DeletedLoadBalancer", "Deleted load balancer")
        if not service["metadata"].get("deletionTimestamp"):
            service = self.patch_status(service, {})
        self.patch_finalizers(service, [f for f in service["metadata"]["finalizers"]
                                        if f != FINALIZER])

    def patch_finalizers(self, service, finalizers):
        md = service["metadata"]
        return self.client.patch("services", md["name"], {"metadata": {
            "finalizers": finalizers or None, "resourceVersion": md["resourceVersion"]}},
            namespace=md["namespace"])

    def patch_status(self, service, status):
        if (service.get("status") or {}).get("loadBalancer", {}) == status:
            return service
        md = service["metadata"]
        log.info("service %s/%s: load balancer %s", md["namespace"], md["name"],
                 ", ".join(i.get("ip") or i.get("hostname") for i in status.get("ingress", []))
                 or "none")
        return self.client.patch("services", md["name"], {"status": {"loadBalancer": status or
                                                                     None}},
                                 namespace=md["namespace"], subresource="status")

    # -- nodes changing ------------------------------------------------------------------------------

    def sync_nodes(self):
        nodes = self.eligible_nodes()
        seen = [(meta.name(n), [a.get("address") for a in n.get("status", {}).get("addresses")
                                or []]) for n in nodes]
        if seen == self.known_nodes:
            return None
        retry = None
        for service in self.service_informer.list():
            if not (wants_load_balancer(service) and has_finalizer(service)):
                continue
            try:
                self.balancers.update_load_balancer(self.cluster_name, service, nodes)
                self.event(service, "Normal", "UpdatedLoadBalancer",
                           "Updated load balancer with new hosts")
            except cloud.CloudError as e:  # e.g. not ensured yet: its own sync will do it
                log.warning("service %s: %s", meta.key(service), e)
                retry = RETRY
        if retry is None:
            self.known_nodes = seen
        return retry
