"""Pod status as the API shows it, computed from what runs in the runtime.

``generate_pod_status(pod, containers, ...)`` turns the runtime's containers, the reasons
the last sync recorded (``ErrImagePull``, ``CrashLoopBackOff`` ...) and the probes' results
into a ``PodStatus``:

- ``containerStatuses``: per container its ``state`` (waiting / running / terminated, with
  reasons ContainerCreating, ErrImagePull, ImagePullBackOff, CrashLoopBackOff, Completed,
  Error, OOMKilled, StartError), ``lastState``, ``ready``, ``started``, ``restartCount``,
  ``image``, ``imageID``, ``containerID``;
- ``phase`` (``get_phase``): Pending while a container waits to start, Running while one
  runs (or will be restarted), Succeeded / Failed when all have stopped for good;
- ``conditions``: PodScheduled, Initialized, ContainersReady (every container running and
  ready), Ready; ``podIP`` (the sandbox's address), ``hostIP``, ``startTime``, ``qosClass``.

``StatusManager`` keeps the latest status of every pod and hands each change to the
writer it was built with, and writes a status again when the API server's copy says
otherwise in what the kubelet owns (``needs_reconcile``: the node lifecycle controller marks
the pods of a node it lost sight of not Ready, and when the kubelet is back, it must set
them Ready again even though its own status never changed); with an API server that is ``ApiStatusWriter.write_status``,
which patches ``pods/<name>/status`` (of the mirror pod, for a static pod). After a pod was
terminated, ``ApiStatusWriter.terminated`` makes the final delete (grace period 0, with
the pod's UID as precondition), which removes the pod from the API server.

Mirrors ``pkg/kubelet/kubelet_pods.go`` (generateAPIPodStatus, getPhase,
convertToAPIContainerStatuses), ``pkg/kubelet/status/generate.go`` and
``status_manager.go`` (SetPodStatus, needsReconcile, syncPod: the patch and the final
delete).

What real Kubernetes does differently: statuses are written in batches by a status manager
with a cache of versions, and pod resize and init-container states add more conditions.
"""
import logging
import threading
from datetime import datetime, timezone

from kfs import meta
from kfs.kubelet import manifest, podspec

log = logging.getLogger("kubelet.status")


def rfc3339(epoch):
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def terminated_state(c):
    if c.failed_to_start:
        return {"exitCode": c.exit_code or 128, "reason": "StartError", "message": c.error,
                "startedAt": rfc3339(c.created_at), "finishedAt": rfc3339(c.created_at),
                "containerID": f"docker://{c.id}"}
    reason = "OOMKilled" if c.oom_killed else ("Completed" if c.exit_code == 0 else "Error")
    return {"exitCode": c.exit_code, "reason": reason,
            "startedAt": rfc3339(c.started_at or c.created_at),
            "finishedAt": rfc3339(c.finished_at or c.created_at),
            "containerID": f"docker://{c.id}"}


def container_status(pod, spec, instances, reason, ready, started, will_restart):
    """One entry of containerStatuses. `instances` newest first; `reason` (reason, message)
    recorded by the last sync, or None."""
    status = {"name": spec["name"], "image": spec["image"], "imageID": "", "ready": False,
              "restartCount": instances[0].restart_count if instances else 0,
              "started": False, "state": {}, "lastState": {}}
    dead = [c for c in instances if not c.running]
    latest = instances[0] if instances else None
    if latest is None or (latest.state == "created" and not latest.error):
        r, msg = reason or ("ContainerCreating", "")
        status["state"] = {"waiting": {"reason": r, **({"message": msg} if msg else {})}}
        return status
    status["containerID"] = f"docker://{latest.id}"
    status["imageID"] = f"docker://{latest.image_id}" if latest.image_id else ""
    if latest.running:
        status["state"] = {"running": {"startedAt": rfc3339(latest.started_at)}}
        status["ready"], status["started"] = bool(ready), bool(started)
        if dead:
            status["lastState"] = {"terminated": terminated_state(dead[0])}
        return status
    if reason and will_restart:
        r, msg = reason
        status["state"] = {"waiting": {"reason": r, **({"message": msg} if msg else {})}}
        status["lastState"] = {"terminated": terminated_state(latest)}
        return status
    status["state"] = {"terminated": terminated_state(latest)}
    if len(dead) > 1:
        status["lastState"] = {"terminated": terminated_state(dead[1])}
    return status


def get_phase(pod, statuses):
    """getPhase in kubelet_pods.go, without init containers."""
    running = waiting = stopped = succeeded = 0
    for s in statuses:
        state = s["state"]
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            succeeded += state["terminated"]["exitCode"] == 0
        elif "waiting" in state:
            if s["lastState"].get("terminated"):
                stopped += 1
            else:
                waiting += 1
    policy = pod["spec"].get("restartPolicy", "Always")
    if waiting > 0:
        return "Pending"
    if running > 0:
        return "Running"
    if stopped > 0:
        if policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        return "Failed" if policy == "Never" else "Running"
    return "Pending"


def generate_pod_status(pod, containers, reasons, probes, node_ip, old=None, now=None):
    """The pod's status. `reasons` are the pod's {container name: (reason, message)} of the
    last sync; `probes` answers ready(uid, name, cid) and started(uid, name, cid); `old` is
    the previous status (conditions keep their transition times)."""
    from kfs.kubelet.sync import should_restart, split  # the status follows sync's rules
    uid = pod["metadata"]["uid"]
    sandboxes, apps = split(containers)
    statuses = []
    for spec in pod["spec"]["containers"]:
        instances = apps.get(spec["name"], [])
        cid = instances[0].id if instances else None
        statuses.append(container_status(
            pod, spec, instances, reasons.get(spec["name"]),
            probes.ready(uid, spec, cid), probes.started(uid, spec, cid),
            should_restart(pod, instances)))
    phase = get_phase(pod, statuses)
    status = {"phase": phase, "conditions": [dict(c) for c in (old or {}).get("conditions", [])],
              "hostIP": node_ip, "hostIPs": [{"ip": node_ip}],
              "qosClass": podspec.qos_class(pod)}
    sandbox = sandboxes[0] if sandboxes else None
    ip = node_ip if pod["spec"].get("hostNetwork") else (sandbox.ip if sandbox and sandbox.running else "")
    if ip:
        status["podIP"], status["podIPs"] = ip, [{"ip": ip}]
    first = sandboxes[-1].created_at if sandboxes else None
    status["startTime"] = (old or {}).get("startTime") or (rfc3339(first) if first else meta.now())
    status["containerStatuses"] = statuses
    set_conditions(status, statuses, phase, now)
    return status


def set_conditions(status, statuses, phase, now=None):
    all_ready = bool(statuses) and all(s["ready"] for s in statuses)
    not_ready = [s["name"] for s in statuses if not s["ready"]]
    if phase in ("Succeeded", "Failed"):
        reason, message = "PodCompleted", ""
    elif all_ready:
        reason, message = "", ""
    else:
        reason = "ContainersNotReady"
        message = f"containers with unready status: [{' '.join(not_ready)}]"
    meta.set_condition(status, "PodScheduled", True, at=now)
    meta.set_condition(status, "Initialized", True, at=now)
    meta.set_condition(status, "ContainersReady", all_ready, reason, message, at=now)
    meta.set_condition(status, "Ready", all_ready, reason, message, at=now)
    order = ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady",
             "PodScheduled"]
    status["conditions"].sort(key=lambda c: order.index(c["type"]) if c["type"] in order else 9)


def is_terminal(status):
    return (status or {}).get("phase") in ("Succeeded", "Failed")


def needs_reconcile(pod, status):
    """needsReconcile: does the API server's copy of `pod` (as the kubelet last received
    it) disagree with `status` in what the kubelet owns, the phase and the conditions it
    sets? A static pod's copy is its manifest: its mirror pod is written as it changes."""
    if manifest.is_static(pod) or "status" not in pod:
        return False
    api = pod.get("status") or {}
    if api.get("phase") != status.get("phase"):
        return True
    return any((meta.get_condition(api, c["type"]) or {}).get("status") != c.get("status")
               for c in status.get("conditions") or [])


class StatusManager:
    """The latest status of every pod the kubelet runs; `writer` (if any) is called with
    (pod, status) until it succeeded for the pod's current status (with an API server),
    and again when the API server's copy of the pod says otherwise (``needs_reconcile``)."""

    def __init__(self, writer=None):
        self.statuses = {}   # uid -> status
        self.written = {}    # uid -> the status the writer last accepted
        self.writer = writer
        self.lock = threading.Lock()

    def get(self, uid):
        with self.lock:
            return self.statuses.get(uid)

    def set(self, pod, status):
        uid = pod["metadata"]["uid"]
        with self.lock:
            changed = self.statuses.get(uid) != status
            self.statuses[uid] = status
            pending = self.writer and (self.written.get(uid) != status
                                       or needs_reconcile(pod, status))
        if pending:
            try:
                self.writer(pod, status)
                with self.lock:
                    self.written[uid] = status
            except Exception as e:  # the API server may be away: the next sync retries
                log.warning("could not write the status of pod %s: %s", meta.key(pod), e)
        return changed

    def forget(self, uid):
        with self.lock:
            self.statuses.pop(uid, None)
            self.written.pop(uid, None)

    def rewrite(self, uid):
        """Write the status again at the next sync (a new mirror pod has none)."""
        with self.lock:
            self.written.pop(uid, None)


class ApiStatusWriter:
    """Pod status into the API server, and the final delete of a terminated pod. `pods` is
    the informer of the pods bound to this node; `mirrors` a ``mirror.MirrorPods``."""

    def __init__(self, client, pods, mirrors):
        self.client, self.pods, self.mirrors = client, pods, mirrors

    def in_api_server(self, pod):
        m = pod["metadata"]
        p = self.pods.get(f"{m.get('namespace', 'default')}/{m['name']}")
        return bool(p) and p["metadata"].get("uid") == m["uid"]

    def write_status(self, pod, status):
        """PATCH pods/<name>/status (of the mirror pod, for a static pod)."""
        m = pod["metadata"]
        if manifest.is_static(pod):
            if not self.mirrors.mirror_of(pod):
                raise LookupError(f"no mirror pod for {m['name']} yet")
        elif not self.in_api_server(pod):
            return  # deleted from the API server: nobody to tell
        body = {"status": {"podIP": None, "podIPs": None, **status}}
        self.client.patch("pods", m["name"], body, m.get("namespace", "default"),
                          subresource="status")

    def terminated(self, pod):
        """After a graceful termination: the final delete (or the mirror pod's delete)."""
        from kfs.client import ApiError
        m = pod["metadata"]
        if manifest.is_static(pod):
            mirror = self.mirrors.mirror_of(pod)
            if mirror:
                self.mirrors.delete_mirror(mirror)
            return
        if not m.get("deletionTimestamp"):
            return
        try:
            self.client.delete("pods", m["name"], m.get("namespace", "default"),
                               grace_period_seconds=0, uid=m["uid"])
        except ApiError as e:
            if e.code not in (404, 409):
                log.warning("could not delete pod %s: %s", m["name"], e)
