"""The kubelet's Node and its Lease: registration, node status, heartbeats.

With ``--kubeconfig`` (identity ``system:node:<name>``, group ``system:nodes``) the kubelet:

- **registers its Node**: capacity and allocatable (cpu, memory, pods, ephemeral-storage),
  addresses (``InternalIP`` = ``--node-ip``, ``Hostname``), ``nodeInfo`` (kernel, OS, Docker
  and kubelet versions), ``daemonEndpoints`` (port 10250, where the API server finds
  ``/containerLogs``) and conditions, ``Ready`` among them; the status is posted again
  every ``--node-status-update-frequency``;
- with ``--cloud-provider=external``, **leaves its description to the cloud**: the Node
  registers with the taint ``node.cloudprovider.kubernetes.io/uninitialized=true:NoSchedule``
  and the annotation ``alpha.kubernetes.io/provided-node-ip``; the cloud-controller-manager
  sets providerID, addresses, zone and instance type, then removes the taint; the kubelet
  stops posting addresses once a Node it finds has the cloud's (upstream's NodeAddress
  setter);
- **heartbeats** by renewing the Lease ``kube-node-lease/<node>`` every quarter of
  ``--node-lease-duration-seconds``: a kubelet that stops renewing it is, to the node
  lifecycle controller, a node gone.

``NodeStatus`` does both in one thread; it is built with what it reads (the runtime for
Docker's version, the node's name, IP and root directory) and knows nothing of the pods.
The rest of what the kubelet tells the API server lives elsewhere: pod status and the final
delete in ``status.py``, mirror pods in ``mirror.py``, events in ``events.py``; ``main.py``
wires them together.

Mirrors ``pkg/kubelet/kubelet_node_status.go`` (registerWithAPIServer, setNodeStatus),
``pkg/kubelet/nodestatus/setters.go`` and the node lease controller
(``pkg/kubelet/nodelease``, now ``k8s.io/component-helpers/apimachinery/lease``).

What real Kubernetes does differently: the node status is posted only on change (or every
5 minutes) since the Lease carries the heartbeat, and the Lease is renewed by a controller
of its own; allocatable subtracts reserved resources and eviction thresholds; the
NodeRestriction admission plugin limits a kubelet to its own Node and pods; the kubelet's
client certificate is bootstrapped and rotated through CSRs.
"""
import copy
import logging
import os
import platform
import shutil
import threading
import time
from datetime import datetime, timezone

from kfs import meta, versions

log = logging.getLogger("kubelet.node")

LEASE_NAMESPACE = "kube-node-lease"
UNINITIALIZED_TAINT = "node.cloudprovider.kubernetes.io/uninitialized"
PROVIDED_NODE_IP = "alpha.kubernetes.io/provided-node-ip"
MAX_PODS = 110


def micro_now():
    """metav1.MicroTime: what a Lease's renewTime is written in."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _read(path, default=""):
    try:
        return open(path).read().strip()
    except OSError:
        return default


def capacity(root_dir):
    mem_kib = next((int(line.split()[1]) for line in _read("/proc/meminfo").splitlines()
                    if line.startswith("MemTotal:")), 0)
    disk_kib = shutil.disk_usage(root_dir if os.path.exists(root_dir) else "/").total // 1024
    return {"cpu": str(os.cpu_count() or 1), "memory": f"{mem_kib}Ki", "pods": str(MAX_PODS),
            "ephemeral-storage": f"{disk_kib}Ki"}


def node_info(docker_version):
    os_release = dict(line.split("=", 1) for line in _read("/etc/os-release").splitlines()
                      if "=" in line)
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    machine_id = _read("/etc/machine-id")
    return {"machineID": machine_id,
            "systemUUID": _read("/sys/class/dmi/id/product_uuid", machine_id),
            "bootID": _read("/proc/sys/kernel/random/boot_id"),
            "kernelVersion": platform.release(),
            "osImage": os_release.get("PRETTY_NAME", "Linux").strip('"'),
            "containerRuntimeVersion": f"docker://{docker_version}",
            "kubeletVersion": versions.KUBERNETES_GIT_VERSION,
            "kubeProxyVersion": versions.KUBERNETES_GIT_VERSION,
            "operatingSystem": "linux", "architecture": arch}


class NodeStatus:
    """The Node object and the Lease of this kubelet (registration and heartbeats)."""

    def __init__(self, client, name, node_ip, root_dir, runtime, port=10250,
                 status_frequency=10.0, lease_duration=40, clock=time.time,
                 external_cloud_provider=False):
        self.client, self.name, self.node_ip, self.root_dir = client, name, node_ip, root_dir
        self.external_cloud_provider = external_cloud_provider
        self.cloud_set_addresses = False  # the Node had addresses when we registered
        self.runtime, self.port, self.clock = runtime, port, clock
        self.status_frequency, self.lease_duration = status_frequency, lease_duration
        self.node_uid, self.lease, self.conditions = None, None, []
        self.stopped = threading.Event()

    def runtime_ready(self):
        try:
            return self.runtime.version().get("Version", "?")
        except Exception:
            return None

    def status(self):
        docker = self.runtime_ready()
        status = {"conditions": self.conditions}
        now = meta.now()
        for type_, reason, message in (
                ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available")):
            meta.set_condition(status, type_, False, reason, message, lastHeartbeatTime=now)
        if docker:
            meta.set_condition(status, "Ready", True, "KubeletReady",
                               "kubelet is posting ready status", lastHeartbeatTime=now)
        else:
            meta.set_condition(status, "Ready", False, "KubeletNotReady",
                               "container runtime is down", lastHeartbeatTime=now)
        cap = capacity(str(self.root_dir))
        status.update(capacity=cap, allocatable=dict(cap),
                      daemonEndpoints={"kubeletEndpoint": {"Port": self.port}},
                      nodeInfo=node_info(docker or "unknown"))
        if not self.cloud_set_addresses:
            status["addresses"] = self.addresses()
        self.conditions = status["conditions"]
        return status

    def addresses(self):
        """NodeAddress's setter: --node-ip as InternalIP, and the Hostname."""
        found = [{"type": "InternalIP", "address": self.node_ip}] if self.node_ip else []
        return found + [{"type": "Hostname", "address": self.name}]

    def node_object(self):
        """initialNode: with --cloud-provider=external, tainted uninitialized (NoSchedule)
        until the cloud-controller-manager has described it, and the node IP given as an
        annotation for the cloud to honour."""
        arch = node_info("")["architecture"]
        annotations = {"node.alpha.kubernetes.io/ttl": "0"}
        spec = {}
        if self.external_cloud_provider:
            spec["taints"] = [{"key": UNINITIALIZED_TAINT, "value": "true",
                               "effect": "NoSchedule"}]
            if self.node_ip:
                annotations[PROVIDED_NODE_IP] = self.node_ip
        return {"apiVersion": "v1", "kind": "Node", "metadata": {
            "name": self.name, "labels": {
                "kubernetes.io/hostname": self.name, "kubernetes.io/os": "linux",
                "kubernetes.io/arch": arch, "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": arch},
            "annotations": annotations},
            "spec": spec, "status": self.status()}

    def register(self):
        """registerWithAPIServer: create the Node, or take over the one that exists."""
        from kfs.client import ApiError
        try:
            node = self.client.create(self.node_object())
            log.info("registered node %s", self.name)
        except ApiError as e:
            if e.code != 409:
                raise
            node = self.client.get("nodes", self.name)
            log.info("node %s was registered already", self.name)
            node = self.reconcile_provided_node_ip(node)
        self.node_uid = node["metadata"]["uid"]
        # upstream's NodeAddress setter: with an external cloud, addresses already on the
        # Node are the cloud's to keep (the kubelet wrote only the first ones)
        self.cloud_set_addresses = self.external_cloud_provider and bool(
            node.get("status", {}).get("addresses")) and bool(node["spec"].get("providerID"))
        self.update_status()

    def reconcile_provided_node_ip(self, node):
        """With an external cloud, the Node found says our --node-ip too (upstream's
        NodeAddress setter writes the annotation at every status update)."""
        annotations = node["metadata"].get("annotations") or {}
        if not (self.external_cloud_provider and self.node_ip) or \
                annotations.get(PROVIDED_NODE_IP) == self.node_ip:
            return node
        return self.client.patch("nodes", self.name, {"metadata": {"annotations": {
            PROVIDED_NODE_IP: self.node_ip}}})

    def update_status(self):
        self.client.patch("nodes", self.name, {"status": self.status()}, subresource="status")

    def lease_object(self):
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.name, "namespace": LEASE_NAMESPACE,
                             "ownerReferences": [{"apiVersion": "v1", "kind": "Node",
                                                  "name": self.name, "uid": self.node_uid}]},
                "spec": {"holderIdentity": self.name,
                         "leaseDurationSeconds": self.lease_duration, "renewTime": micro_now()}}

    def renew_lease(self):
        """Update the Lease's renewTime (create it the first time)."""
        from kfs.client import ApiError
        try:
            if self.lease is None:
                self.lease = self.client.get("leases", self.name, LEASE_NAMESPACE)
            lease = copy.deepcopy(self.lease)
            lease["spec"].update(holderIdentity=self.name, renewTime=micro_now(),
                                 leaseDurationSeconds=self.lease_duration)
            self.lease = self.client.replace(lease)
        except ApiError as e:
            self.lease = None
            if e.code == 404:
                self.lease = self.client.create(self.lease_object())
            elif e.code != 409:  # 409: someone else wrote it; read it again next time
                raise

    def run(self):
        renew_every = max(self.lease_duration / 4, 0.5)
        next_status = 0.0
        while not self.stopped.is_set():
            try:
                if self.node_uid is None:
                    self.register()
                    next_status = self.clock() + self.status_frequency
                elif self.clock() >= next_status:
                    self.update_status()
                    next_status = self.clock() + self.status_frequency
                self.renew_lease()
            except Exception as e:  # the API server may be away: keep trying
                log.warning("node %s: %s", self.name, e)
            self.stopped.wait(renew_every if self.lease else 1.0)  # not there yet: soon again

    def start(self):
        threading.Thread(target=self.run, name="node-status", daemon=True).start()
        return self

    def stop(self):
        self.stopped.set()
