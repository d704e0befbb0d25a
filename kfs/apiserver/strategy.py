"""Registry strategies: what the API server keeps, drops and fills in on create and update.

A client writes a whole object, but not every field is the client's to write:

- on **create** the server fills the system fields (``uid``, ``creationTimestamp``, a name
  from ``generateName``), starts Deployments and ReplicaSets at ``metadata.generation: 1``
  with an empty status, and a Pod at ``status: {phase: Pending, qosClass: ...}``;
- on an **update of the main resource** the status is the server's (kept from the stored
  object) and ``generation`` counts spec changes: it moves only when the spec changes
  (for a Deployment, also its annotations), never on status or metadata-only writes;
- on an update through **/status** it is the other way round: spec (and for workloads the
  labels) come from the stored object, and the generation never moves;
- **/scale** writes ``spec.replicas`` through an ``autoscaling/v1`` Scale (`to_scale`,
  `from_scale`); it is a spec change like any other, so the generation moves.

This is how ``kubectl rollout status`` can tell a Deployment the controller has not seen
yet (``generation > status.observedGeneration``) from one it has.

Mirrors pkg/registry/*/strategy.go (PrepareForCreate, PrepareForUpdate, the status
strategies), apiserver pkg/registry/rest/create.go and update.go (BeforeCreate,
BeforeUpdate, FillObjectMetaSystemFields, SimpleNameGenerator),
pkg/registry/apps/deployment/storage (scale), pkg/apis/core/helper/qos (GetPodQOS) and the
Service REST storage's NormalizeClusterIPs and patchAllocatedValues.

What real Kubernetes does differently: it also drops fields of disabled feature gates,
tracks managedFields for server-side apply, computes Pod generation (1.33+) and checks
that the namespace in the body matches the URL.
"""
import copy
import random

from kfs import meta, resources

NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"   # SimpleNameGenerator: no vowels, no 0/1/3
WITH_GENERATION = {("apps/v1", "Deployment"), ("apps/v1", "ReplicaSet")}


def has_status_subresource(resource):
    """Does the resource (a kfs.resources.Resource or a name kubectl would accept) have /status?"""
    if isinstance(resource, str):
        resource = resources.lookup(resource)
    return "status" in resource.subresources


def _key(obj):
    return obj.get("apiVersion"), obj.get("kind")


def _namespaced(obj):
    try:
        return resources.for_object(obj).namespaced
    except resources.UnknownResource:
        return True


# -- create ---------------------------------------------------------------------------------

def prepare_for_create(obj, now=None, rand=random):
    """BeforeCreate + the kind's PrepareForCreate, in place. `now` is an RFC 3339 time."""
    md = obj.setdefault("metadata", {})
    md.pop("deletionTimestamp", None)
    md.pop("deletionGracePeriodSeconds", None)
    if not _namespaced(obj):
        md.pop("namespace", None)
    if md.get("generateName") and not md.get("name"):
        md["name"] = generate_name(md["generateName"], rand)
    md["uid"] = meta.new_uid()
    md["creationTimestamp"] = now or meta.now()
    if _key(obj) in WITH_GENERATION:
        md["generation"] = 1
    fn = _CREATE.get(_key(obj))
    if fn:
        fn(obj)


def generate_name(prefix, rand=random):
    """SimpleNameGenerator: the prefix (cut to 58 characters) and 5 random characters."""
    return prefix[:58] + "".join(rand.choice(NAME_CHARS) for _ in range(5))


def _create_pod(pod):
    pod["status"] = {"phase": "Pending", "qosClass": pod_qos_class(pod)}


def _create_workload(obj):
    obj["status"] = {}


def _create_service(svc):
    svc["status"] = {"loadBalancer": {}}
    normalize_cluster_ips(svc.setdefault("spec", {}))


def _create_namespace(ns):
    finalizers = ns.setdefault("spec", {}).setdefault("finalizers", [])
    if "kubernetes" not in finalizers:
        finalizers.append("kubernetes")
    ns["status"] = {"phase": "Active"}


def _create_node(node):
    node.setdefault("spec", {}).pop("configSource", None)


_CREATE = {
    ("v1", "Pod"): _create_pod,
    ("v1", "Service"): _create_service,
    ("v1", "Namespace"): _create_namespace,
    ("v1", "Node"): _create_node,
    ("apps/v1", "Deployment"): _create_workload,
    ("apps/v1", "ReplicaSet"): _create_workload,
}


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


# -- update ---------------------------------------------------------------------------------

def prepare_for_update(new, old, subresource=None):
    """BeforeUpdate + the kind's PrepareForUpdate (or its status strategy's), in place.

    `subresource` is None for the main resource, "status" or "scale".
    """
    md, old_md = new.setdefault("metadata", {}), old.get("metadata") or {}
    for f in ("generation", "creationTimestamp", "deletionTimestamp"):
        if f in old_md:
            md[f] = old_md[f]
        else:
            md.pop(f, None)
    for f in ("uid", "deletionGracePeriodSeconds"):
        if f in old_md and not md.get(f):
            md[f] = old_md[f]
    if not _namespaced(new):
        md.pop("namespace", None)
    if subresource == "status":
        _update_status(new, old)
    else:
        _update_main(new, old)


def _update_main(new, old):
    key = _key(new)
    if "status" in old and _has_status(new):
        new["status"] = copy.deepcopy(old["status"])
    elif _has_status(new):
        new.pop("status", None)
    spec_changed = new.get("spec") != old.get("spec")
    if key == ("apps/v1", "Deployment"):   # annotations are copied to ReplicaSets: they count
        spec_changed = spec_changed or meta.annotations(new) != meta.annotations(old)
    if key in WITH_GENERATION and spec_changed:
        new["metadata"]["generation"] = (old.get("metadata") or {}).get("generation", 0) + 1
    if key == ("v1", "Namespace"):
        spec = new.setdefault("spec", {})
        spec.pop("finalizers", None)
        if "finalizers" in (old.get("spec") or {}):
            spec["finalizers"] = list(old["spec"]["finalizers"])
    if key == ("v1", "Service"):
        _keep_allocated_values(new.setdefault("spec", {}), old.get("spec") or {})
        normalize_cluster_ips(new["spec"])


def _has_status(obj):
    try:
        return has_status_subresource(resources.for_object(obj))
    except resources.UnknownResource:
        return False


def _update_status(new, old):
    key = _key(new)
    if "spec" in old:
        new["spec"] = copy.deepcopy(old["spec"])
    else:
        new.pop("spec", None)
    md, old_md = new["metadata"], old.get("metadata") or {}
    if key in WITH_GENERATION:                 # deploymentStatusStrategy, rsStatusStrategy
        _copy_field(md, old_md, "labels")
    if key == ("v1", "Pod"):                   # podStatusStrategy
        _copy_field(md, old_md, "ownerReferences")
        status = new.setdefault("status", {})
        if not status.get("qosClass") and (old.get("status") or {}).get("qosClass"):
            status["qosClass"] = old["status"]["qosClass"]


def _copy_field(md, old_md, f):
    if f in old_md:
        md[f] = copy.deepcopy(old_md[f])
    else:
        md.pop(f, None)


# -- Services: ClusterIPs and NodePorts survive an update that leaves them out -------------------

def normalize_cluster_ips(spec):
    """NormalizeClusterIPs: ``clusterIP`` and ``clusterIPs[0]`` say the same thing."""
    if spec.get("clusterIP") and not spec.get("clusterIPs"):
        spec["clusterIPs"] = [spec["clusterIP"]]
    elif spec.get("clusterIPs") and not spec.get("clusterIP"):
        spec["clusterIP"] = spec["clusterIPs"][0]


def _keep_allocated_values(spec, old_spec):
    """patchAllocatedValues: ``kubectl apply`` of a manifest without clusterIP/nodePort."""
    if spec.get("type", "ClusterIP") != "ExternalName" and old_spec.get("type") != "ExternalName" \
            and not spec.get("clusterIP") and not spec.get("clusterIPs"):
        for f in ("clusterIP", "clusterIPs"):
            if old_spec.get(f):
                spec[f] = copy.deepcopy(old_spec[f])
    needs = ("NodePort", "LoadBalancer")
    if spec.get("type") in needs and old_spec.get("type") in needs \
            and not any(p.get("nodePort") for p in spec.get("ports") or []):
        by_name = {p.get("name", ""): p.get("nodePort") for p in old_spec.get("ports") or []}
        for p in spec.get("ports") or []:
            if by_name.get(p.get("name", "")):
                p["nodePort"] = by_name[p.get("name", "")]
    if old_spec.get("healthCheckNodePort") and not spec.get("healthCheckNodePort"):
        spec["healthCheckNodePort"] = old_spec["healthCheckNodePort"]


# -- /scale ---------------------------------------------------------------------------------

def to_scale(obj):
    """The autoscaling/v1 Scale of a Deployment or ReplicaSet (scaleFromDeployment)."""
    md = obj.get("metadata") or {}
    selector = (obj.get("spec") or {}).get("selector")
    scale = {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {k: md[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                     if k in md},
        "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
        "status": {"replicas": (obj.get("status") or {}).get("replicas", 0)},
    }
    if selector is not None:
        scale["status"]["selector"] = meta.selector_to_string(selector)
    return scale


def from_scale(obj, scale):
    """A copy of `obj` with the Scale's spec.replicas, ready for `prepare_for_update`.

    The Scale's resourceVersion, when it has one, becomes the update's precondition, as
    upstream's scaleUpdatedObjectInfo does.
    """
    new = copy.deepcopy(obj)
    new.setdefault("spec", {})["replicas"] = (scale.get("spec") or {}).get("replicas", 0)
    rv = (scale.get("metadata") or {}).get("resourceVersion")
    if rv:
        new.setdefault("metadata", {})["resourceVersion"] = rv
    return new
