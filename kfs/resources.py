"""The kinds kfs serves: the shared vocabulary of the API server, the client and kubectl.

One ``Resource`` per kind, with what discovery publishes (group, version, plural, kind,
short names, verbs, subresources) and where the API server stores it in etcd (upstream's
layout: ``/registry/<resource>/<namespace>/<name>``, with upstream's exceptions for
services, endpoints and nodes).

Mirrors the resource registrations under ``pkg/registry`` and discovery's
``APIResourceList``; real Kubernetes builds this from generated type registrations and
serves many more kinds and versions.
"""
from dataclasses import dataclass, field

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Resource:
    group: str              # "" for the core group
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple = ()
    subresources: dict = field(default_factory=dict)  # name -> (kind, group, version)
    categories: tuple = ()
    verbs: tuple = ALL_VERBS
    storage: str = None     # etcd key prefix, when not /registry/<plural>
    stored: bool = True     # reviews are answered, never stored

    @property
    def api_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self):
        return self.kind.lower()

    @property
    def group_resource(self):
        """``deployments.apps``: how kubectl names a resource in messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def prefix(self):
        return self.storage or f"/registry/{self.plural}"

    def etcd_key(self, namespace, name):
        parts = [self.prefix] + ([namespace] if self.namespaced else []) + [name]
        return "/".join(parts)

    def path(self, namespace=None, name=None, subresource=None):
        """The REST path: /api/v1/namespaces/ns/pods/name/status."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
        if subresource:
            base += f"/{subresource}"
        return base


STATUS = ("", "", "")  # a subresource of the resource's own kind
SCALE = ("Scale", "autoscaling", "v1")

RESOURCES = [
    Resource("", "v1", "namespaces", "Namespace", False, ("ns",),
             {"status": STATUS}, verbs=("create", "delete", "get", "list", "patch",
                                        "update", "watch")),
    Resource("", "v1", "nodes", "Node", False, ("no",), {"status": STATUS},
             storage="/registry/minions"),
    Resource("", "v1", "pods", "Pod", True, ("po",),
             {"status": STATUS, "binding": ("Binding", "", "v1"), "log": ("Pod", "", "v1"),
              "eviction": ("Eviction", "policy", "v1"), "exec": ("PodExecOptions", "", "v1"),
              "attach": ("PodAttachOptions", "", "v1"),
              "portforward": ("PodPortForwardOptions", "", "v1"),
              "ephemeralcontainers": ("Pod", "", "v1")},
             categories=("all",)),
    Resource("", "v1", "services", "Service", True, ("svc",), {"status": STATUS},
             categories=("all",), storage="/registry/services/specs"),
    Resource("", "v1", "endpoints", "Endpoints", True, ("ep",),
             storage="/registry/services/endpoints"),
    Resource("", "v1", "events", "Event", True, ("ev",)),
    Resource("", "v1", "secrets", "Secret", True),
    Resource("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True),
    Resource("coordination.k8s.io", "v1", "leases", "Lease", True),
    Resource("apps", "v1", "deployments", "Deployment", True, ("deploy",),
             {"status": STATUS, "scale": SCALE}, categories=("all",)),
    Resource("apps", "v1", "replicasets", "ReplicaSet", True, ("rs",),
             {"status": STATUS, "scale": SCALE}, categories=("all",)),
    Resource("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ("pdb",),
             {"status": STATUS}),
    Resource("certificates.k8s.io", "v1", "certificatesigningrequests",
             "CertificateSigningRequest", False, ("csr",),
             {"status": STATUS, "approval": STATUS}),
    Resource("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    Resource("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    Resource("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    Resource("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding",
             False),
    Resource("authorization.k8s.io", "v1", "selfsubjectaccessreviews",
             "SelfSubjectAccessReview", False, verbs=("create",), stored=False),
    Resource("authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview",
             False, verbs=("create",), stored=False),
    Resource("authorization.k8s.io", "v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview",
             False, verbs=("create",), stored=False),
    Resource("authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview", False,
             verbs=("create",), stored=False),
]

_BY_KIND = {(r.api_version, r.kind): r for r in RESOURCES}
_BY_NAME = {}
for _r in RESOURCES:
    for _n in (_r.plural, _r.singular, *_r.short_names, _r.group_resource,
               f"{_r.singular}.{_r.group}" if _r.group else _r.singular):
        _BY_NAME.setdefault(_n.lower(), _r)


class UnknownResource(LookupError):
    pass


def lookup(name):
    """A resource by plural, singular, short name or ``plural.group``: "deploy" -> deployments."""
    try:
        return _BY_NAME[name.lower()]
    except KeyError:
        raise UnknownResource(f'the server doesn\'t have a resource type "{name}"') from None


def for_object(obj):
    """The resource of an object, by its apiVersion and kind."""
    try:
        return _BY_KIND[(obj["apiVersion"], obj["kind"])]
    except KeyError:
        raise UnknownResource(f'no matches for kind "{obj.get("kind")}" in version '
                              f'"{obj.get("apiVersion")}"') from None


def for_path(group, version, plural):
    for r in RESOURCES:
        if (r.group, r.version, r.plural) == (group, version, plural):
            return r
    return None


def groups():
    """{group: [resources]} in discovery order, core group first."""
    out = {}
    for r in RESOURCES:
        out.setdefault(r.group, []).append(r)
    return out
