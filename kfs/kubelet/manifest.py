"""Pod manifests: decode, check, default, and name static pods.

A manifest is one Pod (or a PodList) in YAML or JSON, as ``kubectl apply -f`` would take.
The file and URL sources hand every manifest through ``decode_pods``: it raises
``ManifestError`` with a message naming the field at fault (invalid YAML, a missing image,
an unknown field such as ``spec.containers[0].imagee``), so a bad file is reported in the
kubelet's log while the other pods keep running.

Mirrors ``pkg/kubelet/config/common.go`` (``tryDecodeSinglePod``, ``applyDefaults``: the
static pod's name ``<name>-<nodeName>``, its UID hashed from its content, the
``kubernetes.io/config.*`` annotations) and a slice of the API's defaulting
(``pkg/apis/core/v1/defaults.go``) and validation.

What real Kubernetes does differently: typed decoding against generated Go structs (unknown
fields are found by the strict decoder), and the full ``ValidatePodCreate``.
"""
import copy
import hashlib
import json

import yaml

CONFIG_SOURCE = "kubernetes.io/config.source"   # "file", "http" or "api"
CONFIG_HASH = "kubernetes.io/config.hash"
CONFIG_SEEN = "kubernetes.io/config.seen"
CONFIG_MIRROR = "kubernetes.io/config.mirror"

ANY = None  # a field whose content we take as it is

PROBE = {"exec": {"command": ANY}, "httpGet": {"path": ANY, "port": ANY, "host": ANY,
         "scheme": ANY, "httpHeaders": ANY}, "tcpSocket": {"port": ANY, "host": ANY},
         "grpc": ANY, "initialDelaySeconds": ANY, "timeoutSeconds": ANY, "periodSeconds": ANY,
         "successThreshold": ANY, "failureThreshold": ANY,
         "terminationGracePeriodSeconds": ANY}

CONTAINER = {
    "name": ANY, "image": ANY, "command": ANY, "args": ANY, "workingDir": ANY,
    "ports": {"name": ANY, "containerPort": ANY, "hostPort": ANY, "hostIP": ANY,
              "protocol": ANY},
    "env": {"name": ANY, "value": ANY, "valueFrom": ANY}, "envFrom": ANY,
    "resources": {"limits": ANY, "requests": ANY, "claims": ANY}, "resizePolicy": ANY,
    "restartPolicy": ANY,
    "volumeMounts": {"name": ANY, "mountPath": ANY, "readOnly": ANY, "subPath": ANY,
                     "subPathExpr": ANY, "mountPropagation": ANY, "recursiveReadOnly": ANY},
    "volumeDevices": ANY, "livenessProbe": PROBE, "readinessProbe": PROBE,
    "startupProbe": PROBE, "lifecycle": ANY, "terminationMessagePath": ANY,
    "terminationMessagePolicy": ANY, "imagePullPolicy": ANY, "securityContext": ANY,
    "stdin": ANY, "stdinOnce": ANY, "tty": ANY,
}

VOLUME = {"name": ANY, "hostPath": {"path": ANY, "type": ANY},
          "emptyDir": {"medium": ANY, "sizeLimit": ANY},
          **{k: ANY for k in ("configMap", "secret", "persistentVolumeClaim", "projected",
                              "downwardAPI", "nfs", "ephemeral", "csi", "image")}}

SPEC = {
    "containers": CONTAINER, "initContainers": CONTAINER, "volumes": VOLUME,
    **{k: ANY for k in (
        "ephemeralContainers", "restartPolicy", "terminationGracePeriodSeconds",
        "activeDeadlineSeconds", "dnsPolicy", "nodeSelector", "serviceAccountName",
        "serviceAccount", "automountServiceAccountToken", "nodeName", "hostNetwork", "hostPID",
        "hostIPC", "shareProcessNamespace", "securityContext", "imagePullSecrets", "hostname",
        "subdomain", "affinity", "schedulerName", "tolerations", "hostAliases",
        "priorityClassName", "priority", "dnsConfig", "readinessGates", "runtimeClassName",
        "enableServiceLinks", "preemptionPolicy", "overhead", "topologySpreadConstraints",
        "setHostnameAsFQDN", "os", "hostUsers", "schedulingGates", "resourceClaims",
        "resources")}}

METADATA = {k: ANY for k in (
    "name", "generateName", "namespace", "uid", "labels", "annotations", "resourceVersion",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences",
    "finalizers", "generation", "managedFields", "selfLink")}

POD = {"apiVersion": ANY, "kind": ANY, "metadata": METADATA, "spec": SPEC, "status": ANY}

RESTART_POLICIES = ("Always", "OnFailure", "Never")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")


class ManifestError(ValueError):
    """A manifest that cannot become a pod; the message names what to fix."""


def unknown_fields(obj, schema, path=""):
    """Paths of the fields of `obj` that `schema` does not know."""
    if schema is ANY:
        return []
    if isinstance(obj, list):
        return [p for i, item in enumerate(obj) for p in unknown_fields(item, schema, f"{path}[{i}]")]
    if not isinstance(obj, dict):
        return []
    found = []
    for k, v in obj.items():
        where = f"{path}.{k}" if path else k
        found += [where] if k not in schema else unknown_fields(v, schema[k], where)
    return found


def validate(pod):
    """Raise ManifestError naming the first field at fault."""
    if not isinstance(pod, dict):
        raise ManifestError("a manifest must be a Pod object (a mapping), "
                            f"not {type(pod).__name__}")
    if pod.get("kind") != "Pod" or pod.get("apiVersion") != "v1":
        raise ManifestError(f"kind must be Pod and apiVersion v1, got kind "
                            f"{pod.get('kind')!r} apiVersion {pod.get('apiVersion')!r}")
    unknown = unknown_fields(pod, POD)
    if unknown:
        raise ManifestError(f'unknown field "{unknown[0]}"')
    if not (pod.get("metadata") or {}).get("name"):
        raise ManifestError("metadata.name: Required value")
    spec = pod.get("spec") or {}
    containers = spec.get("containers") or []
    if not containers:
        raise ManifestError("spec.containers: Required value")
    names = set()
    for i, c in enumerate(containers):
        if not c.get("name"):
            raise ManifestError(f"spec.containers[{i}].name: Required value")
        if c["name"] in names:
            raise ManifestError(f'spec.containers[{i}].name: Duplicate value: "{c["name"]}"')
        names.add(c["name"])
        if not c.get("image"):
            raise ManifestError(f"spec.containers[{i}].image: Required value")
        if c.get("imagePullPolicy", "IfNotPresent") not in PULL_POLICIES:
            raise ManifestError(f"spec.containers[{i}].imagePullPolicy: Unsupported value: "
                                f"{c['imagePullPolicy']!r}: supported values: "
                                f"{', '.join(PULL_POLICIES)}")
    if spec.get("restartPolicy", "Always") not in RESTART_POLICIES:
        raise ManifestError(f"spec.restartPolicy: Unsupported value: {spec['restartPolicy']!r}: "
                            f"supported values: {', '.join(RESTART_POLICIES)}")
    volumes = {v.get("name") for v in spec.get("volumes") or []}
    for i, c in enumerate(containers):
        for j, m in enumerate(c.get("volumeMounts") or []):
            if m.get("name") not in volumes:
                raise ManifestError(f"spec.containers[{i}].volumeMounts[{j}].name: Not found: "
                                    f"{m.get('name')!r}")


def decode_pods(text, what="manifest"):
    """YAML or JSON text -> a list of pods (one Pod, or the items of a PodList), validated."""
    try:
        obj = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ManifestError(f"{what}: invalid YAML: {' '.join(str(e).split())}") from None
    if obj is None:
        raise ManifestError(f"{what}: empty manifest")
    if isinstance(obj, dict) and obj.get("kind") == "PodList":
        pods = obj.get("items") or []
    else:
        pods = [obj]
    for pod in pods:
        try:
            validate(pod)
        except ManifestError as e:
            name = (pod.get("metadata") or {}).get("name") if isinstance(pod, dict) else None
            raise ManifestError(f"{what}: pod {name!r}: {e}" if name else f"{what}: {e}") from None
    return pods


def default_pull_policy(image):
    """Always for ":latest" or no tag, else IfNotPresent (pkg/apis/core/v1/defaults.go)."""
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return "IfNotPresent"
    return "Always" if ":" not in last or last.endswith(":latest") else "IfNotPresent"


def set_defaults(pod):
    """Fill in what the API server would default (in place) and return the pod."""
    m = pod.setdefault("metadata", {})
    m.setdefault("namespace", "default")
    spec = pod.setdefault("spec", {})
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    for c in spec.get("containers") or []:
        c.setdefault("imagePullPolicy", default_pull_policy(c["image"]))
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        for p in c.get("ports") or []:
            p.setdefault("protocol", "TCP")
        for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
            if c.get(kind):
                probe = c[kind]
                for k, v in (("timeoutSeconds", 1), ("periodSeconds", 10),
                             ("successThreshold", 1), ("failureThreshold", 3)):
                    probe.setdefault(k, v)
                if "httpGet" in probe:
                    probe["httpGet"].setdefault("path", "/")
                    probe["httpGet"].setdefault("scheme", "HTTP")
    return pod


def static_pod(pod, node_name, source, source_id):
    """A pod from a file or URL as the kubelet runs it (common.go applyDefaults).

    Named ``<name>-<nodeName>``, bound to this node, with a UID hashed from the node, the
    source and the pod's content: the same manifest gives the same UID after a kubelet
    restart (so its containers are adopted), a changed manifest a new pod.
    """
    pod = set_defaults(copy.deepcopy(pod))
    digest = hashlib.md5()
    digest.update(f"{node_name}\0{source}\0{source_id}\0".encode())
    digest.update(json.dumps(pod, sort_keys=True).encode())
    uid = digest.hexdigest()
    m = pod["metadata"]
    m["name"] = f"{m['name']}-{node_name}"
    m["uid"] = m.get("uid") or uid
    m["selfLink"] = f"/api/v1/namespaces/{m['namespace']}/pods/{m['name']}"
    m.setdefault("annotations", {}).update(
        {CONFIG_HASH: uid, CONFIG_SOURCE: source})
    pod["spec"]["nodeName"] = node_name
    pod["spec"].setdefault("tolerations", []).append(
        {"operator": "Exists", "effect": "NoExecute"})
    return pod


def full_name(pod):
    """"name_namespace": how the kubelet tells pods apart across sources."""
    m = pod["metadata"]
    return f"{m['name']}_{m.get('namespace', 'default')}"


def is_static(pod):
    return (pod["metadata"].get("annotations") or {}).get(CONFIG_SOURCE) in ("file", "http")


def is_mirror(pod):
    """A mirror pod: the API server's copy of a static pod (the kubelet never runs those)."""
    return CONFIG_MIRROR in (pod["metadata"].get("annotations") or {})
