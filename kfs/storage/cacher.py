"""The watch cache: one etcd watch per resource, fanned out to every client watch.

Without it every client watch is an etcd watch of its own and every list an etcd range
read: a hundred kubelets watching their pods are a hundred etcd watches on ``/registry/pods/``,
each decoding every pod change. A ``Cacher`` per resource instead keeps

- **the objects** of the resource in memory, as of `revision` (one list of etcd at start,
  then one etcd watch from there on, with progress notifications);
- **a window of the last events** (``--default-watch-cache-size``, 100), so that a watch
  from a recent resourceVersion is answered from memory: the events after it in the
  window, then the live ones. A resourceVersion older than the window gets 410 Gone, "too
  old resource version", and the client relists;
- **the client watches** (`CacheWatcher`): each event is applied once, then offered to
  every watcher, which keeps it if it is in its namespace and passes its label and field
  selectors (an object that leaves the selection is DELETED for that watcher, one that
  enters it ADDED, as etcd's own watcher does);
- **bookmarks**: etcd's progress notifications ("nothing under this prefix up to revision
  N") move the cache's revision on while the resource is quiet, and become a BOOKMARK
  for every watcher that asked for them (``allowWatchBookmarks``).

Lists with ``resourceVersion=0`` ("any") or ``resourceVersionMatch=NotOlderThan`` are
answered from memory once the cache is at least that fresh (waiting up to 3 s for it, as
upstream's ``waitUntilFreshAndBlock``; after that the list goes to etcd). A **consistent**
read (``resourceVersion=""``, and an ``Exact`` one, and a paged one) still goes to etcd:
serving it from the cache needs etcd to confirm how far the cache's watch has got
(``RequestProgress``), which Debian 12's etcd 3.4.23 cannot be trusted with (fixed in
3.4.31), so kfs falls back to etcd, as upstream does on such an etcd. While the cache is
(re)listing, after it lost etcd, its requests go to etcd as well, and its watchers are
ended (the clients watch again from their last resourceVersion).

The cached objects are shared by every response: nobody may change one.

Mirrors ``staging/src/k8s.io/apiserver/pkg/storage/cacher``: ``cacher.go`` (Watch,
GetList, the dispatch loop), ``watch_cache.go`` (the store, the cyclic buffer,
getAllEventsSinceLocked, waitUntilFreshAndBlock) and ``cache_watcher.go``
(convertToWatchEvent, a watcher that does not keep up is ended).

What real Kubernetes does differently: the window's size adapts to keep about 75 s of
events (between 100 and 100 × 1024), and ``--watch-cache-sizes`` sets it per resource; the
store is a B-tree with indexes (a pod's ``spec.nodeName``) and keeps snapshots for paged
lists; events are serialized once per wire format for every watcher (here: once for JSON);
bookmarks go to each watcher about once a minute and just before it times out; a watch
without resourceVersion is served from the cache too; with a recent etcd, consistent
lists are served from the cache after a progress request; Events have no watch cache
(as here).
"""
import collections
import logging
import threading

from kfs.storage.errors import Expired, StorageError

log = logging.getLogger("kfs.storage.cacher")

DEFAULT_CAPACITY = 100   # --default-watch-cache-size
FRESH_TIMEOUT = 3.0      # upstream's blockTimeout: how long a list waits for the cache
RELIST_BACKOFF = 1.0


class NotReady(StorageError):
    """The cache cannot answer this (starting, relisting, or not fresh enough): ask etcd."""


def object_key(obj):
    """The store's key, in etcd's order: "namespace/name", or "name"."""
    md = obj.get("metadata") or {}
    ns = md.get("namespace")
    return f"{ns}/{md.get('name')}" if ns else md.get("name")


def transition(ev, flt):
    """(type, object) for a watcher with filter `flt`, or None: processEvent's selector
    rules (upstream's cacheWatcher.convertToWatchEvent)."""
    if flt is None:
        return ev.type, ev.obj
    cur = ev.obj if ev.type != "DELETED" else None
    cur_ok = cur is not None and flt(cur)
    prev_ok = ev.prev is not None and flt(ev.prev)
    if ev.type == "DELETED":
        return ("DELETED", ev.obj) if prev_ok else None
    if cur_ok and prev_ok:
        return "MODIFIED", ev.obj
    if cur_ok:
        return "ADDED", ev.obj
    if prev_ok:  # left the selection: the previous state, at this revision
        last = dict(ev.prev, metadata=dict(ev.prev["metadata"],
                                           resourceVersion=ev.obj["metadata"]["resourceVersion"]))
        return "DELETED", last
    return None


class WatchCache:
    """The objects of one resource as of `revision`, and the last `capacity` events."""

    def __init__(self, capacity=DEFAULT_CAPACITY):
        self.store = {}                       # object_key -> object
        self.events = collections.deque(maxlen=max(capacity, 1))
        self.revision = 0                     # everything up to here is in `store`
        self.list_revision = 0                # the revision of the last relist
        self.evicted = False                  # an event left the window since that relist

    def replace(self, objects, revision):
        """A relist: the state at `revision`, an empty window."""
        self.store = {object_key(o): o for o in objects}
        self.events.clear()
        self.revision = self.list_revision = revision
        self.evicted = False

    def apply(self, ev):
        if len(self.events) == self.events.maxlen:
            self.evicted = True
        self.events.append(ev)
        key = object_key(ev.obj)
        if ev.type == "DELETED":
            self.store.pop(key, None)
        else:
            self.store[key] = ev.obj
        self.revision = max(self.revision, ev.revision)

    def progress(self, revision):
        self.revision = max(self.revision, revision)

    def oldest(self):
        """The oldest revision a watch can start after: the relist's until an event leaves
        the window, then the oldest event's minus one."""
        if not self.evicted or not self.events:
            return self.list_revision
        return self.events[0].revision - 1

    def since(self, revision):
        """The window's events after `revision`; Expired if some were already dropped."""
        oldest = self.oldest()
        if revision < oldest:
            raise Expired(revision, oldest)
        out = []
        for ev in reversed(self.events):
            if ev.revision <= revision:
                break
            out.append(ev)
        out.reverse()
        return out

    def snapshot(self, namespace=None, flt=None):
        """The objects (in key order) in `namespace` (None: all) that pass `flt`."""
        objs = [o for k, o in sorted(self.store.items())
                if namespace is None or k.startswith(namespace + "/")]
        return [o for o in objs if flt(o)] if flt else objs


class CacheWatcher:
    """One client watch on a cacher: the events after `start` in `namespace` (None: all)
    that pass `flt`, as ``(type, object, event)`` items handed to `send`, which returns
    False when its client does not keep up (the watch then ends). A BOOKMARK's object is
    None (the event carries the revision); a ``None`` item ends the watch."""

    def __init__(self, start, namespace, flt, bookmarks, send):
        self.start, self.namespace, self.flt = start, namespace, flt
        self.bookmarks, self.send = bookmarks, send

    def convert(self, ev):
        if ev.type == "PROGRESS":  # "you are at N": true of the start revision too
            return ("BOOKMARK", None, ev) if self.bookmarks and ev.revision >= self.start \
                else None
        if ev.revision <= self.start:
            return None
        if self.namespace is not None and \
                (ev.obj.get("metadata") or {}).get("namespace") != self.namespace:
            return None
        out = transition(ev, self.flt)
        return (out[0], out[1], ev) if out else None

    def add(self, ev):
        item = self.convert(ev)
        return item is None or self.send(item)


class Cacher:
    """The watch cache of the resource under `prefix` (ending in "/")."""

    def __init__(self, storage, prefix, capacity=DEFAULT_CAPACITY):
        self.storage, self.prefix = storage, prefix
        self.cache = WatchCache(capacity)
        self.watchers = set()
        self.lock = threading.Condition()
        self.ready = threading.Event()
        self.stopped = threading.Event()
        self._etcd_watch = None

    @property
    def revision(self):
        return self.cache.revision

    # -- keeping the cache current (the reflector) ---------------------------------------------

    def start(self):
        threading.Thread(target=self.run, daemon=True, name=f"cacher{self.prefix}").start()
        return self

    def stop(self):
        self.stopped.set()
        if self._etcd_watch is not None:
            self._etcd_watch.cancel()
        self._terminate_watchers()

    def run(self):
        while not self.stopped.is_set():
            try:
                self.list_and_watch()
            except StorageError as e:
                if not self.stopped.is_set():
                    log.warning("watch cache of %s: %s; relisting", self.prefix, e)
            self._terminate_watchers()
            self.stopped.wait(RELIST_BACKOFF)

    def list_and_watch(self):
        """List etcd, then follow its watch from that revision (until it fails)."""
        items, revision, _ = self.storage.list(self.prefix)
        self._etcd_watch = self.storage.watch(self.prefix, revision + 1, progress_notify=True)
        with self.lock:
            self.cache.replace(items, revision)
            self.ready.set()
            self.lock.notify_all()
        for ev in self._etcd_watch:
            self.process(ev)

    def process(self, ev):
        """One etcd event: into the store and the window, then to every watcher."""
        with self.lock:
            if ev.type == "PROGRESS":
                self.cache.progress(ev.revision)
            else:
                self.cache.apply(ev)
            for w in list(self.watchers):
                if not w.add(ev):  # its client does not read: end it, it watches again
                    log.warning("watch cache of %s: ending a watcher that does not keep up",
                                self.prefix)
                    self.watchers.discard(w)
            self.lock.notify_all()

    def _terminate_watchers(self):
        with self.lock:
            self.ready.clear()
            watchers, self.watchers = self.watchers, set()
        for w in watchers:
            w.send(None)

    # -- serving --------------------------------------------------------------------------------

    def _wait_fresh(self, revision, timeout):
        """(with the lock held) until the cache is ready and at `revision`; else NotReady."""
        if not self.lock.wait_for(lambda: self.ready.is_set() and self.cache.revision >= revision,
                                  timeout):
            raise NotReady(f"the watch cache of {self.prefix} is not at revision {revision}")

    def list(self, revision=0, namespace=None, flt=None, timeout=FRESH_TIMEOUT):
        """(objects, revision) as of a revision at least `revision` (NotOlderThan)."""
        with self.lock:
            self._wait_fresh(revision, timeout)
            return self.cache.snapshot(namespace, flt), self.cache.revision

    def get(self, namespace, name):
        """The cached object (shared: do not change it), or None (not ready, not there):
        where a read-modify-write may start, as upstream's GuaranteedUpdate starts from
        the cache's copy; the write's compare on its resourceVersion catches a stale one."""
        if not self.ready.is_set():
            return None
        return self.cache.store.get(f"{namespace}/{name}" if namespace else name)

    def wait_fresh(self, revision, timeout=FRESH_TIMEOUT):
        with self.lock:
            self._wait_fresh(revision, timeout)

    def watch(self, revision, namespace, flt, bookmarks, send, send_initial=None):
        """Start a client watch: returns (its watcher, the items to send first, the revision
        the watch starts after). `revision` 0 means "any": the current objects come first
        as ADDED (unless `send_initial` is False); else the window's events after it
        (Expired if the window no longer reaches back that far). Live items go to `send`."""
        with self.lock:
            if not self.ready.is_set():
                raise NotReady(f"the watch cache of {self.prefix} is not ready")
            watcher = CacheWatcher(revision, namespace, flt, bookmarks, send)
            if send_initial or (send_initial is None and revision == 0):
                items = [("ADDED", o, None) for o in self.cache.snapshot(namespace, flt)]
            elif revision == 0:
                items = []
            else:
                items = [i for i in map(watcher.convert, self.cache.since(revision)) if i]
            if revision == 0 or send_initial:
                watcher.start = self.cache.revision
            else:
                watcher.start = max(revision, self.cache.revision)
            self.watchers.add(watcher)
            return watcher, items, watcher.start

    def forget(self, watcher):
        with self.lock:
            self.watchers.discard(watcher)


def cachers(storage, prefixes, capacity=DEFAULT_CAPACITY):
    """{prefix: Cacher} for the resources under `prefixes` (not started)."""
    return {p: Cacher(storage, p if p.endswith("/") else p + "/", capacity) for p in prefixes}
