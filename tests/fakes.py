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
``hold_events()`` ... ``release_events()`` makes them lag behind, as a real watch can. As a
real informer's cache, it hands out **the very objects the fake stores**, not copies (the
verbs ``get`` and ``list`` return copies, as the API server sends fresh JSON). So a
controller that changes an object it read from a cache, instead of a deep copy, corrupts
the cache for every other reader: the ``MutationDetector`` catches that as client-go's
``tools/cache/mutation_detector.go`` does (a deep copy of every object entering the cache,
compared later), at the start of every verb and, through ``tests/unit/conftest.py``, when
each test ends; the failure names the object and the first field that differs.

``MemoryStorage`` stands in for etcd under the API server's real ``Registry`` (the kinds'
storage hooks, evictions), with etcd's outcomes: revisions, conflicts, missing keys.

Integration and system tests use the real API server instead.
"""
import copy
import functools
import itertools
import threading
import uuid

from kfs import meta, resources
from kfs.client import ApiError
from kfs.storage import codec
from kfs.storage.errors import Conflict, KeyExists, KeyNotFound


def status_error(code, reason, message):
    return ApiError({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
                     "reason": reason, "message": message}, code)


class CacheMutated(AssertionError):
    """An object handed out by an informer cache was changed in place."""


class MutationDetector:
    """Remembers a deep copy of every object entering the cache; ``check`` compares.

    client-go's ``cacheMutationDetector`` (on with ``KUBE_CACHE_MUTATION_DETECTOR=true``)
    compares every second and panics; here every FakeApi verb compares, and a mutation is
    raised once, and remembered in ``found`` for the end-of-test check. Objects no longer in
    any cache (replaced, deleted, no frozen snapshot holding them) are compared one last
    time and forgotten, so a long test does not compare ever more objects.
    """

    def __init__(self, live):
        self.live = live      # () -> the objects some cache still holds
        self.watched = {}     # id(obj) -> (obj, its deep copy when it entered the cache)
        self.found = []       # messages of mutations seen

    def add(self, obj):
        self.watched[id(obj)] = (obj, copy.deepcopy(obj))

    def check(self):
        live = {id(o) for o in self.live()}
        new = []
        for i, (obj, pristine) in list(self.watched.items()):
            if obj != pristine:
                new.append(_mutation_message(obj, pristine))
                self.watched[i] = (obj, copy.deepcopy(obj))  # report each change once
            if i not in live:
                del self.watched[i]
        if new:
            self.found.extend(new)
            raise CacheMutated("\n".join(new))


def _mutation_message(obj, pristine):
    md = pristine.get("metadata") or {}
    what = "/".join(filter(None, (md.get("namespace"), md.get("name"))))
    return (f"{pristine.get('kind', 'object')} {what} (resourceVersion "
            f"{md.get('resourceVersion')}) from an informer cache was mutated: "
            f"{_first_difference(pristine, obj) or 'changed'}. Deep-copy what you read from a "
            f"cache before changing it (copy.deepcopy), as sample-controller does.")


def _first_difference(old, new, path=""):
    """'spec.replicas: 3 -> 4' for the first field that differs, or None."""
    if isinstance(old, dict) and isinstance(new, dict):
        for k in list(old) + [k for k in new if k not in old]:
            where = f"{path}.{k}" if path else str(k)
            if k not in new:
                return f"{where}: removed (was {old[k]!r})"
            if k not in old:
                return f"{where}: added {new[k]!r}"
            found = _first_difference(old[k], new[k], where)
            if found:
                return found
        return None
    if isinstance(old, list) and isinstance(new, list):
        for i, (a, b) in enumerate(zip(old, new)):
            found = _first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        if len(old) != len(new):
            return f"{path}: {len(old)} items -> {len(new)}"
        return None
    return None if old == new else f"{path}: {old!r} -> {new!r}"


def _locked(method):
    """One call at a time, so tests may run controllers' worker threads against a FakeApi."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self.lock:
            return method(self, *args, **kwargs)
    return wrapper


def _verb(method):
    """A client verb: locked, and first a look for cached objects changed in place (close
    to the cause: the reconcile that mutated a cached object is still running)."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self.lock:
            if not self._depth:
                self.detector.check()
            self._depth += 1
            try:
                return method(self, *args, **kwargs)
            finally:
                self._depth -= 1
    return wrapper


class FakeApi:
    made = []  # every FakeApi of the running test (tests/unit/conftest.py checks them)

    def __init__(self, *objects):
        self.lock = threading.RLock()
        self.objects = {}   # (plural, namespace, name) -> object (what the caches hand out)
        self.actions = []   # (verb, plural, key, body)
        self.informers = []
        self.rv = itertools.count(1)
        self.names = itertools.count(1)
        self.fail = {}      # verb -> ApiError to raise once (simulate a hiccup)
        self.held = None    # events held back by hold_events(), or None
        self.detector = MutationDetector(self._cached_objects)
        self._depth = 0     # verbs calling verbs check once
        FakeApi.made.append(self)
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

    def _cached(self, r, namespace, name):
        """The stored object itself (never hand it to the code under test: copy it)."""
        obj = self.objects.get(self._key(r, namespace, name))
        if obj is None:
            raise status_error(404, "NotFound", f'{r.group_resource} "{name}" not found')
        return obj

    def _cached_objects(self):
        """Every object some cache still hands out or an event still carries."""
        objs = list(self.objects.values())
        for inf in self.informers:
            objs.extend((inf.frozen or {}).values())
        for _, _, obj, old in self.held or ():
            objs.extend(o for o in (obj, old) if o is not None)
        return objs

    def _store(self, r, obj, kind):
        """`obj` (a fresh dict nobody else holds) enters the store and the caches."""
        obj["metadata"]["resourceVersion"] = str(next(self.rv))
        key = self._key(r, meta.namespace(obj), meta.name(obj))
        old = self.objects.get(key)
        self.objects[key] = obj
        self.detector.add(obj)
        self._notify(r, kind, obj, old)
        return copy.deepcopy(obj)

    def _notify(self, r, kind, obj, old):
        for inf in self.informers:
            if inf.resource is r:
                if self.held is not None:
                    self.held.append((inf, kind, obj, old))
                else:
                    inf.notify(kind, obj, old)

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
        """Copies of the stored objects of one resource (for a test's assertions)."""
        return [copy.deepcopy(o) for o in self._all(self._res(resource), namespace)]

    def _all(self, r, namespace=None):
        return [o for (p, ns, _), o in sorted(self.objects.items(), key=_sort_key)
                if p == r.plural and (namespace is None or ns == namespace)]

    @_locked
    def verify_cache(self):
        """Raise CacheMutated if a cached object was ever changed in place."""
        try:
            self.detector.check()
        except CacheMutated:
            pass
        if self.detector.found:
            raise CacheMutated("\n".join(self.detector.found))

    def verbs(self, verb=None):
        return [a for a in self.actions if verb is None or a[0] == verb]

    # -- the client's verbs -------------------------------------------------------------

    @_verb
    def get(self, resource, name, namespace=None, subresource=None):
        return copy.deepcopy(self._cached(self._res(resource), namespace, name))

    @_verb
    def list(self, resource, namespace=None, label_selector=None, field_selector=None):
        fields = field_selector and meta.parse_field_selector(field_selector)
        items = [copy.deepcopy(o) for o in self._all(self._res(resource), namespace)
                 if (label_selector is None or meta.selects(label_selector, o))
                 and (field_selector is None or meta.field_matches(fields, o))]
        return {"metadata": {"resourceVersion": str(next(self.rv))}, "items": items}

    @_verb
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

    @_verb
    def replace(self, body, subresource=None):
        self._maybe_fail("update")
        r = resources.for_object(body)
        current = self._cached(r, meta.namespace(body), meta.name(body))
        rv = body["metadata"].get("resourceVersion")
        if rv and rv != current["metadata"]["resourceVersion"]:
            raise status_error(409, "Conflict", f'Operation cannot be fulfilled on '
                               f'{r.group_resource} "{meta.name(body)}": the object has been '
                               f'modified; please apply your changes to the latest version '
                               f'and try again')
        obj = copy.deepcopy(body)
        if subresource == "status":  # status, and (as upstream's status strategies) annotations
            annotations = obj["metadata"].get("annotations")
            obj = {**copy.deepcopy(current), "status": obj.get("status", {})}
            if annotations is not None:
                obj["metadata"]["annotations"] = annotations
        elif obj.get("spec") != current.get("spec"):
            obj["metadata"]["generation"] = current["metadata"].get("generation", 1) + 1
        self.actions.append(("update" if not subresource else f"update/{subresource}",
                             r.plural, meta.key(obj), obj))
        return self._store_or_finalize(r, obj)

    def update_status(self, body):
        return self.replace(body, subresource="status")

    @_verb
    def patch(self, resource, name, body, namespace=None, patch_type="merge", subresource=None,
              field_manager=None):
        self._maybe_fail("patch")
        r = self._res(resource)
        current = self._cached(r, namespace, name)
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

    @_verb
    def delete(self, resource, name, namespace=None, propagation_policy=None,
               grace_period_seconds=None, uid=None, resource_version=None):
        self._maybe_fail("delete")
        r = self._res(resource)
        cached = self._cached(r, namespace, name)
        if uid and cached["metadata"].get("uid") != uid:
            raise status_error(409, "Conflict", "Precondition failed: UID in precondition")
        finalizer = {"Foreground": "foregroundDeletion", "Orphan": "orphan"}.get(
            propagation_policy)
        md = cached["metadata"]
        if finalizer or md.get("finalizers"):  # as the API server: mark, let finalizers run
            obj = copy.deepcopy(cached)
            md = obj["metadata"]
            if finalizer and finalizer not in (md.get("finalizers") or []):
                md["finalizers"] = [*(md.get("finalizers") or []), finalizer]
            md.setdefault("deletionTimestamp", meta.now())
            self.actions.append(("delete", r.plural, meta.key(obj), propagation_policy))
            return self._store(r, obj, "MODIFIED")
        del self.objects[self._key(r, namespace, name)]
        self.actions.append(("delete", r.plural, meta.key(cached), propagation_policy))
        self._notify(r, "DELETED", cached, cached)
        return copy.deepcopy(cached)

    @_verb
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
        """A FakeInformer over this FakeApi: what ``kfs.client.Informer(client, resource)``
        is for a real client (pass ``api.informer`` as SharedInformers' ``new_informer``)."""
        inf = FakeInformer(self, self._res(resource))
        if handler:
            inf.add_handler(handler)
        with self.lock:
            self.informers.append(inf)
        return inf


def _sort_key(item):
    return item[0]


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
    """The Informer interface (get, list, store, synced, add_handler, start, wait_synced)
    over a FakeApi. Reads hand out the FakeApi's own objects, as a real informer's do;
    ``synced`` is set by ``start`` (the fake's initial list takes no time)."""

    def __init__(self, api, resource):
        self.api, self.resource, self.handlers = api, resource, []
        self.synced = threading.Event()
        self.frozen = None  # {key: object} while the FakeApi holds events back

    @property
    def store(self):
        with self.api.lock:
            if self.frozen is not None:
                return dict(self.frozen)
            return {meta.key(o): o for o in self.api._all(self.resource)}

    def freeze(self):
        self.frozen = self.store

    def thaw(self):
        self.frozen = None

    def get(self, key):
        with self.api.lock:
            if self.frozen is not None:
                return self.frozen.get(key)
            namespace, _, name = key.rpartition("/")
            return self.api.objects.get(self.api._key(self.resource, namespace or None, name))

    def list(self, selector=None, namespace=None):
        with self.api.lock:
            objs = (sorted(self.frozen.items()) if self.frozen is not None else
                    [(None, o) for o in self.api._all(self.resource, namespace)])
        return [o for _, o in objs
                if (namespace is None or meta.namespace(o) == namespace)
                and (selector is None or meta.selects(selector, o))]

    def add_handler(self, handler):
        self.handlers.append(handler)
        return self

    def notify(self, kind, obj, old):
        for h in self.handlers:
            h(kind, obj, old)

    def start(self):
        self.synced.set()
        return self

    def stop(self):
        pass

    def wait_synced(self, timeout=30.0):
        if not self.synced.wait(timeout):
            raise TimeoutError(f"informer for {self.resource.plural} was never started")
        return self


class MemoryStorage:
    """``kfs.storage.Storage``'s interface in a dict, for the API server's ``Registry`` in the
    unit tier: objects stored as the codec stores them (JSON without resourceVersion), one
    revision counter, and the same transactions' outcomes (KeyExists, Conflict on a stale
    revision, KeyNotFound). ``writes`` counts successful writes per key.
    """

    def __init__(self):
        self.data = {}       # key -> (encoded bytes, mod revision)
        self.revision = 1
        self.writes = {}
        self.lock = threading.RLock()

    def _put(self, key, obj):
        self.revision += 1
        self.data[key] = (codec.encode(obj), self.revision)
        self.writes[key] = self.writes.get(key, 0) + 1
        return codec.with_version(obj, self.revision)

    def get(self, key):
        with self.lock:
            if key not in self.data:
                raise KeyNotFound(key)
            return codec.decode(*self.data[key])

    def list(self, prefix, limit=0, continue_token=None, revision=0, predicate=None):
        with self.lock:
            items = [self.get(k) for k in sorted(self.data) if k.startswith(prefix)]
            return [o for o in items if predicate is None or predicate(o)], self.revision, None

    def create(self, key, obj, ttl=None):
        with self.lock:
            if key in self.data:
                raise KeyExists(key)
            return self._put(key, obj)

    def _check(self, key, revision):
        if key not in self.data:
            raise KeyNotFound(key)
        if self.data[key][1] != revision:
            raise Conflict(key)

    def update(self, key, obj, revision):
        with self.lock:
            self._check(key, revision)
            return self._put(key, obj)

    def guaranteed_update(self, key, try_update, current=None, cached=False):
        with self.lock:  # a given (or cached) copy is ignored: the current one is read,
            current = self.get(key)  # and no other writer can get in between here
            new = try_update(copy.deepcopy(current))
            if codec.encode(new) == codec.encode(current):
                return current, False
            return self._put(key, new), True

    def delete(self, key, revision):
        with self.lock:
            self._check(key, revision)
            value, _ = self.data.pop(key)
            self.revision += 1
            return codec.decode(value, self.revision)
