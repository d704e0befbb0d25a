"""The API server's watch cache against a real etcd: one etcd watch per resource fanned out,
a bounded window (410 after it, and the client's relist), bookmarks from etcd's progress
notifications, consistent reads still from etcd, and watches across a restart.

A control plane of its own, with a window of 5 events (``--default-watch-cache-size=5``)
so that leaving it takes six writes, and restarts that the session's plane is spared."""
import uuid

import pytest
import requests

from kfs import storage as st
from kfs.apiserver.local import LocalControlPlane
from kfs.client import Client, Expired, Informer
from kfs.util import wait_for
from tests.integration.test_registry import Watcher

WINDOW = 5


@pytest.fixture(scope="module")
def plane(tmp_path_factory):
    from tests.integration.conftest import needs
    needs("etcd")
    cp = LocalControlPlane(tmp_path_factory.mktemp("cp-watch-cache"), compaction_interval="0",
                           apiserver_args=["--default-watch-cache-size", str(WINDOW)])
    cp.start()
    yield cp
    cp.stop()


@pytest.fixture
def api(plane):
    return Client.from_kubeconfig(plane.kubeconfig())


@pytest.fixture
def ns(api):
    name = f"wc-{uuid.uuid4().hex[:8]}"
    api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


def pod(name, **labels):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "kfs/busybox:1"}]}}


def watcher(plane, path):
    """A raw watch request on this plane, read line by line in a thread."""
    def http(method, url, **kwargs):
        return requests.request(method, plane.server + url, verify=str(plane.pki.ca),
                                cert=(str(plane.pki.cert("admin")), str(plane.pki.key("admin"))),
                                **kwargs)
    return Watcher(http, path)


def names(w):
    return [(t, n) for t, n in w.types() if t != "BOOKMARK"]


def etcd_watchers(plane):
    """etcd's own count of its watches (its /metrics)."""
    text = requests.get(plane.etcd_endpoint + "/metrics", verify=str(plane.pki.etcd_ca),
                        cert=(str(plane.pki.cert("apiserver-etcd-client")),
                              str(plane.pki.key("apiserver-etcd-client"))), timeout=10).text
    line = next(l for l in text.splitlines() if l.startswith("etcd_debugging_mvcc_watcher_total"))
    return int(float(line.split()[1]))


def test_many_client_watches_share_one_etcd_watch_and_each_gets_its_selection(plane, api, ns):
    rv = api.list("pods", ns)["metadata"]["resourceVersion"]
    before = etcd_watchers(plane)
    base = f"/api/v1/namespaces/{ns}/pods?watch=true&resourceVersion={rv}"
    web = [watcher(plane, base + "&labelSelector=app%3Dweb") for _ in range(10)]
    everything = [watcher(plane, base) for _ in range(10)]
    try:
        api.create(pod("w", app="web"), ns)
        api.create(pod("d", app="db"), ns)
        wait_for(lambda: all(names(w) == [("ADDED", "w"), ("ADDED", "d")] for w in everything),
                 20, what="both pods at every unfiltered watcher")
        wait_for(lambda: all(names(w) == [("ADDED", "w")] for w in web), 20,
                 what="the web pod at every selecting watcher")
        assert etcd_watchers(plane) == before  # twenty client watches, no new etcd watch
    finally:
        for w in web + everything:
            w.close()


def test_a_watch_from_before_the_window_gets_410_too_old(plane, api, ns):
    rv = api.list("pods", ns)["metadata"]["resourceVersion"]
    api.create(pod("first"), ns)
    recent = api.list("pods", ns)["metadata"]["resourceVersion"]
    for i in range(WINDOW):
        api.create(pod(f"p{i}"), ns)
    with pytest.raises(Expired, match="too old resource version"):
        list(api.watch("pods", ns, resource_version=rv, timeout_seconds=5))
    events = []
    for kind, obj in api.watch("pods", ns, resource_version=recent, timeout_seconds=5):
        events.append((kind, obj["metadata"]["name"]))
        if len(events) == WINDOW:
            break
    assert events == [("ADDED", f"p{i}") for i in range(WINDOW)]  # still in the window


def test_an_informer_told_410_relists_and_keeps_following(plane, api, ns):
    stale = api.list("pods", ns)["metadata"]["resourceVersion"]
    for i in range(WINDOW + 1):
        api.create(pod(f"p{i}"), ns)
    informer = Informer(api, "pods", ns)
    informer.resource_version = stale  # as if it had been away since then
    informer.start()
    try:
        wait_for(lambda: len(informer.list()) == WINDOW + 1, 20, what="the relisted pods")
        api.create(pod("later"), ns)
        wait_for(lambda: informer.get(f"{ns}/later"), 20, what="the pod after the relist")
    finally:
        informer.stop()


def test_bookmarks_move_on_with_writes_to_other_resources(plane, api, ns):
    rv = api.list("pods", ns)["metadata"]["resourceVersion"]
    w = watcher(plane, f"/api/v1/namespaces/{ns}/pods?watch=true&allowWatchBookmarks=true"
                       f"&resourceVersion={rv}")
    try:
        elsewhere = api.create({"apiVersion": "v1", "kind": "Secret",
                                "metadata": {"name": "s"}}, ns)["metadata"]["resourceVersion"]
        wait_for(lambda: any(e["type"] == "BOOKMARK" and int(
            e["object"]["metadata"]["resourceVersion"]) >= int(elsewhere) for e in w.events),
                 20, what="a bookmark past the Secret's revision (etcd progress every 1s)")
        assert {e["type"] for e in w.events} == {"BOOKMARK"}
    finally:
        w.close()


def test_lists_from_zero_come_from_the_cache_and_consistent_ones_see_every_write(plane, api, ns):
    secrets = f"/api/v1/namespaces/{ns}/secrets"
    etcd = st.Storage(plane.etcd_endpoint, str(plane.pki.etcd_ca),
                      str(plane.pki.cert("apiserver-etcd-client")),
                      str(plane.pki.key("apiserver-etcd-client")))
    try:
        for i in range(20):  # written behind the API server's back, read at once
            etcd.create(f"/registry/secrets/{ns}/c{i}", {
                "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": f"c{i}", "namespace": ns, "uid": str(uuid.uuid4())}})
            names = [o["metadata"]["name"] for o in api.list("secrets", ns)["items"]]
            assert f"c{i}" in names  # resourceVersion="": from etcd, never behind
        revision = etcd.current_revision()
    finally:
        etcd.close()
    cached = api.request("GET", secrets, {"resourceVersion": "0"})
    wait_for(lambda: len(api.request("GET", secrets, {"resourceVersion": "0"})["items"]) == 20,
             10, what="the cache to have the 20 Secrets")
    fresh = api.request("GET", secrets, {"resourceVersion": str(revision),
                                         "resourceVersionMatch": "NotOlderThan"})
    assert len(fresh["items"]) == 20 and int(fresh["metadata"]["resourceVersion"]) >= revision
    assert int(cached["metadata"]["resourceVersion"]) > 0


def test_an_informer_follows_across_an_api_server_restart(plane, api, ns):
    api.create(pod("before"), ns)
    informer = Informer(api, "pods", ns).start().wait_synced()
    try:
        plane.restart_apiserver()
        api.create(pod("after"), ns)
        api.delete("pods", "before", ns, grace_period_seconds=0)
        wait_for(lambda: [o["metadata"]["name"] for o in informer.list()] == ["after"], 30,
                 what="the informer to see the writes after the restart")
    finally:
        informer.stop()
