"""Namespaces (``v1``): the folders most objects live in, and what guards them.

- **defaults**: the label ``kubernetes.io/metadata.name: <name>``, phase Active;
- **create** adds the ``kubernetes`` finalizer; updates of the main resource keep
  ``spec.finalizers`` (only the finalize subresource may change them upstream);
- **validation**: the name is a DNS label;
- **NamespaceLifecycle** (an admission plugin this kind brings): an object may be created
  only in a namespace that exists and is not being terminated;
- **deletion**: ``default``, ``kube-system`` and ``kube-public`` may not be deleted; deleting
  a namespace first marks it Terminating, then deletes everything in it, then itself.

Mirrors pkg/apis/core/v1/defaults.go (SetDefaults_Namespace), pkg/registry/core/namespace
(strategy.go, storage/storage.go), plugin/pkg/admission/namespace/lifecycle and
pkg/controller/namespace (the deletion of the contents), printNamespace.

What real Kubernetes does differently: the registry only sets the deletionTimestamp and
phase Terminating; the namespace controller deletes the contents (discovering every
resource type, CRDs included) and then removes the ``kubernetes`` finalizer. NamespaceLifecycle
reads namespaces from an informer, with a live lookup when its cache misses.
"""
import time

from kfs import meta, resources
from kfs.apiserver import errors
from kfs.apiserver.kinds import Kind
from kfs.apiserver.tables import AGE, NAME, age, col
from kfs.apiserver.validation.fields import name_is_label

PROTECTED = ("default", "kube-system", "kube-public")
LIFECYCLE_TTL = 5.0   # seconds a namespace seen to exist is trusted without a read
COLUMNS = [NAME, col("Status", description="The status of the namespace"), AGE]


class Lifecycle:
    """NamespaceLifecycle: creates only into namespaces that exist and are not terminating."""

    def __init__(self, clock=time.monotonic):
        self.seen, self.clock = {}, clock   # name -> when it was last seen to exist

    def admit(self, registry, resource, namespace):
        if not self.reads_storage(resource, namespace):
            return
        ns_resource = resources.lookup("namespaces")
        ns = registry.get(ns_resource, None, namespace)
        if (ns.get("status") or {}).get("phase") == "Terminating":
            raise errors.forbidden(ns_resource, namespace, f"unable to create new content in "
                                   f"namespace {namespace} because it is being terminated")
        self.seen[namespace] = self.clock()

    def reads_storage(self, resource, namespace):
        """Would `admit` read the namespace (not seen to exist for LIFECYCLE_TTL)?"""
        seen = self.seen.get(namespace)
        return resource.namespaced and (seen is None or self.clock() - seen >= LIFECYCLE_TTL)

    def forget(self, namespace):
        self.seen.pop(namespace, None)


class Namespace(Kind):
    api_version, kind = "v1", "Namespace"
    name_rule = staticmethod(name_is_label)
    columns = COLUMNS
    field_selectors = {"status.phase": None}

    def __init__(self, server=None):
        super().__init__(server)
        self.lifecycle = Lifecycle()

    def default(self, ns):
        name = (ns.get("metadata") or {}).get("name")
        if name:
            ns["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
        ns.setdefault("status", {}).setdefault("phase", "Active")

    def prepare_for_create(self, ns):
        finalizers = ns.setdefault("spec", {}).setdefault("finalizers", [])
        if "kubernetes" not in finalizers:
            finalizers.append("kubernetes")
        ns["status"] = {"phase": "Active"}

    def prepare_for_update(self, new, old):
        spec = new.setdefault("spec", {})
        spec.pop("finalizers", None)
        if "finalizers" in (old.get("spec") or {}):
            spec["finalizers"] = list(old["spec"]["finalizers"])

    def print_row(self, ns, now):
        return [meta.name(ns), (ns.get("status") or {}).get("phase", ""), age(ns, now)]

    def admission_plugins(self):
        return [self.lifecycle]

    def check_delete(self, name):
        if name in PROTECTED:
            raise errors.forbidden(self.resource, name, "this namespace may not be deleted")

    def before_delete(self, registry, ns):
        """Delete everything in the namespace first (upstream: the namespace controller,
        while the namespace shows phase Terminating)."""
        name = meta.name(ns)
        self.lifecycle.forget(name)
        registry.update_with(self.resource, None, name,
                             lambda current: {**current, "status": {"phase": "Terminating"}})
        for r in resources.RESOURCES:
            if r.namespaced and r.stored:
                registry.delete_collection(r, name, {"gracePeriodSeconds": 0})

    def after_delete(self, registry, ns):
        self.lifecycle.forget(meta.name(ns))


KIND = Namespace
