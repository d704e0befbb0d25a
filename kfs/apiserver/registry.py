"""The registry: create, get, list, update, patch and delete of any kind, over etcd.

One generic store serves every resource; what a kind does differently it says through its
hooks (``kfs.apiserver.kinds``): a Service claims a ClusterIP and NodePorts around each
write, a Pod is deleted gracefully and has a ``binding`` subresource, a Deployment a
``scale`` subresource, a Namespace empties itself before it goes and guards creates into
it, an Event expires. Everything else is ``admission`` (decode, defaults, strategy,
validation) and ``storage`` (transactions on etcd). A list that need not be consistent
(``resourceVersion=0``, or ``NotOlderThan`` one) is answered by the resource's watch cache
(``kfs.storage.cacher``); every other read, and every write, goes to etcd. This module
names no kind.

The functions are synchronous: the HTTP layer runs them in a thread pool, except a create
that reaches etcd only for its write (``creates_inline``), which it awaits on the event
loop (``create_inline``: the same steps, the transaction through ``grpc.aio``; a thread hop
and a blocking gRPC call cost the server about three times the CPU of the awaited call).
Errors are ``StatusError``s (``kfs.apiserver.errors``), ready to be sent.

Mirrors ``apiserver/pkg/registry/generic/registry/store.go`` (Create, Update,
GuaranteedUpdate, Delete with BeforeDelete, DeleteCollection) and the per-kind REST storage
in ``pkg/registry`` that wraps it.

What real Kubernetes does differently: each kind has its own store object configured with
its strategy; the NamespaceLifecycle admission plugin and the namespace controller (not
the registry) guard and empty namespaces; server-side apply tracks field ownership; dry-run
allocates ClusterIPs without keeping them.
"""
import copy
from contextlib import contextmanager

import yaml

from kfs import meta, storage as st
from kfs.apiserver import admission, deletion, errors, patch as patches

PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json",
               "application/strategic-merge-patch+json", "application/apply-patch+yaml")

def predicate(kind, label_selector=None, field_selector=None):
    """A filter for list and watch from the selectors' string forms (400 if malformed or
    naming a field the kind does not select on)."""
    try:
        labels = meta.parse_selector(label_selector) if label_selector else None
        fields = meta.parse_field_selector(field_selector) if field_selector else []
    except meta.SelectorError as e:
        raise errors.bad_request(str(e)) from None
    paths = []
    for field, op, value in fields:
        path = kind.field_path(field)
        if path is None:
            raise errors.bad_request(f'field label not supported: {field}')
        paths.append((path, kind.field_defaults.get(field, ""), op, value))
    if labels is None and not paths:
        return None

    def match(obj):
        if labels is not None and not meta.matches(labels, meta.labels(obj)):
            return False
        for path, default, op, value in paths:
            actual = meta.field_value(obj, path) or default
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


def from_cache(resource_version, match, continue_token, limit):
    """May a list be answered by the watch cache? Upstream's shouldDelegateList, inverted:
    not a consistent read (no resourceVersion), not an Exact one, not a paged one (a limit
    is ignored with "0", as upstream does)."""
    rv = resource_version or ""
    return (rv.isdigit() and match != "Exact" and not continue_token
            and (not limit or rv == "0"))


class Registry:
    """`kinds` is {plural: Kind} with the server's state (``kinds.for_server``); `cachers`
    the watch caches ({etcd prefix: ``kfs.storage.cacher.Cacher``}, none: every read from
    etcd)."""

    def __init__(self, storage, kinds, cachers=None):
        self.storage, self.kinds = storage, kinds
        self.cachers = cachers or {}
        self.admission = [p for k in kinds.values() for p in k.admission_plugins()]

    def kind(self, resource):
        return self.kinds[resource.plural]

    def cacher(self, resource):
        """The watch cache of `resource`, or None."""
        return self.cachers.get(resource.prefix)

    @staticmethod
    def key(resource, namespace, name):
        return resource.etcd_key(namespace, name)

    @staticmethod
    def prefix(resource, namespace):
        ns = f"{namespace}/" if resource.namespaced and namespace else ""
        return f"{resource.prefix}/{ns}"

    # -- reads -------------------------------------------------------------------------------

    def get(self, resource, namespace, name):
        with storage_errors(resource, name):
            return self.storage.get(self.key(resource, namespace, name))

    def list(self, resource, namespace, label_selector=None, field_selector=None, limit=0,
             continue_token=None, resource_version=None, match=None):
        flt = predicate(self.kind(resource), label_selector, field_selector)
        items = None
        if self.cacher(resource) and from_cache(resource_version, match, continue_token, limit):
            try:
                items, rev = self.cacher(resource).list(int(resource_version),
                                                         namespace or None, flt)
                token = None
            except st.NotReady:
                pass  # starting, relisting, or behind: etcd answers
        if items is None:
            items, rev, token = self._list_etcd(resource, namespace, flt, limit, continue_token,
                                                resource_version, match)
        # list items carry no kind (a typed list knows it); the cache's objects are shared
        items = [{k: v for k, v in item.items() if k != "kind" and k != "apiVersion"}
                 for item in items]
        md = {"resourceVersion": str(rev)}
        if token:
            md["continue"] = token
        return {"kind": f"{resource.kind}List", "apiVersion": resource.api_version,
                "metadata": md, "items": items}

    def _list_etcd(self, resource, namespace, flt, limit, continue_token, resource_version,
                   match):
        revision = int(resource_version) if match == "Exact" and resource_version else 0
        try:
            with storage_errors(resource):
                return self.storage.list(self.prefix(resource, namespace), limit,
                                         continue_token, revision, flt)
        except ValueError as e:
            raise errors.bad_request(str(e)) from None

    # -- create ------------------------------------------------------------------------------

    def create(self, resource, namespace, obj, dry_run=False):
        kind = self._admit_create(resource, namespace, obj)
        for attempt in range(8):  # a taken generated name: generate another
            candidate, undo = self._candidate(kind, obj, dry_run)
            if dry_run:
                return candidate
            name = candidate["metadata"]["name"]
            try:
                with storage_errors(resource, name):
                    return self.storage.create(self.key(resource, namespace, name), candidate,
                                               kind.storage_ttl())
            except errors.StatusError as e:
                self._create_failed(e, undo, obj, attempt)

    def creates_inline(self, resource, namespace):
        """May this create run on the event loop (`create_inline`)? When nothing in it but
        the write itself reaches etcd: no kind hook (a ClusterIP), no lease to grant (an
        Event's TTL: the shared lease is held for a second more at least), no admission read
        (NamespaceLifecycle saw the namespace recently)."""
        kind = self.kind(resource)
        if kind.create_reads_storage():
            return False
        ttl = kind.storage_ttl()
        if ttl and self.storage.cached_lease(ttl, margin=1.0) is None:
            return False
        return not any(p.reads_storage(resource, namespace) for p in self.admission)

    async def create_inline(self, loop_storage, resource, namespace, obj, dry_run=False):
        """`create`, awaited on the event loop through `loop_storage` (a
        ``kfs.storage.LoopStorage``): for creates `creates_inline` allows."""
        kind = self._admit_create(resource, namespace, obj)
        for attempt in range(8):
            candidate, undo = self._candidate(kind, obj, dry_run)
            if dry_run:
                return candidate
            name = candidate["metadata"]["name"]
            ttl = kind.storage_ttl()
            lease = self.storage.cached_lease(ttl) if ttl else 0
            if lease is None:  # only if `creates_inline` was not asked just before
                raise errors.internal("no lease for the TTL: create in the thread pool")
            try:
                with storage_errors(resource, name):
                    return await loop_storage.create(self.key(resource, namespace, name),
                                                     candidate, lease)
            except errors.StatusError as e:
                self._create_failed(e, undo, obj, attempt)

    def _admit_create(self, resource, namespace, obj):
        kind, md = self.kind(resource), obj.setdefault("metadata", {})
        if resource.namespaced:
            if md.get("namespace") and md["namespace"] != namespace:
                raise errors.bad_request("the namespace of the provided object does not match "
                                         "the namespace sent on the request")
            md["namespace"] = namespace
        for plugin in self.admission:
            plugin.admit(self, resource, namespace)
        if md.get("resourceVersion"):
            raise errors.bad_request("resourceVersion should not be set on objects to be created")
        return kind

    def _candidate(self, kind, obj, dry_run):
        """One attempt's object, admitted, and the undo of what its hook claimed. A
        generated name may be taken: keep the original to try again (else no copy)."""
        candidate = obj if obj["metadata"].get("name") else copy.deepcopy(obj)
        admission.admit_create(kind, candidate)
        return candidate, kind.before_create(self, candidate, dry_run)

    @staticmethod
    def _create_failed(e, undo, obj, attempt):
        """Undo the attempt's claims; raise unless a generated name was taken (try again)."""
        if undo:
            undo()
        if e.reason != "AlreadyExists" or obj["metadata"].get("name") or attempt == 7:
            raise e

    # -- update, patch -------------------------------------------------------------------------

    def update_with(self, resource, namespace, name, change, dry_run=False):
        """Read, `change(current)` -> new, write; again on a conflict (GuaranteedUpdate). No
        admission: for the server's own writes (a binding, a namespace's phase). The read is
        the watch cache's copy where there is one, as upstream's: no etcd read unless it
        was stale."""
        key = self.key(resource, namespace, name)
        with storage_errors(resource, name):
            if dry_run:
                return change(self.storage.get(key))
            cached = self.cached(resource, namespace, name)
            return self.storage.guaranteed_update(key, change, cached, cached is not None)[0]

    async def update_with_inline(self, loop_storage, resource, namespace, name, change):
        """`update_with` awaited on the event loop through `loop_storage` (a binding)."""
        key, cached = self.key(resource, namespace, name), self.cached(resource, namespace, name)
        with storage_errors(resource, name):
            new, _ = await loop_storage.guaranteed_update(key, change, cached, cached is not None)
            return new

    def cached(self, resource, namespace, name):
        """The watch cache's copy of an object (maybe behind etcd), or None."""
        cacher = self.cacher(resource)
        return cacher.get(namespace if resource.namespaced else None, name) if cacher else None

    def _update(self, resource, namespace, name, make_new, subresource, dry_run):
        """The update loop shared by PUT and PATCH: `make_new(current)` -> new object."""
        kind, key = self.kind(resource), self.key(resource, namespace, name)

        def try_update(current):
            new = kind.from_subresource(subresource, current, make_new(current))
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
            admission.admit_update(kind, new, current, subresource)
            kind.before_update(self, new, current, subresource, dry_run)
            return new

        with storage_errors(resource, name):
            current = self.storage.get(key)
            if dry_run:
                return try_update(current), current
            new, changed = self.storage.guaranteed_update(key, try_update, current)
        if changed:
            kind.after_update(self, new, current)
        if changed and deletion.should_delete_during_update(new):
            try:
                self.storage.delete(key, int(new["metadata"]["resourceVersion"]))
                kind.after_delete(self, new)
            except (st.Conflict, st.KeyNotFound):
                pass
        return new, current

    def update(self, resource, namespace, name, obj, subresource=None, dry_run=False):
        """PUT: replace the object (or its status or scale). Returns (object, created)."""
        kind, md = self.kind(resource), obj.setdefault("metadata", {})
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
            if e.code != 404 or subresource or not kind.create_on_update:
                raise
            md["name"] = name  # AllowCreateOnUpdate
            return self.create(resource, namespace, obj, dry_run), True
        return kind.to_subresource(subresource, new), False

    def patch(self, resource, namespace, name, content_type, body, subresource=None,
              dry_run=False, field_validation=None, user=None):
        """PATCH (or server-side apply): returns (object, created, warnings). `user` (who
        asks) goes to the kind's `prepare_for_create_as` when an apply creates."""
        kind, warnings = self.kind(resource), []
        sub_kind, sub_version = kind.subresource_kind(subresource) if subresource else (
            kind.kind, kind.api_version)

        def make_new(current):
            base = kind.to_subresource(subresource, current)
            new = apply_patch(content_type, base, body, resource)
            warnings[:] = admission.decode(new, sub_kind, sub_version, field_validation)
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
            if user is not None:
                kind.prepare_for_create_as(obj, user)
            return self.create(resource, namespace, obj, dry_run), True, warnings
        return kind.to_subresource(subresource, new), False, warnings

    # -- delete --------------------------------------------------------------------------------

    def delete(self, resource, namespace, name, options, dry_run=False):
        """DELETE: returns the object, deleted or only marked (graceful, finalizers)."""
        deletion.check_options(options)
        kind, key = self.kind(resource), self.key(resource, namespace, name)
        kind.check_delete(name)
        while True:
            current = self.get(resource, namespace, name)
            deletion.check_preconditions(resource, name, current, options)
            rev = int(current["metadata"]["resourceVersion"])
            obj = copy.deepcopy(current)
            graceful, pending = deletion.before_delete(obj, options,
                                                       kind.delete_grace_period(obj, options))
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
                kind.before_delete(self, current)
                with storage_errors(resource, name):
                    last = self.storage.delete(key, rev)
            except errors.StatusError as e:
                if e.reason == "Conflict" and "Precondition" not in e.message:
                    continue  # changed under us: decide again on the new state
                raise
            kind.after_delete(self, last)
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
