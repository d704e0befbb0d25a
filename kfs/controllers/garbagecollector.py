"""The garbage collector: what lost its owner goes; owners wait for, or orphan, dependents.

Mirrors ``pkg/controller/garbagecollector/garbagecollector.go`` (``attemptToDeleteItem``,
``processDeletingDependentsItem``, ``orphanDependents``) and ``graph_builder.go``, shrunk.
An object names its owners in ``metadata.ownerReferences`` (a pod its ReplicaSet, a
ReplicaSet its Deployment). Deleting an owner asks, through ``propagationPolicy``:

- **Background** (kubectl's default): the API server deletes the owner at once; the
  collector then finds each dependent's owner gone and deletes the dependent;
- **Foreground**: the API server only marks the owner (deletionTimestamp + finalizer
  ``foregroundDeletion``); the collector deletes its dependents (foreground again for
  dependents that have dependents of their own), waits until every dependent with
  ``blockOwnerDeletion`` is gone, then removes the finalizer, and the owner goes;
- **Orphan**: finalizer ``orphan``; the collector removes the owner's reference from every
  dependent, then the finalizer: the dependents stay, ownerless.

``reconcile("<resource>:<ns>/<name>")`` looks at one object. Being deleted with one of those
finalizers: do that finalizer's work. Otherwise classify each owner reference: **solid**
(the owner exists), **dangling** (absent, or a different object of the same name: checked
with a live GET before believing the cache) or **waiting** (the owner is being deleted in
foreground). Any solid owner: the object stays (dangling and waiting references are
removed from it); none: delete it.

The owner → dependents index (upstream's dependency graph, ``uidToNode``) is kept from the
informers' events: a deleted object enqueues its dependents; a changed object its owners.

What real Kubernetes does differently: it watches *every* resource that supports delete
(discovered, refreshed as CRDs come and go), with "virtual" graph nodes for owners it has
not seen yet, an absent-owner cache, cycle detection for foreground deletion, and
cluster-scoped vs namespaced owner checks with events for invalid references.
"""
import copy
import logging
import threading

from kfs import meta, resources
from kfs.client import ApiError
from kfs.controllers import controller_utils as cu
from kfs.controllers.manager import Controller

log = logging.getLogger("kfs.controllers.garbagecollector")

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
# the resources whose objects may own or be owned (upstream: all deletable resources)
MONITORED = ("deployments", "replicasets", "pods", "services", "endpoints", "endpointslices",
             "leases", "nodes")


class Graph:
    """Who depends on whom: owner uid -> {dependent key: blockOwnerDeletion}."""

    def __init__(self):
        self.lock = threading.Lock()
        self.dependents = {}   # owner uid -> {dependent key: block}
        self.owners = {}       # dependent key -> [owner references]

    def set(self, key, refs):
        with self.lock:
            self._drop(key)
            if refs:
                self.owners[key] = refs
                for ref in refs:
                    self.dependents.setdefault(ref["uid"], {})[key] = bool(
                        ref.get("blockOwnerDeletion"))

    def remove(self, key):
        with self.lock:
            self._drop(key)

    def _drop(self, key):
        for ref in self.owners.pop(key, []):
            deps = self.dependents.get(ref["uid"], {})
            deps.pop(key, None)
            if not deps:
                self.dependents.pop(ref["uid"], None)

    def dependents_of(self, uid):
        with self.lock:
            return dict(self.dependents.get(uid, {}))


def owner_refs(obj):
    return [r for r in (obj or {}).get("metadata", {}).get("ownerReferences") or [] if r.get("uid")]


def finalizers(obj):
    return obj.get("metadata", {}).get("finalizers") or []


class GarbageCollector(Controller):
    name = "garbagecollector"

    def __init__(self, client, informers, recorder=None, workers=20, monitored=MONITORED):
        super().__init__(client, informers, recorder)
        self.workers = workers
        self.graph = Graph()
        self.caches = {}
        for plural in monitored:
            self.caches[plural] = informers[plural].add_handler(self._handler(plural))

    # -- the graph builder: events in, keys out -------------------------------------------

    def _handler(self, plural):
        def on_event(kind, obj, old):
            self.process_graph_change(plural, kind, obj, old)
        return on_event

    def process_graph_change(self, plural, kind, obj, old):
        key = f"{plural}:{meta.key(obj)}"
        refs = owner_refs(obj)
        if kind == "DELETED":
            self.graph.remove(key)
            for dep in self.graph.dependents_of(obj["metadata"].get("uid")):
                self.enqueue(dep)                      # their owner is gone
            for ref in refs:
                self.enqueue_owner(obj, ref)           # an owner may be waiting for us
            return
        old_refs = owner_refs(old) if kind == "MODIFIED" else []
        self.graph.set(key, refs)
        if kind == "ADDED" and (refs or self.gc_finalizers(obj)):
            self.enqueue(key)
        elif kind == "MODIFIED":
            if _ref_state(refs) != _ref_state(old_refs):
                self.enqueue(key)
                for ref in old_refs:
                    self.enqueue_owner(obj, ref)      # released, or no longer blocking
            if cu.being_deleted(obj) and self.gc_finalizers(obj) and (
                    not cu.being_deleted(old or {}) or finalizers(old or {}) != finalizers(obj)):
                self.enqueue(key)

    def gc_finalizers(self, obj):
        return [f for f in finalizers(obj) if f in (FOREGROUND, ORPHAN)]

    def owner_key(self, obj, ref):
        try:
            r = resources.for_object({"apiVersion": ref.get("apiVersion"), "kind": ref.get("kind")})
        except resources.UnknownResource:
            return None, None
        ns = meta.namespace(obj) if r.namespaced else None
        return r, f"{ns}/{ref['name']}" if ns else ref["name"]

    def enqueue_owner(self, obj, ref):
        r, key = self.owner_key(obj, ref)
        if r is not None and r.plural in self.caches:
            self.enqueue(f"{r.plural}:{key}")

    # -- attemptToDelete --------------------------------------------------------------------

    def reconcile(self, key):
        plural, _, obj_key = key.partition(":")
        obj = self.caches[plural].get(obj_key)
        if obj is None:
            return None
        if cu.being_deleted(obj):
            if ORPHAN in finalizers(obj):
                return self.orphan_dependents(plural, obj)
            if FOREGROUND in finalizers(obj):
                return self.process_deleting_dependents(plural, obj)
            return None
        refs = owner_refs(obj)
        if not refs:
            return None
        solid, dangling, waiting = self.classify(obj, refs)
        if solid:
            if dangling or waiting:
                gone = {r["uid"] for r in dangling + waiting}
                log.info("%s: removing references to absent or deleting owners", key)
                self.update_fresh(plural, obj, lambda o: _drop_refs(o, gone))
            return None
        uid = obj["metadata"].get("uid")
        if waiting and self.graph.dependents_of(uid):
            policy = "Foreground"   # its own dependents go first, then it, then its owner
        elif ORPHAN in finalizers(obj):
            policy = "Orphan"
        elif FOREGROUND in finalizers(obj):
            policy = "Foreground"
        else:
            policy = "Background"
        self.delete(plural, obj, policy)
        return None

    def classify(self, obj, refs):
        solid, dangling, waiting = [], [], []
        for ref in refs:
            owner = self.lookup_owner(obj, ref)
            if owner is None:
                dangling.append(ref)
            elif cu.being_deleted(owner) and FOREGROUND in finalizers(owner):
                waiting.append(ref)
            else:
                solid.append(ref)
        return solid, dangling, waiting

    def lookup_owner(self, obj, ref):
        """The owner a reference names (same uid), from the cache or, when the cache does
        not have it, from the API server; None if it does not exist."""
        r, key = self.owner_key(obj, ref)
        if r is None:
            log.warning("%s: owner kind %s/%s unknown to kfs; keeping the object",
                        meta.key(obj), ref.get("apiVersion"), ref.get("kind"))
            return {"metadata": {"uid": ref["uid"]}}  # cannot tell: treat as present
        cache = self.caches.get(r.plural)
        owner = cache.get(key) if cache is not None else None
        if owner is not None and owner["metadata"].get("uid") == ref["uid"]:
            return owner
        ns, name = meta.split_key(key)
        try:
            owner = self.client.get(r, name, ns)
        except ApiError as e:
            if e.not_found:
                return None
            raise
        return owner if owner["metadata"].get("uid") == ref["uid"] else None

    # -- foreground and orphan ---------------------------------------------------------------

    def process_deleting_dependents(self, plural, owner):
        blocking = [k for k, block in self.graph.dependents_of(owner["metadata"]["uid"]).items()
                    if block]
        if not blocking:
            log.info("%s:%s: no blocking dependents left, removing %s", plural,
                     meta.key(owner), FOREGROUND)
            return self.remove_finalizer(plural, owner, FOREGROUND)
        for dep in blocking:
            self.enqueue(dep)
        return None

    def orphan_dependents(self, plural, owner):
        uid = owner["metadata"]["uid"]
        for dep_key in self.graph.dependents_of(uid):
            dep_plural, _, k = dep_key.partition(":")
            dep = self.caches[dep_plural].get(k)
            if dep is not None:
                self.update_fresh(dep_plural, dep, lambda o: _drop_refs(o, {uid}))
        log.info("%s:%s: dependents orphaned, removing %s", plural, meta.key(owner), ORPHAN)
        return self.remove_finalizer(plural, owner, ORPHAN)

    # -- writes ---------------------------------------------------------------------------------

    def delete(self, plural, obj, policy):
        log.info("deleting %s:%s (propagation %s)", plural, meta.key(obj), policy)
        try:
            self.client.delete(plural, meta.name(obj), meta.namespace(obj),
                               propagation_policy=policy, uid=obj["metadata"].get("uid"))
        except ApiError as e:
            if not (e.not_found or e.conflict):  # gone, or replaced by a new object
                raise

    def remove_finalizer(self, plural, obj, name):
        def drop(o):
            o["metadata"]["finalizers"] = [f for f in finalizers(o) if f != name]
        self.update_fresh(plural, obj, drop)

    def update_fresh(self, plural, obj, change, attempts=5):
        """Apply `change` to the object's metadata and write it as a merge patch guarded by
        its resourceVersion, re-reading it after a conflict."""
        current = obj
        for _ in range(attempts):
            new = copy.deepcopy(current)
            change(new)
            md = new["metadata"]
            body = {"metadata": {k: md.get(k) or [] for k in ("ownerReferences", "finalizers")}}
            body["metadata"].update(resourceVersion=md["resourceVersion"], uid=md["uid"])
            try:
                return self.client.patch(plural, md["name"], body, md.get("namespace"))
            except ApiError as e:
                if e.not_found:
                    return None
                if not e.conflict:
                    raise
            try:
                current = self.client.get(plural, meta.name(obj), meta.namespace(obj))
            except ApiError as e:
                if e.not_found:
                    return None
                raise
            if current["metadata"].get("uid") != obj["metadata"].get("uid"):
                return None
        raise RuntimeError(f"{plural}:{meta.key(obj)}: too many conflicts")


def _ref_state(refs):
    return sorted((r["uid"], bool(r.get("blockOwnerDeletion"))) for r in refs)


def _drop_refs(obj, uids):
    obj["metadata"]["ownerReferences"] = [r for r in owner_refs(obj) if r["uid"] not in uids]
