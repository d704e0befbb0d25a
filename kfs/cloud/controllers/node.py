"""The cloud node controller: a Node the cloud has not described yet gets its description.

Mirrors ``k8s.io/cloud-provider/controllers/node/node_controller.go`` (``syncNode``,
``getNodeModifiersFromCloudProvider``, ``UpdateNodeStatus``), shrunk. A kubelet started
with ``--cloud-provider=external`` registers its Node with the taint
``node.cloudprovider.kubernetes.io/uninitialized:NoSchedule`` (nothing is scheduled there
yet). ``reconcile(name)`` for such a Node asks the cloud's ``InstancesV2`` for the instance's
metadata and writes it:

- ``status.addresses``: the cloud's addresses (InternalIP, ExternalIP, Hostname);
- ``spec.providerID`` (``kfs://<lab>/<machine>``), if the Node has none;
- labels ``node.kubernetes.io/instance-type``, ``topology.kubernetes.io/zone`` and
  ``topology.kubernetes.io/region`` (and their deprecated ``beta.kubernetes.io/instance-type``
  and ``failure-domain.beta.kubernetes.io/*`` twins, as upstream still writes them);

then removes the taint, in the same update. Nodes already initialized have their addresses
refreshed every ``--node-status-update-frequency`` (the resync).

What real Kubernetes does differently: the kubelet's ``--node-ip`` (the
``alpha.kubernetes.io/provided-node-ip`` annotation) filters the cloud's addresses; an
instance the cloud does not know yet is retried with backoff, and a node whose instance
never appears stays tainted; ``InstancesV2.InstanceMetadata`` may also return extra labels
and additional addresses.
"""
import copy
import logging

from kfs import meta
from kfs.client import ApiError
from kfs.cloud import cloud
from kfs.controllers.manager import Controller

log = logging.getLogger("kfs.cloud.controllers.node")

UNINITIALIZED = "node.cloudprovider.kubernetes.io/uninitialized"
INSTANCE_TYPE = "node.kubernetes.io/instance-type"
ZONE = "topology.kubernetes.io/zone"
REGION = "topology.kubernetes.io/region"
BETA = {INSTANCE_TYPE: "beta.kubernetes.io/instance-type",
        ZONE: "failure-domain.beta.kubernetes.io/zone",
        REGION: "failure-domain.beta.kubernetes.io/region"}
RETRY = 5.0


def is_uninitialized(node):
    return any(t.get("key") == UNINITIALIZED for t in node.get("spec", {}).get("taints") or [])


class CloudNodeController(Controller):
    name = "cloud-node"

    def __init__(self, client, informers, cloud_provider, recorder=None,
                 status_update_frequency=300.0):
        super().__init__(client, informers, recorder)
        self.instances = cloud_provider.instances_v2()
        if self.instances is None:
            raise ValueError(f"cloud provider {cloud_provider.provider_name()!r} has no "
                             "InstancesV2: the node controller cannot run")
        self.resync_period = status_update_frequency
        self.node_informer = informers["nodes"].add_handler(self.on_node)

    def on_node(self, kind, node, old):
        if kind != "DELETED" and is_uninitialized(node):
            self.enqueue(meta.name(node))

    def resync(self):
        for node in self.node_informer.list():
            self.enqueue(meta.name(node))

    def reconcile(self, name):
        cached = self.node_informer.get(name)
        if cached is None:
            return None
        try:
            md = self.instances.instance_metadata(cached)
        except cloud.InstanceNotFound as e:
            log.warning("node %s: %s", name, e)
            return RETRY if is_uninitialized(cached) else None
        except cloud.CloudError as e:
            log.warning("node %s: the cloud did not answer: %s", name, e)
            return RETRY
        try:
            node = self.update_addresses(copy.deepcopy(cached), md.node_addresses)
            if is_uninitialized(node):
                self.initialize(node, md)
        except ApiError as e:
            if not e.conflict:
                raise
            self.enqueue(name)  # someone else wrote it: again, from the informer's copy
        return None

    def update_addresses(self, node, addresses):
        if not addresses or node.get("status", {}).get("addresses") == addresses:
            return node
        node.setdefault("status", {})["addresses"] = copy.deepcopy(addresses)
        log.info("node %s: addresses %s", meta.name(node),
                 ", ".join(f"{a['type']}={a['address']}" for a in addresses))
        return self.client.update_status(node)

    def initialize(self, node, md):
        spec, labels = node.setdefault("spec", {}), node["metadata"].setdefault("labels", {})
        if not spec.get("providerID"):
            spec["providerID"] = md.provider_id
        for key, value in ((INSTANCE_TYPE, md.instance_type), (ZONE, md.zone),
                           (REGION, md.region)):
            if value:
                labels[key] = labels[BETA[key]] = value
        spec["taints"] = [t for t in spec.get("taints") or [] if t.get("key") != UNINITIALIZED]
        if not spec["taints"]:
            del spec["taints"]
        self.client.replace(node)
        log.info("node %s initialized: providerID %s, zone %s, instance type %s",
                 meta.name(node), spec["providerID"], md.zone or "-", md.instance_type or "-")
        self.event(node, "Normal", "Synced", "Node synced successfully")
