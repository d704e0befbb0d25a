"""``sync_pod``: make one pod's containers in the runtime match the pod's spec.

Each call looks at what runs (``runtime.list_containers(uid)``), decides what to do
(``compute_pod_actions``), and does it, in upstream's order:

1. if the sandbox is missing or dead (or there are two), kill everything of the pod and
   create a new sandbox with the pod's DNS config (``kfs.kubelet.dns``) (a pod whose
   ``restartPolicy`` is Never and whose containers have
   run gets no second sandbox: it is finished);
2. kill containers whose spec changed or whose liveness (or startup) probe failed;
3. start containers that should run: never started, or exited and allowed to restart by
   the restart policy (Always: always; OnFailure: exit code != 0; Never: no), unless the
   last exit is still inside its back-off window (``CrashLoopBackOff``). Starting means:
   ensure the image (``imagePullPolicy``; a failed pull is ``ErrImagePull``, then
   ``ImagePullBackOff``), create the container joined to the sandbox, start it;
4. remove dead containers beyond the newest dead one of each name.

Every step that fails records why (``reasons.ReasonCache``, shown as the container's
waiting reason) and an Event. ``kill_pod`` stops a pod gracefully: SIGTERM to every
container at once, SIGKILL after the grace period, then the sandbox.

``RuntimeManager`` does all of this for the kubelet; it is built with what it needs (the
runtime, the event recorder, the probes whose failures kill containers, the node's IP and
root directory) and keeps the state that outlives one sync: the restart and image-pull
back-offs and the reasons. Every pod worker calls it from its own thread.

Mirrors ``pkg/kubelet/kuberuntime/kuberuntime_manager.go`` (computePodActions, SyncPod,
KillPod, doBackOff), ``kuberuntime_container.go`` (startContainer, killContainer),
``kuberuntime_gc.go`` and ``pkg/kubelet/images/image_manager.go`` (EnsureImageExists).

Ephemeral containers (``kubectl debug``) start once, when the sandbox runs, and are never
restarted or killed for a changed spec; with ``targetContainerName`` they share that
container's PID namespace (Docker's ``pid_mode: container:<id>``, as CRI's
``NamespaceMode_TARGET``).

What real Kubernetes does differently: init containers, sidecars,
lifecycle hooks (postStart, preStop), in-place resize; the sandbox's network comes from CNI.
The Kubelet owns the crash-loop back-off and the reason cache and hands them to the runtime
manager's ``SyncPod``, which returns what failed instead of recording it.
"""
import logging
import threading
import time
from dataclasses import dataclass, field

from kfs.kubelet import podspec
from kfs.kubelet.backoff import Backoff
from kfs.kubelet.dns import Configurer
from kfs.kubelet.reasons import ReasonCache
from kfs.kubelet.runtime import ContainerRuntimeError

log = logging.getLogger("kubelet.sync")


@dataclass
class PodActions:
    kill_pod: bool = False
    create_sandbox: bool = False
    sandbox_attempt: int = 0
    start: list = field(default_factory=list)   # container names
    start_ephemeral: list = field(default_factory=list)  # ephemeral container names
    kill: dict = field(default_factory=dict)    # container id -> (container name, message)
    probe_failed: set = field(default_factory=set)  # ids killed for a failed probe


def newest_first(containers):
    return sorted(containers, key=lambda c: (c.attempt, c.created_at), reverse=True)


def split(containers):
    """(sandboxes newest first, {container name: instances newest first})."""
    sandboxes = newest_first([c for c in containers if c.is_sandbox])
    apps = {}
    for c in newest_first([c for c in containers if not c.is_sandbox]):
        apps.setdefault(c.container_name, []).append(c)
    return sandboxes, apps


def succeeded(instances):
    return bool(instances) and not instances[0].running and \
        instances[0].exit_code == 0 and not instances[0].failed_to_start


def should_restart(pod, instances):
    """kubecontainer.ShouldContainerBeRestarted."""
    if not instances:
        return True
    latest = instances[0]
    if latest.running:
        return False
    if latest.state == "created" and not latest.error:
        return True
    policy = pod["spec"].get("restartPolicy", "Always")
    if policy == "Never":
        return False
    if policy == "OnFailure":
        return not succeeded(instances)
    return True


def compute_pod_actions(pod, containers, probe_failure=lambda uid, name, cid: None):
    """What sync_pod must do. `probe_failure` returns a message if a container's liveness
    or startup probe failed."""
    sandboxes, apps = split(containers)
    specs = pod["spec"]["containers"]
    policy = pod["spec"].get("restartPolicy", "Always")
    running_sandboxes = [s for s in sandboxes if s.running]
    if not sandboxes or not sandboxes[0].running or len(running_sandboxes) > 1:
        attempt = sandboxes[0].attempt + 1 if sandboxes else 0
        actions = PodActions(kill_pod=any(c.running for c in containers),
                             create_sandbox=True, sandbox_attempt=attempt)
        if policy == "Never" and attempt > 0 and apps:
            actions.create_sandbox = False  # finished: a Never pod's containers ran once
            return actions
        actions.start = [c["name"] for c in specs
                         if not (policy == "OnFailure" and succeeded(apps.get(c["name"])))]
        actions.create_sandbox = bool(actions.start)
        return actions
    actions = PodActions(sandbox_attempt=sandboxes[0].attempt)
    actions.start_ephemeral = [ec["name"] for ec in pod["spec"].get("ephemeralContainers") or []
                               if ec["name"] not in apps]   # run once, never restarted
    for spec in specs:
        instances = apps.get(spec["name"], [])
        if not instances or not instances[0].running:
            if should_restart(pod, instances):
                actions.start.append(spec["name"])
            continue
        latest = instances[0]
        if latest.labels.get(podspec.rt.CONTAINER_HASH) != podspec.container_hash(spec):
            actions.kill[latest.id] = (spec["name"], f"Container {spec['name']} definition "
                                                     f"changed, will be restarted")
            actions.start.append(spec["name"])
            continue
        failure = probe_failure(pod["metadata"]["uid"], spec["name"], latest.id)
        if failure:
            actions.kill[latest.id] = (spec["name"], failure)
            actions.probe_failed.add(latest.id)
            if policy != "Never":
                actions.start.append(spec["name"])
    return actions


def grace_period(pod, container_name=None):
    """Seconds between SIGTERM and SIGKILL: the deletion's grace period if the pod is being
    deleted; for a container killed by its liveness probe, the probe's own
    terminationGracePeriodSeconds if it has one; else the pod's (default 30)."""
    m = pod["metadata"]
    if m.get("deletionTimestamp") and m.get("deletionGracePeriodSeconds") is not None:
        return int(m["deletionGracePeriodSeconds"])
    spec = next((c for c in pod["spec"]["containers"] if c["name"] == container_name), {})
    probe = spec.get("livenessProbe") or {}
    if probe.get("terminationGracePeriodSeconds") is not None:
        return int(probe["terminationGracePeriodSeconds"])
    return int(pod["spec"].get("terminationGracePeriodSeconds", 30))


# -- sync_pod --------------------------------------------------------------------------------

class RuntimeManager:
    """What makes pods run in the runtime: ``sync_pod`` and ``kill_pod``, with the state
    they keep between syncs (the restart and image-pull back-offs, the reasons containers
    wait). One per kubelet, shared by every pod worker; each pod's state is its own."""

    def __init__(self, runtime, recorder, probes, node_ip, root_dir, pause_image="kfs/pause:1",
                 max_backoff=300.0, clock=time.time, dns_configurer=None):
        self.runtime, self.recorder, self.probes = runtime, recorder, probes
        self.dns = dns_configurer or Configurer(event=recorder.event)
        self.node_ip, self.root_dir, self.pause_image = node_ip, root_dir, pause_image
        self.backoff = Backoff(10.0, max_backoff, clock)       # container restarts
        self.pull_backoff = Backoff(10.0, max_backoff, clock)  # image pulls
        self.reasons = ReasonCache()

    def forget_pod(self, uid):
        """The pod is gone: its back-offs and reasons go with it."""
        self.backoff.forget(uid)
        self.pull_backoff.forget(uid)
        self.reasons.forget_pod(uid)

    def sync_pod(self, pod):
        """One pass of making the runtime match `pod`; returns the pod's containers after it."""
        uid = pod["metadata"]["uid"]
        containers = self.runtime.list_containers(uid)
        actions = compute_pod_actions(pod, containers, self.probes.failure)
        if actions.kill_pod:
            self.kill_pod(pod, containers, grace_period(pod))
        for cid, (name, message) in actions.kill.items():
            probe_kill = cid in actions.probe_failed
            self.kill_container(pod, cid, name,
                                grace_period(pod, name if probe_kill else None), message)
        if actions.kill_pod or actions.kill:
            containers = self.runtime.list_containers(uid)
        if actions.create_sandbox:
            try:
                config = podspec.sandbox_config(pod, actions.sandbox_attempt,
                                                self.dns.get_pod_dns(pod), self.dns.cluster_domain)
                self.runtime.run_pod_sandbox(config, self.pause_image)
            except (ContainerRuntimeError, OSError) as e:
                self.recorder.event(pod, "Warning", "FailedCreatePodSandBox",
                                    f"Failed to create pod sandbox: {e}")
                return self.runtime.list_containers(uid)
            containers = self.runtime.list_containers(uid)
        sandboxes, apps = split(containers)
        if actions.start and sandboxes and sandboxes[0].running:
            sandbox = sandboxes[0]
            pod_ip = self.node_ip if pod["spec"].get("hostNetwork") else sandbox.ip
            for spec in pod["spec"]["containers"]:
                if spec["name"] in actions.start:
                    self.start_if_not_backing_off(pod, spec, sandbox, apps.get(spec["name"], []),
                                                  pod_ip)
            containers = self.runtime.list_containers(uid)
        if actions.start_ephemeral and sandboxes and sandboxes[0].running:
            self.start_ephemeral_containers(pod, actions.start_ephemeral, sandboxes[0], apps)
            containers = self.runtime.list_containers(uid)
        self.garbage_collect(containers)
        return containers

    def start_ephemeral_containers(self, pod, names, sandbox, apps):
        """Start each ephemeral container once, in the sandbox's network and IPC namespaces
        and, with a targetContainerName, in that container's PID namespace."""
        uid = pod["metadata"]["uid"]
        pod_ip = self.node_ip if pod["spec"].get("hostNetwork") else sandbox.ip
        for spec in pod["spec"].get("ephemeralContainers") or []:
            if spec["name"] not in names:
                continue
            target = [c for c in apps.get(spec.get("targetContainerName") or "", []) if c.running]
            failure = self.start_container(pod, spec, sandbox, [], pod_ip,
                                           target[0].id if target else None)
            if failure:
                self.reasons.set(uid, spec["name"], *failure)
            else:
                self.reasons.remove(uid, spec["name"])

    def start_if_not_backing_off(self, pod, spec, sandbox, instances, pod_ip):
        uid, name = pod["metadata"]["uid"], spec["name"]
        backing_off = self.do_backoff(pod, spec, instances)
        if backing_off:
            self.reasons.set(uid, name, "CrashLoopBackOff", backing_off)
            return
        failure = self.start_container(pod, spec, sandbox, instances, pod_ip)
        if failure:
            self.reasons.set(uid, name, *failure)
        else:
            self.reasons.remove(uid, name)

    def do_backoff(self, pod, spec, instances):
        """If the container's last exit is inside its back-off window, the waiting message."""
        dead = next((c for c in instances if not c.running), None)
        if dead is None:
            return None
        m = pod["metadata"]
        key = f"{m['uid']}/{spec['name']}/{podspec.container_hash(spec)}"
        if self.backoff.in_backoff_since(key, dead.finished_at or dead.created_at):
            pod_ref = f"{m['name']}_{m.get('namespace', 'default')}({m['uid']})"
            self.recorder.event(pod, "Warning", "BackOff", f"Back-off restarting failed container "
                                                           f"{spec['name']} in pod {pod_ref}")
            return (f"back-off {self.backoff.get(key):g}s restarting failed "
                    f"container={spec['name']} pod={pod_ref}")
        self.backoff.next(key)
        return None

    def start_container(self, pod, spec, sandbox, instances, pod_ip, target_id=None):
        """Image, create, start; returns (reason, message) on failure, None on success."""
        failure = self.ensure_image(pod, spec)
        if failure:
            return failure
        name = spec["name"]
        attempt = instances[0].attempt + 1 if instances else 0
        try:
            config = podspec.container_config(pod, spec, attempt, pod_ip, self.node_ip,
                                              self.root_dir, target_id, self.dns.cluster_domain)
        except (podspec.ConfigError, OSError) as e:
            self.recorder.event(pod, "Warning", "Failed", f"Error: {e}")
            return "CreateContainerConfigError", str(e)
        try:
            cid = self.runtime.create_container(sandbox.id, config)
        except ContainerRuntimeError as e:
            self.recorder.event(pod, "Warning", "Failed", f"Error: {e}")
            return "CreateContainerError", str(e)
        self.recorder.event(pod, "Normal", "Created", f"Created container {name}")
        try:
            self.runtime.start_container(cid)
        except ContainerRuntimeError as e:
            self.recorder.event(pod, "Warning", "Failed", f"Error: {e}")
            return "RunContainerError", str(e)
        self.recorder.event(pod, "Normal", "Started", f"Started container {name}")
        return None

    def ensure_image(self, pod, spec):
        """imagePullPolicy: returns (reason, message) if the image is not there to run."""
        image, policy = spec["image"], spec.get("imagePullPolicy", "IfNotPresent")
        present = self.runtime.image_id(image)
        event = self.recorder.event
        if policy == "Never" and not present:
            message = f'Container image "{image}" is not present with pull policy of Never'
            event(pod, "Warning", "ErrImageNeverPull", message)
            return "ErrImageNeverPull", message
        if present and policy != "Always":
            event(pod, "Normal", "Pulled", f'Container image "{image}" already present on machine')
            return None
        key = f"{pod['metadata']['uid']}/{image}"
        if self.pull_backoff.in_backoff_since_update(key):
            message = f'Back-off pulling image "{image}"'
            event(pod, "Normal", "BackOff", message)
            return "ImagePullBackOff", message
        event(pod, "Normal", "Pulling", f'Pulling image "{image}"')
        started = time.monotonic()
        try:
            self.runtime.pull_image(image)
        except ContainerRuntimeError as e:
            self.pull_backoff.next(key)
            event(pod, "Warning", "Failed", f'Failed to pull image "{image}": {e}')
            return "ErrImagePull", f'failed to pull image "{image}": {e}'
        event(pod, "Normal", "Pulled", f'Successfully pulled image "{image}" in '
                                       f'{time.monotonic() - started:.3f}s')
        return None

    # -- killing ---------------------------------------------------------------------------

    def kill_container(self, pod, cid, name, grace, message=None):
        self.recorder.event(pod, "Normal", "Killing", message or f"Stopping container {name}")
        self.runtime.stop_container(cid, grace)

    def kill_pod(self, pod, containers, grace):
        """Stop every running container of the pod at once (SIGTERM, SIGKILL after `grace`
        seconds), then its sandboxes."""
        threads = []
        for c in containers:
            if c.running and not c.is_sandbox:
                t = threading.Thread(target=self.kill_container,
                                     args=(pod, c.id, c.container_name, grace), daemon=True)
                t.start()
                threads.append(t)
        for t in threads:
            t.join()
        for c in containers:
            if c.running and c.is_sandbox:
                self.runtime.stop_container(c.id, 10)

    def garbage_collect(self, containers):
        """Keep the running instance and the newest dead one of each container (its exit is
        the container's lastState), and the newest sandbox; remove the rest."""
        sandboxes, apps = split(containers)
        doomed = [s for s in sandboxes[1:] if not s.running]
        for instances in apps.values():
            dead = [c for c in instances if not c.running]
            doomed += dead[1:]
        for c in doomed:
            self.runtime.remove_container(c.id)
