"""The registry: create, get, list, update, patch and delete of any kind, over etcd.

One generic store serves every resource, with a few per-kind rules layered on, as in
upstream: Services get a ClusterIP and NodePorts (``services.Allocator``), pods get
graceful deletion and a ``binding`` subresource, Deployments and ReplicaSets a ``scale``
subresource, a namespaced object needs its namespace to exist, and deleting a namespace
deletes what is in it. Everything else is ``admission`` (decode, defaults, strategy,
validation) and ``storage`` (transactions on etcd).

The functions are synchronous: the HTTP layer runs them in a thread pool. Errors are
``StatusError``s (``kfs.apiserver.errors``), ready to be sent.

Mirrors ``apiserver/pkg/registry/generic/registry/store.go`` and the per-kind REST storage
in ``pkg/registry`` (pod/storage for binding, service/storage for allocation,
apps/deployment/storage for scale).

What real Kubernetes does differently: each kind has its own store object; the
NamespaceLifecycle admission plugin and the namespace controller (not the registry)
guard and empty namespaces; server-side apply tracks field ownership; dry-run allocates
ClusterIPs without keeping them.
"""
import copy
import time
from contextlib import contextmanager

import yaml

from kfs import meta, resources, storage as st
from kfs.apiserver import admission, deletion, errors, patch as patches, strategy

NAMESPACES = resources.lookup("namespaces")
PODS = resources.lookup("pods")
PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public")
NAMESPACE_TTL = 5.0
PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json",
               "application/strategic-merge-patch+json", "application/apply-patch+yaml")

# Field selectors each kind supports besides metadata.name and metadata.namespace
# (upstream's per-kind field label conversion funcs); alias -> path in the object.
FIELDS = {
    "pods": {"spec.nodeName": None, "spec.restartPolicy": None, "spec.schedulerName": None,
             "spec.serviceAccountName": None, "spec.hostNetwork": None, "status.phase": None,
             "status.podIP": None, "status.nominatedNodeName": None},
    "events": {"involvedObject.kind": None, "involvedObject.namespace": None,
               "involvedObject.name": None, "involvedObject.uid": None,
               "involvedObject.apiVersion": None, "involvedObject.resourceVersion": None,
               "involvedObject.fieldPath": None, "reason": None, "reportingComponent": None,
               "type": None, "source": "source.component"},
    "nodes": {"spec.unschedulable": None},
    "namespaces": {"status.phase": None},
    "replicasets": {"status.replicas": None},
}
FIELD_DEFAULTS = {"spec.hostNetwork": "false", "spec.unschedulable": "false"}


def predicate(resource, label_selector=None, field_selector=None):
    """A filter for list and watch from the selectors' string forms (400 if malformed)."""
    try:
        labels = meta.parse_selector(label_selector) if label_selector else None
        fields = meta.parse_field_selector(field_selector) if field_selector else []
    except meta.SelectorError as e:
        raise errors.bad_request(str(e)) from None
    known = FIELDS.get(resource.plural, {})
    paths = []
    for path, op, value in fields:
        if path not in ("metadata.name", "metadata.namespace") and path not in known:
            raise errors.bad_request(f'field label not supported: {path}')
        paths.append((known.get(path) or path, op, value))
    if labels is None and not paths:
        return None

    def match(obj):
        if labels is not None and not meta.matches(labels, meta.labels(obj)):
            return False
        for path, op, value in paths:
            actual = meta.field_value(obj, path) or FIELD_DEFAULTS.get(path, "")
            if (actual == value) != (op == "="):
                return False
        return True
    return match


@contextmanager
def storage_errors(resource, name=""):
    """Storage failures as the Status a client expects."""
    try:
        yield
    except st.KeyNotFound:
        raise errors.not_found(resource, name) from None
    except st.KeyExists:
        raise errors.already_exists(resource, name) from None
    except st.Conflict:
        raise errors.conflict(resource, name) from None
    except st.Expired as e:
        raise errors.expired(str(e)) from None
    except st.TooLarge:
        raise errors.too_large(3 << 20) from None
    except st.Unavailable as e:
        raise errors.timeout(f"storage is unavailable: {e}") from None


def apply_patch(content_type, base, body, resource):
    """The patched object: `body` applied to `base` by the patch type."""
    try:
        if content_type == "application/json-patch+json":
            if not isinstance(body, list):
                raise errors.bad_request("json patch: the patch must be a JSON array")
            return patches.json_patch(base, body)
        if not isinstance(body, dict):
            raise errors.bad_request("the patch must be a JSON object")
        if content_type == "application/merge-patch+json":
            return patches.json_merge(base, body)
        if content_type == "application/strategic-merge-patch+json":
            return patches.strategic_merge(base, body, base.get("apiVersion", resource.api_version),
                                           base.get("kind", resource.kind))
        return patches.apply(base or None, body, resource.api_version, resource.kind)
    except patches.PatchError as e:
        raise errors.StatusError(422, "Invalid", str(e)) from None


def parse_patch(content_type, data):
    try:
        if content_type == "application/apply-patch+yaml":
            return yaml.safe_load(data)
        import json
        return json.loads(data)
    except (ValueError, yaml.YAMLError) as e:
        raise errors.bad_request(f"error decoding patch: {e}") from None


class Registry:
    def __init__(self, storage, allocator, event_ttl=3600):
        self.storage, self.allocator, self.event_ttl = storage, allocator, event_ttl
        self._namespaces = {}  # name -> when we last saw it exist

    @staticmethod
    def key(resource, namespace, name):
        return resource.etcd_key(namespace, name)

    @staticmethod
    def prefix(resource, namespace):
        ns = f"{namespace}/" if resource.namespaced and namespace else ""
        return f"{resource.prefix}/{ns}"

    def check_namespace(self, namespace):
        """NamespaceLifecycle: a namespaced object needs its namespace (404 otherwise)."""
        seen = self._namespaces.get(namespace)
        if seen and time.monotonic() - seen < NAMESPACE_TTL:
            return
        ns = self.get(NAMESPACES, None, namespace)
        if (ns.get("status") or {}).get("phase") == "Terminating":
            raise errors.forbidden(NAMESPACES, namespace, f"unable to create new content in "
                                   f"namespace {namespace} because it is being terminated")
        self._namespaces[namespace] = time.monotonic()

    # -- reads -------------------------------------------------------------------------------

    def get(self, resource, namespace, name):
        with storage_errors(resource, name):
            return self.storage.get(self.key(resource, namespace, name))

    def list(self, resource, namespace, label_selector=None, field_selector=None, limit=0,
             continue_token=None, resource_version=None, match=None):
        flt = predicate(resource, label_selector, field_selector)
        revision = int(resource_version) if match == "Exact" and resource_version else 0
        try:
            with storage_errors(resource):
                items, rev, token = self.storage.list(self.prefix(resource, namespace), limit,
                                                      continue_token, revision, flt)
        except ValueError as e:
            raise errors.bad_request(str(e)) from None
        for item in items:  # list items carry no kind (a typed list knows it)
            item.pop("kind", None)
            item.pop("apiVersion", None)
        md = {"resourceVersion": str(rev)}
        if token:
            md["continue"] = token
        return {"kind": f"{resource.kind}List", "apiVersion": resource.api_version,
                "metadata": md, "items": items}

    # -- create ------------------------------------------------------------------------------

    def create(self, resource, namespace, obj, dry_run=False):
        md = obj.setdefault("metadata", {})
        if resource.namespaced:
            if md.get("namespace") and md["namespace"] != namespace:
                raise errors.bad_request("the namespace of the provided object does not match "
                                         "the namespace sent on the request")
            md["namespace"] = namespace
            self.check_namespace(namespace)
        if md.get("resourceVersion"):
            raise errors.bad_request("resourceVersion should not be set on objects to be created")
        for attempt in range(8):  # a taken generated name: generate another
            candidate = copy.deepcopy(obj)
            admission.admit_create(resource, candidate)
            claimed = ([], [])
            if resource.plural == "services" and not dry_run:
                claimed = self.allocator.allocate(candidate)
            if dry_run:
                return candidate
            name = candidate["metadata"]["name"]
            try:
                ttl = self.event_ttl if resource.plural == "events" else None
                with storage_errors(resource, name):
                    return self.storage.create(self.key(resource, namespace, name), candidate,
                                               ttl)
            except errors.StatusError as e:
                self.allocator.release(*claimed)
                if e.reason != "AlreadyExists" or md.get("name") or attempt == 7:
                    raise

    # -- update, patch -------------------------------------------------------------------------

    def _update(self, resource, namespace, name, make_new, subresource, dry_run):
        """The update loop shared by PUT and PATCH: `make_new(current)` -> new object."""
        key = self.key(resource, namespace, name)

        def try_update(current):
            new = make_new(current)
            if subresource == "scale":
                new = strategy.from_scale(current, new)
            md = new.setdefault("metadata", {})
            rv = md.get("resourceVersion")
            if rv and rv != current["metadata"]["resourceVersion"]:
                raise errors.conflict(resource, name)
            if md.get("uid") and md["uid"] != current["metadata"].get("uid"):
                raise errors.conflict(resource, name, "Precondition failed: UID in precondition: "
                                      f"{md['uid']}, UID in object meta: "
                                      f"{current['metadata'].get('uid')}")
            md["name"] = name
            if resource.namespaced:
                md["namespace"] = namespace
            admission.admit_update(resource, new, current, subresource)
            if resource.plural == "services" and subresource is None and not dry_run:
                self.allocator.allocate(new, current)
            return new

        with storage_errors(resource, name):
            current = self.storage.get(key)
            if dry_run:
                return try_update(current), current
            new, changed = self.storage.guaranteed_update(key, try_update, current)
        if changed and resource.plural == "services":
            self.allocator.release_unused(new, current)
        if changed and deletion.should_delete_during_update(new):
            try:
                self.storage.delete(key, int(new["metadata"]["resourceVersion"]))
                self.after_delete(resource, new)
            except (st.Conflict, st.KeyNotFound):
                pass
        return new, current

    def update(self, resource, namespace, name, obj, subresource=None, dry_run=False):
        """PUT: replace the object (or its status or scale). Returns (object, created)."""
        md = obj.setdefault("metadata", {})
        if md.get("name") and md["name"] != name:
            raise errors.bad_request(f"the name of the object ({md['name']}) does not match "
                                     f"the name on the URL ({name})")
        if resource.namespaced and md.get("namespace") and md["namespace"] != namespace:
            raise errors.bad_request("the namespace of the object does not match the "
                                     "namespace on the request")
        try:
            new, _ = self._update(resource, namespace, name, lambda cur: copy.deepcopy(obj),
                                  subresource, dry_run)
        except errors.StatusError as e:
            if e.code != 404 or subresource or resource.plural not in ("endpoints", "leases",
                                                                         "events"):
                raise
            md["name"] = name  # these kinds allow create on update, as upstream
            return self.create(resource, namespace, obj, dry_run), True
        return (strategy.to_scale(new) if subresource == "scale" else new), False

    def patch(self, resource, namespace, name, content_type, body, subresource=None,
              dry_run=False, field_validation=None):
        """PATCH (or server-side apply): returns (object, created, warnings)."""
        warnings = []

        def make_new(current):
            base = strategy.to_scale(current) if subresource == "scale" else current
            new = apply_patch(content_type, base, body, resource)
            kind = "Scale" if subresource == "scale" else resource.kind
            version = "autoscaling/v1" if subresource == "scale" else resource.api_version
            warnings[:] = admission.decode(new, kind, version, field_validation)
            return new
        try:
            new, _ = self._update(resource, namespace, name, make_new, subresource, dry_run)
        except errors.StatusError as e:
            if e.code != 404 or content_type != "application/apply-patch+yaml" or subresource:
                raise
            obj = apply_patch(content_type, {}, body, resource)
            admission.decode(obj, resource.kind, resource.api_version, field_validation)
            if meta.name(obj) != name:
                raise errors.bad_request(f"the name of the object ({meta.name(obj)}) does not "
                                         f"match the name on the URL ({name})") from None
            return self.create(resource, namespace, obj, dry_run), True, warnings
        return (strategy.to_scale(new) if subresource == "scale" else new), False, warnings

    # -- delete --------------------------------------------------------------------------------

    def delete(self, resource, namespace, name, options, dry_run=False):
        """DELETE: returns the object, deleted or only marked (graceful, finalizers)."""
        deletion.check_options(options)
        key = self.key(resource, namespace, name)
        if resource is NAMESPACES and name in PROTECTED_NAMESPACES:
            raise errors.forbidden(resource, name, "this namespace may not be deleted")
        while True:
            current = self.get(resource, namespace, name)
            deletion.check_preconditions(resource, name, current, options)
            rev = int(current["metadata"]["resourceVersion"])
            obj = copy.deepcopy(current)
            graceful, pending = deletion.before_delete(obj, options, resource is PODS)
            if pending:
                return current
            finalizers = deletion.gc_finalizers(obj, options)
            if finalizers is not None:
                obj["metadata"]["finalizers"] = finalizers
                if not finalizers:
                    del obj["metadata"]["finalizers"]
            if obj["metadata"].get("finalizers"):
                deletion.mark_deleting(obj)
            try:
                if graceful or obj["metadata"].get("finalizers"):
                    if dry_run or obj == current:
                        return obj
                    with storage_errors(resource, name):
                        return self.storage.update(key, obj, rev)
                if dry_run:
                    return current
                if resource is NAMESPACES:
                    self.empty_namespace(name)
                with storage_errors(resource, name):
                    last = self.storage.delete(key, rev)
            except errors.StatusError as e:
                if e.reason == "Conflict" and "Precondition" not in e.message:
                    continue  # changed under us: decide again on the new state
                raise
            self.after_delete(resource, last)
            return last

    def delete_collection(self, resource, namespace, options, label_selector=None,
                          field_selector=None, dry_run=False):
        listed = self.list(resource, namespace, label_selector, field_selector)
        items = []
        for item in listed["items"]:
            try:
                items.append(self.delete(resource, meta.namespace(item), meta.name(item),
                                         options, dry_run))
            except errors.StatusError as e:
                if e.code != 404:
                    raise
        listed["items"] = items
        return listed

    def after_delete(self, resource, obj):
        if resource.plural == "services":
            self.allocator.release_unused(None, obj)
        if resource is NAMESPACES:
            self._namespaces.pop(meta.name(obj), None)

    def empty_namespace(self, name):
        """Delete everything in a namespace before the namespace itself (upstream: the
        namespace controller, while the namespace shows phase Terminating)."""
        self._namespaces.pop(name, None)
        with storage_errors(NAMESPACES, name):
            self.storage.guaranteed_update(self.key(NAMESPACES, None, name),
                                           lambda ns: {**ns, "status": {"phase": "Terminating"}})
        for r in resources.RESOURCES:
            if r.namespaced and r.stored:
                self.delete_collection(r, name, {"gracePeriodSeconds": 0})

    # -- pods/binding --------------------------------------------------------------------------

    def bind(self, namespace, name, binding, dry_run=False):
        """POST pods/<name>/binding: the scheduler's decision, written into the pod."""
        target = (binding.get("target") or {}).get("name")
        if not target:
            raise errors.invalid(resources.lookup("pods"), name, [{
                "reason": "FieldValueRequired", "message": "Required value",
                "field": "target.name"}], message=f'Binding "{name}" is invalid: target.name: '
                                                  "Required value")
        uid = (binding.get("metadata") or {}).get("uid")

        def assign(pod):
            md, spec = pod["metadata"], pod.setdefault("spec", {})
            if uid and md.get("uid") != uid:
                raise errors.conflict(PODS, name, f"Precondition failed: UID in precondition: "
                                      f"{uid}, UID in object meta: {md.get('uid')}")
            if md.get("deletionTimestamp"):
                raise errors.conflict(PODS, name, f"pod {name} is being deleted, cannot be "
                                      "assigned to a host")
            if spec.get("nodeName"):
                raise errors.conflict(PODS, name, f'pod {name} is already assigned to node '
                                      f'"{spec["nodeName"]}"')
            spec["nodeName"] = target
            annotations = (binding.get("metadata") or {}).get("annotations")
            if annotations:
                md["annotations"] = {**(md.get("annotations") or {}), **annotations}
            status = pod.setdefault("status", {})
            meta.set_condition(status, "PodScheduled", True)
            return pod
        with storage_errors(PODS, name):
            key = self.key(PODS, namespace, name)
            if dry_run:
                return assign(self.storage.get(key))
            return self.storage.guaranteed_update(key, assign)[0]
