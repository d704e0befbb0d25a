"""The kubelet and the API server: the Node, its Lease, pod status, mirror pods, events.

With ``--kubeconfig`` (identity ``system:node:<name>``, group ``system:nodes``) the kubelet:

- **registers its Node**: capacity and allocatable (cpu, memory, pods, ephemeral-storage),
  addresses (``InternalIP`` = ``--node-ip``, ``Hostname``), ``nodeInfo`` (kernel, OS, Docker
  and kubelet versions), ``daemonEndpoints`` (port 10250, where the API server finds
  ``/containerLogs``) and conditions, ``Ready`` among them; the status is posted again
  every ``--node-status-update-frequency``;
- **heartbeats** by renewing the Lease ``kube-node-lease/<node>`` every quarter of
  ``--node-lease-duration-seconds``: a kubelet that stops renewing it is, to the node
  lifecycle controller, a node gone;
- runs the **pods bound to it** (``sources.APISource``), writes their status to
  ``pods/<name>/status``, and after a graceful termination makes the **final delete**;
- gives each static pod a **mirror pod** (annotation ``kubernetes.io/config.mirror``) so
  that ``kubectl get pods`` shows it, and deletes mirror pods whose static pod is gone;
- writes its **Events** (``kubectl describe pod`` shows them).

Mirrors ``pkg/kubelet/kubelet_node_status.go`` (registerWithAPIServer, setNodeStatus),
``pkg/kubelet/nodelease``, ``pkg/kubelet/pod/mirror_client.go``, the status manager's
``syncPod`` in ``pkg/kubelet/status``, and ``pkg/kubelet/nodestatus/setters.go``.

What real Kubernetes does differently: the node status is posted only on change (or every
5 minutes) since the Lease carries the heartbeat; allocatable subtracts reserved resources
and eviction thresholds; the NodeRestriction admission plugin limits a kubelet to its own
Node and pods; the kubelet's client certificate is bootstrapped and rotated through CSRs.
"""
import copy
import logging
import os
import platform
import shutil
import threading
from datetime import datetime, timezone

from kfs import meta, versions
from kfs.kubelet import manifest

log = logging.getLogger("kubelet.node")

LEASE_NAMESPACE = "kube-node-lease"
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

    def __init__(self, kubelet, client, port=10250, status_frequency=10.0, lease_duration=40):
        self.kl, self.client, self.port = kubelet, client, port
        self.status_frequency, self.lease_duration = status_frequency, lease_duration
        self.node_uid, self.lease, self.conditions = None, None, []
        self.stopped = threading.Event()

    @property
    def name(self):
        return self.kl.node_name

    def runtime_ready(self):
        try:
            return self.kl.runtime.version().get("Version", "?")
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
        cap = capacity(str(self.kl.root_dir))
        addresses = [{"type": "InternalIP", "address": self.kl.node_ip}] if self.kl.node_ip else []
        status.update(capacity=cap, allocatable=dict(cap),
                      addresses=addresses + [{"type": "Hostname", "address": self.name}],
                      daemonEndpoints={"kubeletEndpoint": {"Port": self.port}},
                      nodeInfo=node_info(docker or "unknown"))
        self.conditions = status["conditions"]
        return status

    def node_object(self):
        arch = node_info("")["architecture"]
        return {"apiVersion": "v1", "kind": "Node", "metadata": {
            "name": self.name, "labels": {
                "kubernetes.io/hostname": self.name, "kubernetes.io/os": "linux",
                "kubernetes.io/arch": arch, "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": arch},
            "annotations": {"node.alpha.kubernetes.io/ttl": "0"}},
            "spec": {}, "status": self.status()}

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
        self.node_uid = node["metadata"]["uid"]
        self.update_status()

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
                    next_status = self.kl.clock() + self.status_frequency
                elif self.kl.clock() >= next_status:
                    self.update_status()
                    next_status = self.kl.clock() + self.status_frequency
                self.renew_lease()
            except Exception as e:  # the API server may be away: keep trying
                log.warning("node %s: %s", self.name, e)
            self.stopped.wait(renew_every if self.lease else 1.0)  # not there yet: soon again

    def start(self):
        threading.Thread(target=self.run, name="node-status", daemon=True).start()
        return self

    def stop(self):
        self.stopped.set()


class ApiPods:
    """Pod status writes, final deletes and mirror pods, for the kubelet's pods."""

    def __init__(self, kubelet, client, source, node_status):
        self.kl, self.client, self.source, self.node = kubelet, client, source, node_status

    def _mirror(self, pod):
        return self.source.mirror_pod(pod["metadata"].get("namespace", "default"),
                                      pod["metadata"]["name"])

    def write_status(self, pod, status):
        """PATCH pods/<name>/status (of the mirror pod, for a static pod)."""
        m = pod["metadata"]
        if manifest.is_static(pod):
            if not self._mirror(pod):
                raise LookupError(f"no mirror pod for {m['name']} yet")
        elif not self.source.has_pod(m.get("namespace", "default"), m["name"], m["uid"]):
            return  # deleted from the API server: nobody to tell
        body = {"status": {"podIP": None, "podIPs": None, **status}}
        self.client.patch("pods", m["name"], body, m.get("namespace", "default"),
                          subresource="status")

    def involved(self, pod):
        """What an event is about: for a static pod, its mirror pod."""
        mirror = self._mirror(pod) if manifest.is_static(pod) else None
        pod = mirror or pod
        return {**pod, "kind": "Pod", "apiVersion": "v1"}

    def terminated(self, pod):
        """After a graceful termination: the final delete (or the mirror pod's delete)."""
        from kfs.client import ApiError
        m = pod["metadata"]
        if manifest.is_static(pod):
            mirror = self._mirror(pod)
            if mirror:
                self.delete_mirror(mirror)
            return
        target = pod if m.get("deletionTimestamp") else None
        if not target:
            return
        try:
            self.client.delete("pods", m["name"], m.get("namespace", "default"),
                               grace_period_seconds=0, uid=target["metadata"]["uid"])
        except ApiError as e:
            if e.code not in (404, 409):
                log.warning("could not delete pod %s: %s", m["name"], e)

    def sync_mirror_pod(self, pod):
        """Create the static pod's mirror pod; one from an older manifest, or one being
        deleted (``kubectl delete``), is deleted for good and made again."""
        from kfs.client import ApiError
        mirror = self._mirror(pod)
        digest = pod["metadata"]["annotations"][manifest.CONFIG_HASH]
        try:
            if mirror and (mirror["metadata"].get("deletionTimestamp") or
                           meta.annotations(mirror).get(manifest.CONFIG_MIRROR) != digest):
                log.info("mirror pod %s is out of date or deleted: replacing it",
                         pod["metadata"]["name"])
                self.delete_mirror(mirror)
                mirror = None
            if not mirror:
                self.client.create(self.mirror_object(pod))
                self.kl.status.rewrite(pod["metadata"]["uid"])
                log.info("created mirror pod %s", pod["metadata"]["name"])
        except ApiError as e:
            if e.code not in (404, 409):
                log.warning("mirror pod %s: %s", pod["metadata"]["name"], e)

    def mirror_object(self, pod):
        m = pod["metadata"]
        annotations = {**(m.get("annotations") or {}),
                       manifest.CONFIG_MIRROR: m["annotations"][manifest.CONFIG_HASH]}
        owner = [{"apiVersion": "v1", "kind": "Node", "name": self.kl.node_name,
                  "uid": self.node.node_uid, "controller": True}] if self.node.node_uid else []
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": m["name"], "namespace": m.get("namespace", "default"),
            "labels": m.get("labels") or {}, "annotations": annotations,
            "ownerReferences": owner}, "spec": copy.deepcopy(pod["spec"])}

    def cleanup(self, desired):
        """Delete mirror pods whose static pod is gone (HandlePodCleanups)."""
        static = {manifest.full_name(p) for p in desired.values() if manifest.is_static(p)}
        for mirror in self.source.mirror_pods():
            if manifest.full_name(mirror) not in static:
                log.info("deleting orphaned mirror pod %s", mirror["metadata"]["name"])
                self.delete_mirror(mirror)

    def delete_mirror(self, mirror):
        """A mirror pod goes at once (grace period 0): nothing runs behind it to stop."""
        from kfs.client import ApiError
        try:
            self.client.delete("pods", mirror["metadata"]["name"], mirror["metadata"]["namespace"],
                               grace_period_seconds=0, uid=mirror["metadata"]["uid"])
        except ApiError as e:
            if e.code not in (404, 409):
                log.warning("could not delete mirror pod %s: %s", mirror["metadata"]["name"], e)


def connect(kubelet, config, args):
    """Wire the kubelet to the API server of `args.kubeconfig`; return what to stop."""
    from kfs.client import Client, EventRecorder
    from kfs.kubelet.sources import APISource
    client = Client.from_kubeconfig(args.kubeconfig, user_agent=f"kubelet/{kubelet.node_name}")
    node_status = NodeStatus(kubelet, client, args.port, args.node_status_update_frequency,
                             args.node_lease_duration_seconds)
    source = APISource(config, kubelet.node_name, client)
    api = ApiPods(kubelet, client, source, node_status)
    events = EventRecorder(client, "kubelet", host=kubelet.node_name)
    kubelet.status.writer = api.write_status
    kubelet.recorder.sink = lambda pod, type_, reason, message, *_: events.event(
        api.involved(pod), type_, reason, message)
    kubelet.on_terminated = api.terminated
    kubelet.mirror_pods = api
    log.info("using the API server at %s as node %s", client.server, kubelet.node_name)
    return [node_status.start(), source.start()]
