"""The kubelet's main loop: the desired pods in, one worker per pod, orphans out.

``Kubelet.run`` is the sync loop. Whenever the merged desired set changes (``PodConfig``),
and at least every couple of seconds, ``handle_pods`` hands each desired pod to its
``PodWorker`` (a thread per pod, so a slow image pull or a 30 s grace period never holds up
other pods) and tells workers whose pod is gone (or being deleted) to terminate it.

A worker re-syncs its pod every ``sync_frequency`` seconds and whenever it is woken (a
probe flipped, the pod changed): ``Kubelet.sync`` runs ``sync_pod`` (of the
``sync.RuntimeManager``, shared by all workers) and computes the status. Terminating means
``kill_pod`` with the grace period, a last status, removing the pod's containers and
directory, and (with an API server) the final delete.

The kubelet is built with everything it talks to (``main.py`` wires it): the runtime, the
pod sources' merged set, the event recorder and, with an API server only, the pod status
writer, the final delete and the mirror pods. Nothing is plugged in later; a standalone
kubelet simply has none of the API server's parts.

``housekeeping`` is what makes the kubelet stateless: it lists every container carrying
kubelet labels and terminates those of pods no source wants any more — after a kubelet
restart, containers of pods still desired are simply adopted by their new workers.

Mirrors ``pkg/kubelet/kubelet.go`` (syncLoop, syncLoopIteration, HandlePodAdditions /
Updates / Removes, SyncPod, SyncTerminatingPod, HandlePodCleanups) and ``pod_workers.go``.

What real Kubernetes does differently: the PLEG (pod lifecycle event generator) relists the
runtime every second and wakes only the pods whose containers changed, instead of every
worker polling; pod admission (resources, node affinity) happens before a pod gets a
worker; cgroups per pod and QoS class; eviction under memory or disk pressure.
"""
import logging
import threading
import time

from kfs.kubelet import podspec, runtime as rt
from kfs.kubelet.events import Recorder
from kfs.kubelet.manifest import full_name, is_static
from kfs.kubelet.probes import ProbeManager
from kfs.kubelet.status import StatusManager, generate_pod_status, is_terminal
from kfs.kubelet.sync import RuntimeManager, grace_period

log = logging.getLogger("kubelet")

HOUSEKEEPING_PERIOD = 2.0


class PodWorker:
    """One pod's thread: sync it until told to terminate it, then terminate it and end."""

    def __init__(self, kubelet, pod):
        self.kubelet, self.pod = kubelet, pod
        self.uid = pod["metadata"]["uid"]
        self.grace = None            # set: terminate with this grace period
        self.done = threading.Event()
        self.wake = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True,
                                       name=f"pod-{pod['metadata']['name']}")
        self.thread.start()

    @property
    def terminating(self):
        return self.grace is not None

    def update(self, pod):
        self.pod = pod
        self.wake.set()

    def terminate(self, pod, grace):
        self.pod = pod
        self.grace = grace if self.grace is None else min(grace, self.grace)
        self.wake.set()

    def run(self):
        kl = self.kubelet
        try:
            while not kl.stopped.is_set():
                if self.terminating:
                    kl.terminate(self.pod, self.grace)
                    return
                if not kl.waiting_for_namesake(self):
                    try:
                        kl.sync(self.pod)
                    except Exception as e:
                        log.exception("error syncing pod %s", self.pod["metadata"]["name"])
                        kl.recorder.event(self.pod, "Warning", "FailedSync",
                                          f"error determining status: {e}")
                self.wake.wait(kl.sync_frequency)
                self.wake.clear()
        finally:
            self.done.set()
            kl.worker_done(self)


class Kubelet:
    """The sync loop and the pod workers. Built with everything it uses: the runtime, where
    the desired pods come from (`config`), the event recorder, and with an API server
    `status_writer` (pod status), `on_terminated` (the final delete) and `mirror_pods`
    (``mirror.MirrorPods``); standalone, those three are None."""

    def __init__(self, runtime, node_name, node_ip, root_dir, config=None, recorder=None,
                 pause_image="kfs/pause:1", max_backoff=300.0, sync_frequency=1.0,
                 status_writer=None, on_terminated=None, mirror_pods=None, clock=time.time,
                 dns_configurer=None):
        self.runtime, self.node_name, self.node_ip = runtime, node_name, node_ip
        self.root_dir, self.config, self.sync_frequency = root_dir, config, sync_frequency
        self.recorder = recorder or Recorder(host=node_name)
        self.probes = ProbeManager(runtime, self.recorder, on_change=self.wake_pod)
        self.runtime_manager = RuntimeManager(runtime, self.recorder, self.probes, node_ip,
                                              root_dir, pause_image, max_backoff, clock,
                                              dns_configurer)
        self.status = StatusManager(status_writer)
        self.on_terminated = on_terminated  # called with the pod after it was terminated
        self.mirror_pods = mirror_pods
        self.workers = {}     # uid -> PodWorker
        self.desired = {}     # uid -> pod (the pod manager)
        self.terminated = set()  # uids of deleted pods terminated, until their object is gone
        self.lock = threading.Lock()
        self.stopped = threading.Event()

    # -- one pod -------------------------------------------------------------------------

    def sync(self, pod):
        """syncPod: converge the pod's containers and compute its status."""
        uid = pod["metadata"]["uid"]
        old = self.status.get(uid) or (None if is_static(pod) else pod.get("status"))
        if is_terminal(old):  # Succeeded or Failed: nothing runs again
            return old
        if self.mirror_pods and is_static(pod) and self.mirror_pods.sync_mirror_pod(pod):
            self.status.rewrite(uid)  # a new mirror pod has no status yet
        containers = self.runtime_manager.sync_pod(pod)
        status = generate_pod_status(pod, containers, self.runtime_manager.reasons.snapshot(uid),
                                     self.probes, self.node_ip, old)
        if is_terminal(status):
            log.info("pod %s is %s: stopping its sandbox", pod["metadata"]["name"], status["phase"])
            self.probes.remove_pod(uid)
            self.runtime_manager.kill_pod(pod, containers, grace_period(pod))
        else:
            self.probes.update(pod, containers, status.get("podIP"))
        self.status.set(pod, status)
        return status

    def terminate(self, pod, grace):
        """SyncTerminatingPod + SyncTerminatedPod: stop everything, report, clean up."""
        uid = pod["metadata"]["uid"]
        log.info("terminating pod %s (grace period %ss)", pod["metadata"]["name"], grace)
        self.probes.remove_pod(uid)
        self.runtime_manager.kill_pod(pod, self.runtime.list_containers(uid), grace)
        containers = self.runtime.list_containers(uid)
        if pod["spec"].get("containers"):
            old = self.status.get(uid)
            status = generate_pod_status(pod, containers, {}, self.probes, self.node_ip, old)
            self.status.set(pod, status)
        for c in containers:
            self.runtime.remove_container(c.id)
        podspec.remove_pod_dir(self.root_dir, uid)
        self.runtime_manager.forget_pod(uid)
        self.recorder.forget(uid)
        with self.lock:
            self.terminated.add(uid)
        if self.on_terminated:
            self.on_terminated(pod)
        self.status.forget(uid)
        log.info("pod %s terminated", pod["metadata"]["name"])

    def wake_pod(self, uid):
        with self.lock:
            worker = self.workers.get(uid)
        if worker:
            worker.wake.set()

    def worker_done(self, worker):
        with self.lock:
            if self.workers.get(worker.uid) is worker:
                del self.workers[worker.uid]

    def waiting_for_namesake(self, worker):
        """A new pod waits while an old pod of the same name is still terminating (a changed
        static pod manifest: the old pod must free its name and host ports first)."""
        name = full_name(worker.pod)
        with self.lock:
            return any(w is not worker and w.terminating and full_name(w.pod) == name
                       for w in self.workers.values())

    # -- all pods ------------------------------------------------------------------------

    def handle_pods(self, desired):
        """Start, update and terminate pod workers to match the desired set."""
        with self.lock:
            self.desired = desired
            for uid, pod in desired.items():
                worker = self.workers.get(uid)
                if worker and worker.terminating:
                    continue  # finishes first; a new worker starts on a later pass
                if pod["metadata"].get("deletionTimestamp"):
                    if worker is None and uid not in self.terminated:
                        worker = self.workers[uid] = PodWorker(self, pod)
                    if worker:
                        worker.terminate(pod, grace_period(pod))
                elif worker:
                    worker.update(pod)
                else:
                    log.info("new pod %s", pod["metadata"]["name"])
                    self.workers[uid] = PodWorker(self, pod)
            self.terminated &= set(desired)
            for uid, worker in self.workers.items():
                if uid not in desired and not worker.terminating:
                    log.info("pod %s is gone from its source", worker.pod["metadata"]["name"])
                    worker.terminate(worker.pod, grace_period(worker.pod))

    def housekeeping(self):
        """HandlePodCleanups: terminate containers of pods nobody wants; remove stale dirs."""
        if self.config is not None and not self.config.seen_all_sources():
            return
        containers = self.runtime.list_containers()
        with self.lock:
            known = set(self.workers) | set(self.desired)
            for c in containers:
                if c.pod_uid in known:
                    continue
                known.add(c.pod_uid)
                pod = orphan_pod(c)
                log.info("found containers of pod %s which no source wants: removing them",
                         pod["metadata"]["name"])
                worker = self.workers[c.pod_uid] = PodWorker(self, pod)
                worker.terminate(pod, grace_period(pod))
        if self.mirror_pods:
            self.mirror_pods.cleanup(self.desired)
        pods_dir = podspec.pod_dir(self.root_dir, "x").parent
        for d in pods_dir.iterdir() if pods_dir.is_dir() else []:
            if d.name not in known:
                podspec.remove_pod_dir(self.root_dir, d.name)

    def run(self):
        """The sync loop (runs until `stop`)."""
        version, last_housekeeping = None, 0.0
        while not self.stopped.is_set():
            if self.config is not None:
                version = self.config.wait(version, HOUSEKEEPING_PERIOD)
                self.handle_pods(self.config.pods())
            else:
                self.stopped.wait(HOUSEKEEPING_PERIOD)
            if time.monotonic() - last_housekeeping >= HOUSEKEEPING_PERIOD:
                last_housekeeping = time.monotonic()
                try:
                    self.housekeeping()
                except rt.ContainerRuntimeError as e:
                    log.error("housekeeping: %s", e)

    def stop(self):
        self.stopped.set()
        with self.lock:
            workers = list(self.workers.values())
        for w in workers:
            w.wake.set()
        self.probes.stop()

    # -- what the kubelet's own API serves -------------------------------------------------

    def running_pods(self):
        """The desired pods with their latest status (the kubelet's /pods)."""
        with self.lock:
            pods = list(self.desired.values())
        out = []
        for pod in pods:
            pod = dict(pod)
            status = self.status.get(pod["metadata"]["uid"])
            if status:
                pod["status"] = status
            out.append(pod)
        return sorted(out, key=lambda p: (p["metadata"].get("namespace", ""),
                                          p["metadata"]["name"]))


def orphan_pod(container):
    """A stand-in pod for containers whose pod is gone: enough to kill them gracefully."""
    labels = container.labels
    return {"metadata": {"name": labels.get(rt.POD_NAME, "?"),
                         "namespace": labels.get(rt.POD_NAMESPACE, "default"),
                         "uid": container.pod_uid},
            "spec": {"containers": [],
                     "terminationGracePeriodSeconds": int(labels.get(rt.GRACE_PERIOD, 30))}}
