"""In-memory stand-ins for the API server, for the unit tier only.

``FakeApi`` speaks the same verbs as ``kfs.client.Client`` (get, list, create, replace,
update_status, patch, delete, bind) over dicts in memory, with resourceVersions, uids,
generateName, 409 on a stale resourceVersion and 404/409 Status errors, and records every
write in ``actions`` so a test can assert what a reconcile did. Deletion honours
finalizers as the API server does: an object with finalizers (or deleted with
propagationPolicy Foreground or Orphan, which add ``foregroundDeletion`` or ``orphan``) only
gets a deletionTimestamp, and goes when an update removes its last finalizer.
``informer(resource)`` returns a ``FakeInformer`` whose cache always mirrors the fake's
objects (no watch delay) and whose handlers are called synchronously on every write;
``hold_events()`` ... ``release_events()`` makes them lag behind, as a real watch can.

Integration and system tests use the real API server instead.
"""
import copy
import functools
import itertools
import threading
import uuid

from kfs import meta, resources
from kfs.client import ApiError


def status_error(code, reason, message):
    return ApiError({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
                     "reason": reason, "message": message}, code)


def _locked(method):
    """One verb at a time, so tests may run controllers' worker threads against a FakeApi."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self.lock:
            return method(self, *args, **kwargs)
    return wrapper


class FakeApi:
    def __init__(self, *objects):
        self.lock = threading.RLock()
        self.objects = {}   # (plural, namespace, name) -> object
        self.actions = []   # (verb, plural, key, body)
        self.informers = []
        self.rv = itertools.count(1)
        self.names = itertools.count(1)
        self.fail = {}      # verb -> ApiError to raise once (simulate a hiccup)
        self.held = None    # events held back by hold_events(), or None
        for o in objects:
            self.create(o)

    # -- helpers ------------------------------------------------------------------------

    def _res(self, r):
        return r if isinstance(r, resources.Resource) else resources.lookup(r)

    def _key(self, r, namespace, name):
        return (r.plural, namespace if r.namespaced else None, name)

    def _maybe_fail(self, verb):
        if verb in self.fail:
            raise self.fail.pop(verb)

    def _store(self, r, obj, kind):
        obj["metadata"]["resourceVersion"] = str(next(self.rv))
        old = self.objects.get(self._key(r, meta.namespace(obj), meta.name(obj)))
        self.objects[self._key(r, meta.namespace(obj), meta.name(obj))] = obj
        self._notify(r, kind, obj, old)
        return copy.deepcopy(obj)

    def _notify(self, r, kind, obj, old):
        for inf in self.informers:
            if inf.resource is r:
                if self.held is not None:
                    self.held.append((inf, kind, copy.deepcopy(obj), old))
                else:
                    inf.notify(kind, copy.deepcopy(obj), old)

    @_locked
    def hold_events(self):
        """Until `release_events()`, informers keep showing the objects as they were and
        their handlers hear nothing: a watch lagging behind the writes."""
        for inf in self.informers:
            inf.freeze()
        self.held = []

    @_locked
    def replay(self):
        """Deliver ADDED for every object to every informer: what a real informer's
        initial list does for handlers registered before it starts."""
        for inf in self.informers:
            for obj in inf.list():
                inf.notify("ADDED", obj, None)

    @_locked
    def release_events(self):
        held, self.held = self.held or [], None
        for inf in self.informers:
            inf.thaw()
        for inf, kind, obj, old in held:
            inf.notify(kind, obj, old)

    @_locked
    def all(self, resource, namespace=None):
        r = self._res(resource)
        return [copy.deepcopy(o) for (p, ns, _), o in sorted(self.objects.items())
                if p == r.plural and (namespace is None or ns == namespace)]

    def verbs(self, verb=None):
        return [a for a in self.actions if verb is None or a[0] == verb]

    # -- the client's verbs -------------------------------------------------------------

    @_locked
    def get(self, resource, name, namespace=None, subresource=None):
        r = self._res(resource)
        obj = self.objects.get(self._key(r, namespace, name))
        if obj is None:
            raise status_error(404, "NotFound", f'{r.group_resource} "{name}" not found')
        return copy.deepcopy(obj)

    @_locked
    def list(self, resource, namespace=None, label_selector=None, field_selector=None):
        items = [o for o in self.all(resource, namespace)
                 if (label_selector is None or meta.selects(label_selector, o))
                 and (field_selector is None
                      or meta.field_matches(meta.parse_field_selector(field_selector), o))]
        return {"metadata": {"resourceVersion": str(next(self.rv))}, "items": items}

    @_locked
    def create(self, body, namespace=None, dry_run=False, subresource=None, name=None):
        self._maybe_fail("create")
        r = resources.for_object(body)
        obj = copy.deepcopy(body)
        md = obj.setdefault("metadata", {})
        if r.namespaced:
            md["namespace"] = namespace or md.get("namespace") or "default"
        if not md.get("name"):
            md["name"] = f"{md.get('generateName', 'obj-')}{next(self.names):05x}"
        if self._key(r, md.get("namespace"), md["name"]) in self.objects:
            raise status_error(409, "AlreadyExists",
                               f'{r.group_resource} "{md["name"]}" already exists')
        md.setdefault("uid", str(uuid.uuid4()))
        md.setdefault("creationTimestamp", meta.now())
        md.setdefault("generation", 1)
        self.actions.append(("create", r.plural, meta.key(obj), obj))
        return self._store(r, obj, "ADDED")

    @_locked
    def replace(self, body, subresource=None):
        self._maybe_fail("update")
        r = resources.for_object(body)
        current = self.get(r, meta.name(body), meta.namespace(body))
        rv = body["metadata"].get("resourceVersion")
        if rv and rv != current["metadata"]["resourceVersion"]:
            raise status_error(409, "Conflict", f'Operation cannot be fulfilled on '
                               f'{r.group_resource} "{meta.name(body)}": the object has been '
                               f'modified; please apply your changes to the latest version '
                               f'and try again')
        obj = copy.deepcopy(body)
        if subresource == "status":  # status, and (as upstream's status strategies) annotations
            annotations = obj["metadata"].get("annotations")
            obj = {**current, "status": obj.get("status", {})}
            if annotations is not None:
                obj["metadata"]["annotations"] = annotations
        elif obj.get("spec") != current.get("spec"):
            obj["metadata"]["generation"] = current["metadata"].get("generation", 1) + 1
        self.actions.append(("update" if not subresource else f"update/{subresource}",
                             r.plural, meta.key(obj), obj))
        return self._store_or_finalize(r, obj)

    def update_status(self, body):
        return self.replace(body, subresource="status")

    @_locked
    def patch(self, resource, name, body, namespace=None, patch_type="merge", subresource=None,
              field_manager=None):
        self._maybe_fail("patch")
        r = self._res(resource)
        current = self.get(r, name, namespace)
        rv = ((body or {}).get("metadata") or {}).get("resourceVersion")
        if rv and rv != current["metadata"]["resourceVersion"]:  # a precondition, as upstream
            raise status_error(409, "Conflict", f'Operation cannot be fulfilled on '
                               f'{r.group_resource} "{name}": the object has been modified; '
                               f'please apply your changes to the latest version and try again')
        obj = _merge(copy.deepcopy(current), body)
        if subresource != "status" and obj.get("spec") != current.get("spec"):
            obj["metadata"]["generation"] = current["metadata"].get("generation", 1) + 1
        self.actions.append(("patch" if not subresource else f"patch/{subresource}",
                             r.plural, meta.key(obj), body))
        return self._store_or_finalize(r, obj)

    def _store_or_finalize(self, r, obj):
        """As the API server: an object being deleted goes once its last finalizer does."""
        md = obj["metadata"]
        if md.get("deletionTimestamp") and not md.get("finalizers"):
            self.objects.pop(self._key(r, md.get("namespace"), md["name"]), None)
            self._notify(r, "DELETED", obj, obj)
            return copy.deepcopy(obj)
        return self._store(r, obj, "MODIFIED")

    @_locked
    def delete(self, resource, name, namespace=None, propagation_policy=None,
               grace_period_seconds=None, uid=None, resource_version=None):
        self._maybe_fail("delete")
        r = self._res(resource)
        obj = self.get(r, name, namespace)
        if uid and obj["metadata"].get("uid") != uid:
            raise status_error(409, "Conflict", "Precondition failed: UID in precondition")
        finalizer = {"Foreground": "foregroundDeletion", "Orphan": "orphan"}.get(
            propagation_policy)
        md = obj["metadata"]
        if finalizer or md.get("finalizers"):  # as the API server: mark, let finalizers run
            if finalizer and finalizer not in (md.get("finalizers") or []):
                md["finalizers"] = [*(md.get("finalizers") or []), finalizer]
            md.setdefault("deletionTimestamp", meta.now())
            self.actions.append(("delete", r.plural, meta.key(obj), propagation_policy))
            return self._store(r, obj, "MODIFIED")
        del self.objects[self._key(r, namespace, name)]
        self.actions.append(("delete", r.plural, meta.key(obj), propagation_policy))
        self._notify(r, "DELETED", obj, obj)
        return obj

    @_locked
    def bind(self, pod, node_name):
        self._maybe_fail("bind")
        current = self.get("pods", meta.name(pod), meta.namespace(pod))
        if current["spec"].get("nodeName"):
            raise status_error(409, "Conflict", f'pod {meta.name(pod)} is already assigned '
                               f'to node "{current["spec"]["nodeName"]}"')
        current["spec"]["nodeName"] = node_name
        self.actions.append(("bind", "pods", meta.key(current), node_name))
        return self._store(resources.lookup("pods"), current, "MODIFIED")

    def informer(self, resource, handler=None):
        inf = FakeInformer(self, self._res(resource))
        if handler:
            inf.add_handler(handler)
        self.informers.append(inf)
        return inf


def _merge(target, patch):
    """JSON merge patch (RFC 7386): enough for what controllers send in unit tests."""
    if not isinstance(patch, dict):
        return patch
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        elif isinstance(v, dict) and isinstance(target.get(k), dict):
            target[k] = _merge(target[k], v)
        else:
            target[k] = copy.deepcopy(v)
    return target


class FakeInformer:
    """The Informer interface (get, list, store, add_handler, wait_synced) over a FakeApi."""

    def __init__(self, api, resource):
        self.api, self.resource, self.handlers = api, resource, []
        self.synced = True
        self.frozen = None  # a snapshot while the FakeApi holds events back

    @property
    def store(self):
        if self.frozen is not None:
            return copy.deepcopy(self.frozen)
        return {meta.key(o): o for o in self.api.all(self.resource)}

    def freeze(self):
        self.frozen = self.store

    def thaw(self):
        self.frozen = None

    def get(self, key):
        return self.store.get(key)

    def list(self, selector=None, namespace=None):
        return [o for _, o in sorted(self.store.items())
                if (namespace is None or meta.namespace(o) == namespace)
                and (selector is None or meta.selects(selector, o))]

    def add_handler(self, handler):
        self.handlers.append(handler)
        return self

    def notify(self, kind, obj, old):
        for h in self.handlers:
            h(kind, obj, old)

    def start(self):
        return self

    def stop(self):
        pass

    def wait_synced(self, timeout=None):
        return self
