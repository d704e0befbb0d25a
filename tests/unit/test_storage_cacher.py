"""The watch cache (``kfs.storage.cacher``): one etcd watch fanned out to many client
watches, a bounded window of events, bookmarks, and which lists it answers."""
import queue
import threading

import pytest

from kfs import resources, storage as st
from kfs.apiserver import kinds, registry
from kfs.storage.cacher import Cacher, NotReady
from tests.fakes import MemoryStorage

POD = kinds.for_resource(resources.lookup("pods"))


def pod(name, ns="a", rv=1, **labels):
    return {"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": ns, "labels": labels,
                         "resourceVersion": str(rv)}}


def ready_cacher(objects=(), revision=10, capacity=100):
    """A cacher fed by hand (no etcd): `objects` listed at `revision`."""
    c = Cacher(None, "/registry/pods/", capacity)
    c.cache.replace(list(objects), revision)
    c.ready.set()
    return c


def added(c, obj):
    rv = int(obj["metadata"]["resourceVersion"])
    prev = c.cache.store.get(f"{obj['metadata']['namespace']}/{obj['metadata']['name']}")
    c.process(st.Event("MODIFIED" if prev else "ADDED", obj, prev, rv))


def watch(c, rv=10, ns=None, selector=None, bookmarks=False, send_initial=None):
    """Start a watch; returns (the items it got first, a list its live items land in)."""
    got = []
    flt = registry.predicate(POD, selector)
    _, items, _ = c.watch(rv, ns, flt, bookmarks, lambda i: got.append(i) or True, send_initial)
    return [(t, o["metadata"]["name"]) for t, o, _ in items], got


def names(items):
    return [(t, o["metadata"]["name"] if o else ev.revision) for t, o, ev in items]


def test_one_event_reaches_every_watcher_that_selects_it():
    c = ready_cacher()
    _, everything = watch(c)
    _, in_b = watch(c, ns="b")
    _, web = watch(c, selector="app=web")
    added(c, pod("x", "a", 11, app="web"))
    added(c, pod("y", "b", 12, app="db"))
    assert names(everything) == [("ADDED", "x"), ("ADDED", "y")]
    assert names(in_b) == [("ADDED", "y")]
    assert names(web) == [("ADDED", "x")]


def test_an_object_leaving_a_selection_is_deleted_for_that_watcher_only():
    c = ready_cacher([pod("x", rv=5, app="web")])
    _, web = watch(c, selector="app=web")
    _, db = watch(c, selector="app=db")
    added(c, pod("x", rv=11, app="db"))
    assert names(web) == [("DELETED", "x")] and web[0][1]["metadata"]["resourceVersion"] == "11"
    assert names(db) == [("ADDED", "x")]


def test_a_watch_from_a_recent_revision_replays_the_window_then_follows():
    c = ready_cacher()
    for rv in (11, 12, 13):
        added(c, pod(f"p{rv}", rv=rv))
    first, live = watch(c, rv=11)
    assert first == [("ADDED", "p12"), ("ADDED", "p13")]
    added(c, pod("p14", rv=14))
    assert names(live) == [("ADDED", "p14")]


def test_a_watch_from_before_the_window_is_too_old_410():
    c = ready_cacher(capacity=3)
    watch(c, rv=10)  # the list's revision: still servable while nothing left the window
    for rv in (11, 12, 13, 14):
        added(c, pod(f"p{rv}", rv=rv))
    with pytest.raises(st.Expired, match="too old resource version: 10 \\(11\\)"):
        watch(c, rv=10)
    assert watch(c, rv=11)[0] == [("ADDED", "p12"), ("ADDED", "p13"), ("ADDED", "p14")]


def test_a_watch_from_zero_starts_with_the_objects_then_only_newer_events():
    c = ready_cacher([pod("b", rv=3), pod("a", rv=4)])
    first, live = watch(c, rv=0)
    assert first == [("ADDED", "a"), ("ADDED", "b")]  # in key order, as etcd lists
    added(c, pod("c", rv=11))
    assert names(live) == [("ADDED", "c")]
    assert watch(c, rv=0, send_initial=False)[0] == []


def test_progress_notifications_become_bookmarks_for_those_who_asked():
    c = ready_cacher()
    _, marked = watch(c, bookmarks=True)
    _, plain = watch(c)
    c.process(st.Event("PROGRESS", None, None, 20))
    assert names(marked) == [("BOOKMARK", 20)] and plain == []
    assert c.revision == 20


def test_a_list_waits_until_the_cache_is_as_fresh_as_asked():
    c = ready_cacher([pod("a", rv=4)])
    assert [o["metadata"]["name"] for o in c.list(0)[0]] == ["a"]
    with pytest.raises(NotReady):
        c.list(15, timeout=0.05)
    result = queue.Queue()
    t = threading.Thread(target=lambda: result.put(c.list(15, timeout=10)))
    t.start()
    c.process(st.Event("PROGRESS", None, None, 15))
    t.join(10)
    items, revision = result.get_nowait()
    assert revision == 15 and len(items) == 1


def test_a_watcher_that_does_not_keep_up_is_dropped():
    c = ready_cacher()
    c.watch(10, None, None, False, lambda item: False)
    added(c, pod("x", rv=11))
    assert c.watchers == set()


class FlakyEtcd(MemoryStorage):
    """MemoryStorage plus a watch whose events a test hands in; an exception ends it."""

    def __init__(self):
        super().__init__()
        self.feeds = queue.Queue()

    def watch(self, prefix, start_revision, progress_notify=False):
        feed = queue.Queue()
        self.feeds.put(feed)

        class Watch:
            def __iter__(self):
                while True:
                    item = feed.get()
                    if isinstance(item, Exception):
                        raise item
                    yield item

            def cancel(self):
                feed.put(st.Unavailable("cancelled"))
        return Watch()


def test_losing_etcd_ends_the_watchers_and_relists(monkeypatch):
    monkeypatch.setattr("kfs.storage.cacher.RELIST_BACKOFF", 0)
    etcd = FlakyEtcd()
    etcd.create("/registry/pods/a/one", pod("one"))
    c = Cacher(etcd, "/registry/pods/").start()
    try:
        feed = etcd.feeds.get(timeout=10)
        assert c.ready.wait(10)
        ended = threading.Event()
        c.watch(0, None, None, False, lambda item: item is not None or ended.set() or True)
        etcd.create("/registry/pods/a/two", pod("two"))  # written while the watch is lost
        feed.put(st.Expired(3, 5))
        assert ended.wait(10)
        etcd.feeds.get(timeout=10)  # watching again, after a new list
        assert c.ready.wait(10)
        assert [o["metadata"]["name"] for o in c.list(0)[0]] == ["one", "two"]
    finally:
        c.stop()


def test_consistent_and_exact_lists_go_to_etcd_others_to_the_cache():
    etcd = MemoryStorage()
    etcd.create("/registry/pods/a/fresh", pod("fresh"))
    stale = ready_cacher([pod("stale")], revision=1)
    reg = registry.Registry(etcd, {"pods": POD}, {"/registry/pods": stale})
    pods = resources.lookup("pods")

    def listed(**kw):
        return [o["metadata"]["name"] for o in reg.list(pods, "a", **kw)["items"]]
    assert listed() == ["fresh"]                                   # resourceVersion=""
    assert listed(resource_version="1", match="Exact") == ["fresh"]
    assert listed(resource_version="1", limit=5) == ["fresh"]      # paged
    assert listed(resource_version="0") == ["stale"]
    assert listed(resource_version="1", match="NotOlderThan") == ["stale"]
    item = reg.list(pods, "a", resource_version="0")["items"][0]
    assert "kind" not in item and stale.cache.store["a/stale"]["kind"] == "Pod"
