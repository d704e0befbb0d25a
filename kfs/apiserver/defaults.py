"""Defaulting: the fields the API server fills in when a client leaves them out.

`default(obj)` runs on every object the API server decodes from a request, before the
registry strategy and validation see it, exactly where upstream's generated
``SetObjectDefaults_*`` functions run. A Pod you create with only a name, a container name
and an image comes back with ``restartPolicy: Always``, ``dnsPolicy: ClusterFirst``,
``terminationGracePeriodSeconds: 30``, ``imagePullPolicy``, ``terminationMessagePath``...
and a Deployment with ``replicas: 1`` and a 25%/25% RollingUpdate strategy.

Mirrors pkg/apis/core/v1/defaults.go (SetDefaults_Pod, _PodSpec, _Container, _Probe,
_HTTPGetAction, _Volume, _Service, _Namespace, _NodeStatus, _EndpointPort...),
pkg/apis/apps/v1/defaults.go (SetDefaults_Deployment, _ReplicaSet) and
pkg/apis/rbac/v1/defaults.go (subject apiGroups); ``priority`` and ``preemptionPolicy``
come from the Priority admission plugin.

What real Kubernetes does differently: defaulters are generated from the Go types and run
on the versioned type during decoding (so they also apply to the objects inside lists and
to every nested struct kfs does not use); admission plugins add more (the ServiceAccount
plugin mounts a token volume and sets ``serviceAccountName: default``, DefaultTolerationSeconds
adds not-ready/unreachable tolerations). ClusterIPs, NodePorts and ``ipFamilies`` are
allocated by the Service registry, not defaulted.
"""

DEFAULT_SCHEDULER = "default-scheduler"
RBAC_GROUP = "rbac.authorization.k8s.io"


def default(obj):
    """Fill in upstream's defaults on `obj`, in place, by its apiVersion and kind."""
    fn = _DEFAULTERS.get((obj.get("apiVersion"), obj.get("kind")))
    if fn:
        fn(obj)


# -- pods ------------------------------------------------------------------------------

def default_pod(pod):
    spec = pod.setdefault("spec", {})
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        _requests_from_limits(c)
    spec.setdefault("enableServiceLinks", True)
    default_pod_spec(spec)
    spec.setdefault("priority", 0)                      # Priority admission plugin
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")


def _requests_from_limits(container):
    """SetDefaults_Pod: a limit without a request makes the request equal to the limit."""
    limits = (container.get("resources") or {}).get("limits")
    if limits:
        requests = container["resources"].setdefault("requests", {})
        for name, value in limits.items():
            requests.setdefault(name, value)


def default_pod_spec(spec):
    """SetDefaults_PodSpec, plus the containers, volumes and probes inside it."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", DEFAULT_SCHEDULER)
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
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


def _default_template(obj):
    template = obj.setdefault("spec", {}).setdefault("template", {})
    default_pod_spec(template.setdefault("spec", {}))


# -- apps ------------------------------------------------------------------------------

def default_deployment(d):
    spec = d.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.get("rollingUpdate")
        if rolling is None:
            rolling = strategy["rollingUpdate"] = {}
        rolling.setdefault("maxUnavailable", "25%")
        rolling.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    _default_template(d)


def default_replicaset(rs):
    rs.setdefault("spec", {}).setdefault("replicas", 1)
    _default_template(rs)


# -- services, endpoints -----------------------------------------------------------------

def default_service(svc):
    spec = svc.setdefault("spec", {})
    spec.setdefault("sessionAffinity", "None")
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        client_ip = spec.setdefault("sessionAffinityConfig", {}).setdefault("clientIP", {})
        client_ip.setdefault("timeoutSeconds", 10800)
    spec.setdefault("type", "ClusterIP")
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
    if externally_accessible(spec):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if spec["type"] in ("ClusterIP", "NodePort", "LoadBalancer"):
        spec.setdefault("internalTrafficPolicy", "Cluster")
    if spec["type"] == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)


def externally_accessible(spec):
    """``service.ExternallyAccessible``: NodePort, LoadBalancer, or ClusterIP with externalIPs."""
    return spec.get("type") in ("NodePort", "LoadBalancer") or (
        spec.get("type") == "ClusterIP" and bool(spec.get("externalIPs")))


def default_endpoints(ep):
    for subset in ep.get("subsets") or []:
        for port in subset.get("ports") or []:
            port.setdefault("protocol", "TCP")


def default_endpointslice(eps):
    for port in eps.get("ports") or []:  # SetDefaults_EndpointPort
        port.setdefault("name", "")
        port.setdefault("protocol", "TCP")


# -- cluster objects ---------------------------------------------------------------------

def default_namespace(ns):
    name = (ns.get("metadata") or {}).get("name")
    if name:
        ns["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
    ns.setdefault("status", {}).setdefault("phase", "Active")


def default_node(node):
    status = node.get("status")
    if status and status.get("capacity") and not status.get("allocatable"):
        status["allocatable"] = dict(status["capacity"])


def default_binding(binding):
    for subject in binding.get("subjects") or []:
        if subject.get("kind") in ("User", "Group"):
            subject.setdefault("apiGroup", RBAC_GROUP)
        elif subject.get("kind") == "ServiceAccount":
            subject.setdefault("apiGroup", "")


_DEFAULTERS = {
    ("v1", "Pod"): default_pod,
    ("v1", "Service"): default_service,
    ("v1", "Endpoints"): default_endpoints,
    ("discovery.k8s.io/v1", "EndpointSlice"): default_endpointslice,
    ("v1", "Namespace"): default_namespace,
    ("v1", "Node"): default_node,
    ("apps/v1", "Deployment"): default_deployment,
    ("apps/v1", "ReplicaSet"): default_replicaset,
    (f"{RBAC_GROUP}/v1", "RoleBinding"): default_binding,
    (f"{RBAC_GROUP}/v1", "ClusterRoleBinding"): default_binding,
}
