"""Pods (``v1``): everything the API server knows about a Pod, in one place.

- **defaults**: ``restartPolicy: Always``, ``dnsPolicy: ClusterFirst``,
  ``terminationGracePeriodSeconds: 30``, an ``imagePullPolicy`` from the image's tag,
  ``terminationMessagePath`` ... and requests equal to limits where only limits are given.
  The pod-spec defaulters (`default_pod_spec`) also serve the templates of Deployments and
  ReplicaSets;
- **create**: ``status: {phase: Pending, qosClass: ...}`` (`pod_qos_class`);
- **status writes** keep ``ownerReferences`` and the QoS class;
- **validation**: the PodSpec rules (``validation/pods.py``) and what an update may change;
- **field selectors**: ``spec.nodeName`` (how each kubelet finds its pods), ``status.phase``...;
- **printing**: READY ``1/1``, STATUS ``CrashLoopBackOff``/``Init:0/1``/``Terminating``,
  RESTARTS ``3 (12s ago)``, and IP and NODE with ``-o wide``;
- **storage**: graceful deletion (a pod bound to a node only gets a deletionTimestamp; its
  kubelet deletes it for good), ``pods/binding`` (the scheduler's decision),
  ``pods/eviction`` (a delete its PodDisruptionBudget allows, ``kinds/eviction.py``) and
  ``pods/log`` (proxied to the kubelet of the pod's node), ``pods/exec``, ``pods/attach``
  and ``pods/portforward`` (checked here: the pod bound and not finished, the container
  named exists, an ephemeral one too; then upgraded and relayed to the kubelet by
  ``proxy.py``) and ``pods/ephemeralcontainers`` (``kubectl debug``: a GET, PUT or PATCH
  whose only effect is ``spec.ephemeralContainers``, which no other update may change;
  validated by ``validate_ephemeral_containers_update``).

Mirrors pkg/apis/core/v1/defaults.go (SetDefaults_Pod, _PodSpec, _Container, _Probe,
_HTTPGetAction, _Volume), pkg/apis/core/helper/qos (GetPodQOS), pkg/registry/core/pod/
strategy.go (PrepareForCreate, podStatusStrategy, CheckGracefulDelete, GetAttrs),
pkg/registry/core/pod/storage/storage.go (BindingREST), rest/log.go (LogREST) and
rest/subresources.go (ExecREST, AttachREST, PortForwardREST with strategy.go's
ExecLocation, AttachLocation, PortForwardLocation), storage.go's EphemeralContainersREST
with strategy.go's ephemeralContainersStrategy,
pkg/printers/internalversion/printers.go (printPod); ``priority`` and
``preemptionPolicy`` come from the Priority admission plugin.

What real Kubernetes does differently: defaulters are generated and also reach every
nested struct kfs does not use; admission plugins add more (the ServiceAccount plugin
mounts a token volume, DefaultTolerationSeconds adds not-ready/unreachable tolerations);
binding goes through a NodeRestriction-aware admission, and log, exec, attach and
port-forward share one "connect" mechanism with the kubelet's address from the Node;
a changed ephemeral container's Forbidden message ends with a ``cmp.Diff`` of it.
"""
import copy
from urllib.parse import urlencode

from kfs import meta, resources
from kfs.apiserver import errors
from kfs.apiserver.kinds import Kind, eviction
from kfs.apiserver.strategy import keep_metadata
from kfs.apiserver.tables import AGE, NAME, age, col, since
from kfs.apiserver.validation import invalid_message, pods as rules

DEFAULT_SCHEDULER = "default-scheduler"
DEFAULT_GRACE = 30
LOG_PARAMS = ("follow", "tailLines", "timestamps", "sinceSeconds", "sinceTime", "previous",
              "limitBytes")


# -- defaults (pkg/apis/core/v1/defaults.go) ----------------------------------------------

def default_pod_spec(spec):
    """SetDefaults_PodSpec, plus the containers, volumes and probes inside it."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", DEFAULT_SCHEDULER)
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []) + \
            (spec.get("ephemeralContainers") or []):
        default_container(c)
    for v in spec.get("volumes") or []:
        default_volume(v)


def default_container(c):
    c.setdefault("imagePullPolicy", "Always" if image_tag(c.get("image", "")) == "latest"
                 else "IfNotPresent")
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("resources", {})
    for port in c.get("ports") or []:
        port.setdefault("protocol", "TCP")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        if c.get(probe) is not None:
            default_probe(c[probe])
    for hook in ((c.get("lifecycle") or {}).get(h) for h in ("postStart", "preStop")):
        if hook and hook.get("httpGet") is not None:
            _default_http_get(hook["httpGet"])
    for env in c.get("env") or []:
        field_ref = (env.get("valueFrom") or {}).get("fieldRef")
        if field_ref is not None:
            field_ref.setdefault("apiVersion", "v1")


def image_tag(image):
    """The tag the image reference names: "latest" when it names neither tag nor digest.

    As ``parsers.ParseImageName``: ``localhost:5000/web`` has no tag (the colon is the
    registry's port) and ``web@sha256:...`` has a digest and no tag (""); so has a missing
    image (the parser fails, and upstream ignores the error).
    """
    if not image:
        return ""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.partition(":")[2]
    return tag or ("" if digest else "latest")


def default_probe(probe):
    probe.setdefault("timeoutSeconds", 1)
    probe.setdefault("periodSeconds", 10)
    probe.setdefault("successThreshold", 1)
    probe.setdefault("failureThreshold", 3)
    if probe.get("httpGet") is not None:
        _default_http_get(probe["httpGet"])


def _default_http_get(action):
    action.setdefault("path", "/")
    action.setdefault("scheme", "HTTP")


def default_volume(volume):
    """A volume naming no source is an emptyDir; hostPath's type defaults to "" (unset)."""
    if not any(k != "name" for k in volume):
        volume["emptyDir"] = {}
    if volume.get("hostPath") is not None:
        volume["hostPath"].setdefault("type", "")
    for source in ("secret", "configMap", "downwardAPI", "projected"):
        if volume.get(source) is not None:
            volume[source].setdefault("defaultMode", 0o644)


def default_template(obj):
    """The pod template of a workload (Deployment, ReplicaSet) gets the pod-spec defaults."""
    template = obj.setdefault("spec", {}).setdefault("template", {})
    default_pod_spec(template.setdefault("spec", {}))


def _requests_from_limits(container):
    """SetDefaults_Pod: a limit without a request makes the request equal to the limit."""
    limits = (container.get("resources") or {}).get("limits")
    if limits:
        requests = container["resources"].setdefault("requests", {})
        for name, value in limits.items():
            requests.setdefault(name, value)


def pod_qos_class(pod):
    """GetPodQOS: BestEffort (no cpu/memory requests or limits), Guaranteed (every container
    limits both and requests equal limits), else Burstable."""
    spec = pod.get("spec") or {}
    requests, limits, guaranteed = {}, {}, True
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        res = c.get("resources") or {}
        for kind, total in (("requests", requests), ("limits", limits)):
            for name, q in (res.get(kind) or {}).items():
                value = meta.parse_quantity(q)
                if name in ("cpu", "memory") and value > 0:
                    total[name] = total.get(name, 0) + value
        found = {n for n, q in (res.get("limits") or {}).items()
                 if n in ("cpu", "memory") and meta.parse_quantity(q) > 0}
        guaranteed = guaranteed and found == {"cpu", "memory"}
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and requests == limits:
        return "Guaranteed"
    return "Burstable"


# -- printing (printPod) ----------------------------------------------------------------------

COLUMNS = [
    NAME, col("Ready", description="The aggregate readiness state of this pod for accepting traffic."),
    col("Status", description="The aggregate status of the containers in this pod."),
    col("Restarts", description="The number of times the containers in this pod have been restarted "
        "and when the last container in this pod has restarted."), AGE,
    col("IP", description="IP address allocated to the pod.", priority=1),
    col("Node", description="NodeName is the node the pod is scheduled onto.", priority=1),
    col("Nominated Node", description="nominatedNodeName is set when this pod preempts other pods "
        "on the node.", priority=1),
    col("Readiness Gates", description="If specified, all readiness gates will be evaluated for pod "
        "readiness.", priority=1)]


def print_pod(pod, now):
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    phase = status.get("phase", "")
    reason = status.get("reason") or phase
    if any(c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated"
           for c in status.get("conditions") or []):
        reason = "SchedulingGated"
    inits = {c.get("name"): c for c in spec.get("initContainers") or []}
    sidecar = {n for n, c in inits.items() if c.get("restartPolicy") == "Always"}
    total, ready = len(spec.get("containers") or []) + len(sidecar), 0
    restarts = sidecar_restarts = 0
    last = sidecar_last = ""
    initializing = False
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        state, finished = cs.get("state") or {}, _finished_at(cs)
        restarts += cs.get("restartCount", 0)
        last = max(last, finished)
        if cs.get("name") in sidecar:
            sidecar_restarts += cs.get("restartCount", 0)
            sidecar_last = max(sidecar_last, finished)
        term, waiting = state.get("terminated"), state.get("waiting")
        if term and term.get("exitCode", 0) == 0:
            continue
        if cs.get("name") in sidecar and cs.get("started"):
            ready += 1 if cs.get("ready") else 0
            continue
        if term:
            reason = "Init:" + term["reason"] if term.get("reason") else (
                f"Init:Signal:{term['signal']}" if term.get("signal") else f"Init:ExitCode:{term.get('exitCode', 0)}")
        elif waiting and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(inits)}"
        initializing = True
        break
    if not initializing or meta.condition_true(pod, "Initialized"):
        restarts, last, running = sidecar_restarts, sidecar_last, False
        for cs in reversed(status.get("containerStatuses") or []):
            state = cs.get("state") or {}
            restarts += cs.get("restartCount", 0)
            last = max(last, _finished_at(cs))
            waiting, term = state.get("waiting") or {}, state.get("terminated")
            if waiting.get("reason"):
                reason = waiting["reason"]
            elif term and term.get("reason"):
                reason = term["reason"]
            elif term:
                reason = f"Signal:{term['signal']}" if term.get("signal") else f"ExitCode:{term.get('exitCode', 0)}"
            elif cs.get("ready") and state.get("running") is not None:
                running, ready = True, ready + 1
        if reason == "Completed" and running:
            reason = "Running" if meta.condition_true(pod, "Ready") else "NotReady"
    deleting = bool((pod.get("metadata") or {}).get("deletionTimestamp"))
    if deleting and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif deleting and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    restarts_cell = f"{restarts} ({since(last, now)} ago)" if restarts and last else str(restarts)
    ips = status.get("podIPs") or ([{"ip": status["podIP"]}] if status.get("podIP") else [])
    return [meta.name(pod), f"{ready}/{total}", reason, restarts_cell, age(pod, now),
            (ips[0].get("ip") if ips else "") or "<none>", spec.get("nodeName") or "<none>",
            status.get("nominatedNodeName") or "<none>", _readiness_gates(spec, status)]


def _finished_at(container_status):
    return ((container_status.get("lastState") or {}).get("terminated") or {}).get("finishedAt") or ""


def _readiness_gates(spec, status):
    gates = spec.get("readinessGates") or []
    if not gates:
        return "<none>"
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    true = sum(1 for g in gates if conditions.get(g.get("conditionType")) == "True")
    return f"{true}/{len(gates)}"


# -- storage: graceful deletion, binding, log ---------------------------------------------------

def grace_period(pod, options):
    """CheckGracefulDelete: the grace period a DELETE asks for (0 for a pod no node runs, or
    one that has finished: it goes at once)."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    period = options.get("gracePeriodSeconds")
    if period is None:
        period = spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE)
    if not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
        period = 0
    return max(int(period), 0)


def assign(pod, binding, resource):
    """BindingREST.setPodHostAndAnnotations: the binding written into the pod (409 when
    the pod is bound already, being deleted, or not the one the binding names)."""
    md, spec = pod["metadata"], pod.setdefault("spec", {})
    name, uid = md.get("name"), (binding.get("metadata") or {}).get("uid")
    if uid and md.get("uid") != uid:
        raise errors.conflict(resource, name, f"Precondition failed: UID in precondition: "
                              f"{uid}, UID in object meta: {md.get('uid')}")
    if md.get("deletionTimestamp"):
        raise errors.conflict(resource, name, f"pod {name} is being deleted, cannot be "
                              "assigned to a host")
    if spec.get("nodeName"):
        raise errors.conflict(resource, name, f'pod {name} is already assigned to node '
                              f'"{spec["nodeName"]}"')
    spec["nodeName"] = binding["target"]["name"]
    annotations = (binding.get("metadata") or {}).get("annotations")
    if annotations:
        md["annotations"] = {**(md.get("annotations") or {}), **annotations}
    meta.set_condition(pod.setdefault("status", {}), "PodScheduled", True)
    return pod


def with_ephemeral_containers(current, body):
    """The pod `current` with `body`'s spec.ephemeralContainers (and its resourceVersion,
    the precondition of the write)."""
    new = copy.deepcopy(current)
    ephemeral = (body.get("spec") or {}).get("ephemeralContainers")
    if ephemeral:
        new.setdefault("spec", {})["ephemeralContainers"] = ephemeral
    else:
        new.get("spec", {}).pop("ephemeralContainers", None)
    rv = (body.get("metadata") or {}).get("resourceVersion")
    new["metadata"]["resourceVersion"] = rv or current["metadata"]["resourceVersion"]
    return new


def log_container(pod, query):
    """The container a log request is about (400 naming the choices when it is unclear)."""
    name, spec = meta.name(pod), pod.get("spec") or {}
    names = [c["name"] for c in spec.get("containers") or []]
    container = query.get("container")
    if not container:
        if len(names) != 1:
            raise errors.bad_request(f"a container name must be specified for pod {name}, "
                                     f"choose one of: [{' '.join(names)}]")
        return names[0]
    if container not in names + [c["name"] for c in (spec.get("initContainers") or []) +
                                 (spec.get("ephemeralContainers") or [])]:
        raise errors.bad_request(f"container {container} is not valid for pod {name}")
    return container


def kubelet_location(registry, pod):
    """The kubelet of the pod's node: https://<InternalIP>:<daemonEndpoints port>."""
    node_name = (pod.get("spec") or {}).get("nodeName")
    if not node_name:
        raise errors.bad_request(f"pod {meta.name(pod)} does not have a host assigned")
    node = registry.get(resources.lookup("nodes"), None, node_name)
    status = node.get("status") or {}
    addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
    host = addresses.get("InternalIP") or addresses.get("Hostname") or node_name
    port = (status.get("daemonEndpoints") or {}).get("kubeletEndpoint", {}).get("Port") or 10250
    return f"https://{host}:{port}"


class Pod(Kind):
    api_version, kind = "v1", "Pod"
    columns = COLUMNS
    field_selectors = {"spec.nodeName": None, "spec.restartPolicy": None,
                       "spec.schedulerName": None, "spec.serviceAccountName": None,
                       "spec.hostNetwork": None, "status.phase": None, "status.podIP": None,
                       "status.nominatedNodeName": None}
    field_defaults = {"spec.hostNetwork": "false"}
    returns_deleted = True
    create_subresources = ("binding", "eviction")
    connect_subresources = ("log", "exec", "attach", "portforward")
    upgrade_subresources = ("exec", "attach", "portforward")

    def default(self, pod):
        spec = pod.setdefault("spec", {})
        for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
            _requests_from_limits(c)
        spec.setdefault("enableServiceLinks", True)
        default_pod_spec(spec)
        spec.setdefault("priority", 0)                      # Priority admission plugin
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")

    def prepare_for_create(self, pod):
        pod["status"] = {"phase": "Pending", "qosClass": pod_qos_class(pod)}

    def prepare_for_status_update(self, new, old):        # podStatusStrategy
        keep_metadata(new["metadata"], old.get("metadata") or {}, "ownerReferences")
        status = new.setdefault("status", {})
        if not status.get("qosClass") and (old.get("status") or {}).get("qosClass"):
            status["qosClass"] = old["status"]["qosClass"]

    def validate(self, pod):
        return rules.validate_pod_spec(pod.get("spec") or {})

    def causes(self, pod, old=None, subresource=None):
        extra = rules.validate_pod_create(pod.get("spec") or {}) if old is None else []
        return super().causes(pod, old, subresource) + extra

    def validate_subresource_update(self, subresource, new, old):
        if subresource == "ephemeralcontainers":
            return rules.validate_ephemeral_containers_update(new, old)
        return None

    def from_subresource(self, subresource, current, body):
        """pods/ephemeralcontainers: the stored pod with the body's ephemeral containers
        (ephemeralContainersStrategy: nothing else of the body counts)."""
        if subresource != "ephemeralcontainers":
            return body
        return with_ephemeral_containers(current, body)

    def validate_update(self, new, old):
        return rules.validate_pod_update(new, old)

    def validate_status_update(self, new, old):
        return rules.validate_pod_status_update(new, old)

    def print_row(self, pod, now):
        return print_pod(pod, now)

    def row_conditions(self, pod):
        phase = (pod.get("status") or {}).get("phase")
        if phase not in ("Succeeded", "Failed"):
            return None
        return [{"type": "Completed", "status": "True", "reason": phase,
                 "message": "The pod has completed successfully." if phase == "Succeeded"
                 else "The pod failed."}]

    def delete_grace_period(self, pod, options):
        return grace_period(pod, options)

    def create_subresource(self, registry, subresource, namespace, name, body, dry_run):
        """POST pods/<name>/binding: the scheduler's decision, written into the pod;
        pods/<name>/eviction: a delete its PodDisruptionBudget allows (``kinds/eviction.py``)."""
        if subresource == "eviction":
            return eviction.evict(registry, self.resource, namespace, name, body, dry_run)
        return registry.update_with(self.resource, namespace, name,
                                    self.subresource_change(subresource, name, body), dry_run)

    def subresource_change(self, subresource, name, body):
        """A binding, checked (422 naming the field), as the change it makes to its pod."""
        if subresource != "binding":
            return None
        causes = rules.validate_binding(body)
        if causes:
            raise errors.invalid(self.resource, name, causes,
                                 invalid_message("Binding", name, causes, group=""))
        return lambda pod: assign(pod, body, self.resource)

    def connect(self, registry, subresource, namespace, name, query):
        """The kubelet URL for pods/log (/containerLogs), pods/exec (/exec), pods/attach
        (/attach), pods/portforward (/portForward), checked first (400 naming the problem)."""
        pod = registry.get(self.resource, namespace, name)
        location = kubelet_location(registry, pod)
        if subresource == "log":
            container = log_container(pod, query)
            params = urlencode({k: query[k] for k in LOG_PARAMS if k in query})
            return f"{location}/containerLogs/{namespace}/{name}/{container}?{params}"
        running(pod, subresource)
        if subresource == "portforward":
            params = urlencode([("port", p) for p in _getall(query, "ports")])
            return f"{location}/portForward/{namespace}/{name}?{params}"
        container = log_container(pod, query)
        return f"{location}/{subresource}/{namespace}/{name}/{container}?{stream_params(query)}"


def _getall(query, key):
    values = query.getall(key, []) if hasattr(query, "getall") else [query.get(key)]
    return [v for v in values if v]


def running(pod, subresource):
    """ExecREST/AttachREST refuse a pod that has finished (400)."""
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        verb = {"exec": "exec into", "attach": "attach to"}.get(subresource, "port-forward to")
        raise errors.bad_request(f"cannot {verb} a container in a completed pod; current "
                                 f"phase is {phase}")


def stream_params(query):
    """PodExecOptions/PodAttachOptions as the kubelet's streaming server reads them."""
    params = [(kubelet, "1") for api, kubelet in STREAM_FLAGS
              if (query.get(api) or "").lower() in ("1", "true")]
    return urlencode(params + [("command", c) for c in _getall(query, "command")])


STREAM_FLAGS = (("stdin", "input"), ("stdout", "output"), ("stderr", "error"), ("tty", "tty"))


KIND = Pod
