"""The cloud node lifecycle controller: Nodes of gone machines go, stopped ones are tainted.

Mirrors ``k8s.io/cloud-provider/controllers/nodelifecycle/node_lifecycle_controller.go``
(``MonitorNodes``, ``ensureNodeExistsByProviderID``, ``shutdownInCloudProvider``). Every
``--node-monitor-period`` (the resync) each Node is looked at, ``reconcile(name)``:

1. Ready ``True``: the node is fine; a ``node.cloudprovider.kubernetes.io/shutdown`` taint
   left from an earlier stop is removed;
2. otherwise (``False`` or ``Unknown``, which kube-controller-manager's node lifecycle
   controller sets after its grace period), the cloud is asked: an instance that no longer
   exists means the machine was deleted, so its Node is deleted (event ``DeletingNode``); an
   instance that exists but is shut down gets the shutdown taint (NoSchedule), so the
   scheduler and people can tell "stopped" from "unreachable".

What real Kubernetes does differently: the pods bound to a deleted Node are then removed by
kube-controller-manager's pod garbage collector (``podgc``, orphaned pods); kfs has no
podgc yet, so they stay until deleted. Clouds without ``InstancesV2`` are asked through the
older ``Instances`` interface (by provider ID, then by name).
"""
import logging

from kfs import meta
from kfs.client import ApiError
from kfs.cloud import cloud
from kfs.controllers.manager import Controller

log = logging.getLogger("kfs.cloud.controllers.nodelifecycle")

SHUTDOWN = "node.cloudprovider.kubernetes.io/shutdown"


class CloudNodeLifecycleController(Controller):
    name = "cloud-node-lifecycle"

    def __init__(self, client, informers, cloud_provider, recorder=None, monitor_period=5.0):
        super().__init__(client, informers, recorder)
        self.instances = cloud_provider.instances_v2()
        if self.instances is None:
            raise ValueError(f"cloud provider {cloud_provider.provider_name()!r} has no "
                             "InstancesV2: the node lifecycle controller cannot run")
        self.resync_period = monitor_period
        self.node_informer = informers["nodes"].add_handler(self.on_node)

    def on_node(self, kind, node, old):
        if kind != "DELETED":
            self.enqueue(meta.name(node))

    def resync(self):
        for node in self.node_informer.list():
            self.enqueue(meta.name(node))

    def reconcile(self, name):
        node = self.node_informer.get(name)
        if node is None:
            return None
        ready = meta.get_condition(node.get("status"), "Ready")
        try:
            if ready and ready.get("status") == "True":
                self.set_shutdown_taint(node, False)
            elif not self.instances.instance_exists(node):
                self.delete_node(node)
            else:
                self.set_shutdown_taint(node, self.shut_down(node))
        except cloud.CloudError as e:
            log.warning("node %s: the cloud did not answer: %s", name, e)
        return None

    def shut_down(self, node):
        try:
            return self.instances.instance_shutdown(node)
        except cloud.InstanceNotFound:  # gone between the two questions: next round deletes
            return False

    def delete_node(self, node):
        name = meta.name(node)
        log.info("node %s: its instance no longer exists, deleting the Node", name)
        self.event(node, "Normal", "DeletingNode",
                   f"Deleting node {name} because it does not exist in the cloud provider")
        try:
            self.client.delete("nodes", name, uid=node["metadata"].get("uid"))
        except ApiError as e:
            if not (e.not_found or e.conflict):
                raise

    def set_shutdown_taint(self, node, wanted):
        taints = node.get("spec", {}).get("taints") or []
        has = any(t.get("key") == SHUTDOWN for t in taints)
        if has == wanted:
            return
        if wanted:
            kept = taints + [{"key": SHUTDOWN, "effect": "NoSchedule"}]
        else:
            kept = [t for t in taints if t.get("key") != SHUTDOWN]
        log.info("node %s: instance %s", meta.name(node),
                 "shut down, tainted" if wanted else "running again, shutdown taint removed")
        try:
            self.client.patch("nodes", meta.name(node), {
                "spec": {"taints": kept or None},
                "metadata": {"resourceVersion": node["metadata"]["resourceVersion"]}})
        except ApiError as e:
            if e.conflict:
                self.enqueue(meta.name(node))
            elif not e.not_found:
                raise
