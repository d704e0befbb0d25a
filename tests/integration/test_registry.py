"""What the API server does with objects, seen over real HTTPS: deletion, subresources,
allocation, watch semantics (the watch list of KEP-3157 too), reviews, and etcd
underneath."""
import asyncio
import json
import socket
import threading

import pytest
import requests

from kfs import resources, storage as st
from kfs.apiserver import errors, kinds
from kfs.apiserver.registry import Registry
from kfs.util import wait_for


@pytest.fixture
def http(cp):
    def call(method, path, **kwargs):
        kwargs.setdefault("timeout", 30)
        return requests.request(method, cp.server + path, verify=str(cp.pki.ca),
                                cert=(str(cp.pki.cert("admin")), str(cp.pki.key("admin"))),
                                **kwargs)
    return call


@pytest.fixture
def etcd(cp):
    s = st.Storage(cp.etcd_endpoint, str(cp.pki.etcd_ca), str(cp.pki.cert("apiserver-etcd-client")),
                   str(cp.pki.key("apiserver-etcd-client")))
    yield s
    s.close()


def pod(name, node=None, **meta):
    spec = {"containers": [{"name": "c", "image": "kfs/busybox:1"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, **meta}, "spec": spec}


def deployment(name, replicas=1):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "x"}]}}}}


class Watcher:
    """A raw watch request read line by line in a thread."""

    def __init__(self, http, path, headers=None):
        self.events, self.resp = [], http("GET", path, stream=True, headers=headers or {},
                                          timeout=(10, 60))
        assert self.resp.status_code == 200
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        try:
            for line in self.resp.iter_lines():
                if line:
                    self.events.append(json.loads(line))
        except Exception:  # closed by the test
            pass

    def types(self, name=None):
        return [(e["type"], e["object"].get("metadata", {}).get("name")) for e in self.events
                if name is None or e["object"].get("metadata", {}).get("name") == name]

    def close(self):
        """Hang up (a shutdown wakes the reading thread at once)."""
        conn = getattr(self.resp.raw, "_connection", None) or getattr(self.resp.raw,
                                                                      "connection", None)
        sock = getattr(conn, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.resp.close()


# -- etcd underneath -------------------------------------------------------------------------

def test_objects_live_under_registry_keys_with_resource_version_the_mod_revision(http, etcd, ns):
    created = http("POST", f"/api/v1/namespaces/{ns}/pods", json=pod("p")).json()
    raw = etcd.range(f"/registry/pods/{ns}/p").kvs[0]
    assert str(raw.mod_revision) == created["metadata"]["resourceVersion"]
    assert json.loads(raw.value)["metadata"]["uid"] == created["metadata"]["uid"]
    http("POST", f"/api/v1/namespaces/{ns}/services", json={
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 80}], "selector": {"a": "b"}}})
    assert etcd.keys(f"/registry/services/specs/{ns}/") == [f"/registry/services/specs/{ns}/s"]


def test_a_watch_from_a_compacted_revision_is_still_served_from_the_watch_cache(http, etcd, ns):
    """etcd forgot those revisions; the watch cache's window still has their events."""
    first = http("POST", f"/api/v1/namespaces/{ns}/pods", json=pod("old")).json()
    http("DELETE", f"/api/v1/namespaces/{ns}/pods/old")
    http("POST", f"/api/v1/namespaces/{ns}/pods", json=pod("new"))
    etcd.compact(etcd.current_revision())
    rv = first["metadata"]["resourceVersion"]
    w = Watcher(http, f"/api/v1/namespaces/{ns}/pods?watch=true&resourceVersion={rv}")
    try:
        wait_for(lambda: w.types() == [("DELETED", "old"), ("ADDED", "new")], 10,
                 what="the window's events")
    finally:
        w.close()


def test_an_etcd_watch_from_a_compacted_revision_is_expired(etcd, ns):
    """Where a watch without the cache gets its 410 (``--watch-cache=false``)."""
    before = etcd.current_revision()
    etcd.create_key(f"/registry/test/{ns}/a")
    etcd.compact(etcd.current_revision())
    with pytest.raises(st.Expired):
        for _ in etcd.watch(f"/registry/test/{ns}/", before):
            pass


# -- watch ------------------------------------------------------------------------------------

def test_a_watch_without_resource_version_starts_with_the_existing_objects(http, ns):
    http("POST", f"/api/v1/namespaces/{ns}/pods", json=pod("there"))
    w = Watcher(http, f"/api/v1/namespaces/{ns}/pods?watch=true")
    try:
        wait_for(lambda: w.types() == [("ADDED", "there")], 10, what="the synthetic ADDED")
        http("DELETE", f"/api/v1/namespaces/{ns}/pods/there")
        wait_for(lambda: ("DELETED", "there") in w.types(), 10, what="DELETED")
        deleted = w.events[-1]["object"]
        assert deleted["spec"]["containers"][0]["name"] == "c"  # the last state, in full
    finally:
        w.close()


def test_a_pod_bound_to_a_node_enters_that_nodes_field_selector_watch_as_added(http, ns):
    http("POST", f"/api/v1/namespaces/{ns}/pods", json=pod("unbound"))
    w = Watcher(http, "/api/v1/pods?watch=true&fieldSelector=spec.nodeName%3Dnode7")
    try:
        r = http("POST", f"/api/v1/namespaces/{ns}/pods/unbound/binding", json={
            "apiVersion": "v1", "kind": "Binding", "metadata": {"name": "unbound"},
            "target": {"apiVersion": "v1", "kind": "Node", "name": "node7"}})
        assert r.status_code == 201 and r.json()["status"] == "Success"
        wait_for(lambda: w.types() == [("ADDED", "unbound")], 10, what="ADDED on node7")
    finally:
        w.close()
    again = http("POST", f"/api/v1/namespaces/{ns}/pods/unbound/binding", json={
        "apiVersion": "v1", "kind": "Binding", "metadata": {"name": "unbound"},
        "target": {"name": "node8"}})
    assert again.status_code == 409
    got = http("GET", f"/api/v1/namespaces/{ns}/pods/unbound").json()
    assert got["spec"]["nodeName"] == "node7"
    assert got["status"]["conditions"][0]["type"] == "PodScheduled"


def test_bookmarks_carry_only_a_resource_version(http, ns):
    rv = http("GET", f"/api/v1/namespaces/{ns}/pods").json()["metadata"]["resourceVersion"]
    w = Watcher(http, f"/api/v1/namespaces/{ns}/pods?watch=true&allowWatchBookmarks=true"
                      f"&resourceVersion={rv}")
    try:
        wait_for(lambda: any(e["type"] == "BOOKMARK" for e in w.events), 20,
                 what="a bookmark (etcd progress notifications every second)")
        bookmark = next(e for e in w.events if e["type"] == "BOOKMARK")["object"]
        assert set(bookmark) == {"kind", "apiVersion", "metadata"}
        assert list(bookmark["metadata"]) == ["resourceVersion"]
    finally:
        w.close()


def test_a_watch_asking_for_tables_gets_table_rows(http, ns):
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    w = Watcher(http, f"/api/v1/namespaces/{ns}/pods?watch=true", {"Accept": accept})
    try:
        http("POST", f"/api/v1/namespaces/{ns}/pods", json=pod("tabled"))
        wait_for(lambda: w.events, 10, what="an event")
        table = w.events[0]["object"]
        assert table["kind"] == "Table" and table["rows"][0]["cells"][0] == "tabled"
    finally:
        w.close()


WATCH_LIST = "watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan"


def is_end(event):
    """The bookmark that ends a watch list's initial events (KEP-3157)."""
    annotations = event["object"]["metadata"].get("annotations") or {}
    return event["type"] == "BOOKMARK" and annotations.get("k8s.io/initial-events-end") == "true"


def test_a_watch_list_sends_the_objects_then_the_end_bookmark_then_the_changes(http, ns):
    for name in ("a", "b"):
        created = http("POST", f"/api/v1/namespaces/{ns}/pods", json=pod(name)).json()
    s = Watcher(http, f"/api/v1/namespaces/{ns}/pods?{WATCH_LIST}&allowWatchBookmarks=true")
    try:
        wait_for(lambda: any(is_end(e) for e in s.events), 10, what="the end bookmark")
        assert s.types()[:3] == [("ADDED", "a"), ("ADDED", "b"), ("BOOKMARK", None)]
        end = s.events[2]["object"]
        assert (end["kind"], end["apiVersion"]) == ("Pod", "v1")
        assert int(end["metadata"]["resourceVersion"]) >= int(
            created["metadata"]["resourceVersion"])
        http("POST", f"/api/v1/namespaces/{ns}/pods", json=pod("c"))
        wait_for(lambda: ("ADDED", "c") in s.types(), 10, what="the change after the list")
    finally:
        s.close()


def test_a_watch_list_of_nothing_still_ends_with_the_bookmark(http, ns):
    s = Watcher(http, f"/api/v1/namespaces/{ns}/pods?{WATCH_LIST}&allowWatchBookmarks=true"
                     "&resourceVersion=0")
    try:
        wait_for(lambda: s.events, 10, what="the end bookmark")
        assert is_end(s.events[0])
    finally:
        s.close()


def test_send_initial_events_false_watches_from_now_without_the_objects(http, ns):
    http("POST", f"/api/v1/namespaces/{ns}/pods", json=pod("before"))
    s = Watcher(http, f"/api/v1/namespaces/{ns}/pods?watch=true&sendInitialEvents=false"
                     "&resourceVersionMatch=NotOlderThan")
    try:
        http("POST", f"/api/v1/namespaces/{ns}/pods", json=pod("after"))
        wait_for(lambda: s.events, 10, what="the new pod")
        assert s.types() == [("ADDED", "after")]
    finally:
        s.close()


@pytest.mark.parametrize("query, field, message", [
    ("watch=true&sendInitialEvents=true", "resourceVersionMatch",
     "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"),
    ("watch=true&resourceVersionMatch=NotOlderThan", "resourceVersionMatch",
     "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"),
    ("sendInitialEvents=true", "sendInitialEvents", "sendInitialEvents is forbidden for list"),
    ("resourceVersionMatch=Exact", "resourceVersionMatch",
     "resourceVersionMatch is forbidden unless resourceVersion is provided"),
])
def test_list_options_upstream_refuses_are_a_422_invalid(http, ns, query, field, message):
    r = http("GET", f"/api/v1/namespaces/{ns}/pods?{query}", timeout=10)
    status = r.json()
    assert (r.status_code, status["reason"]) == (422, "Invalid")
    assert status["details"]["kind"] == "ListOptions"
    assert status["details"]["causes"][0]["field"] == field
    assert message in status["message"]


def test_a_watch_list_from_a_future_resource_version_tells_the_client_to_relist(http, ns):
    rv = int(http("GET", f"/api/v1/namespaces/{ns}/pods").json()["metadata"]["resourceVersion"])
    lines = http("GET", f"/api/v1/namespaces/{ns}/pods?{WATCH_LIST}&resourceVersion={rv + 10**6}",
                 timeout=20).text.splitlines()
    assert [json.loads(line)["type"] for line in lines] == ["ERROR"]
    assert json.loads(lines[0])["object"]["code"] == 410


# -- deletion ---------------------------------------------------------------------------------

def test_a_pod_on_a_node_is_deleted_gracefully_and_finally_by_grace_zero(http, ns):
    http("POST", f"/api/v1/namespaces/{ns}/pods", json=pod("g", node="node1"))
    marked = http("DELETE", f"/api/v1/namespaces/{ns}/pods/g").json()
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 30
    assert marked["metadata"]["deletionTimestamp"]
    assert http("GET", f"/api/v1/namespaces/{ns}/pods/g").status_code == 200
    http("DELETE", f"/api/v1/namespaces/{ns}/pods/g", json={"gracePeriodSeconds": 0})
    assert http("GET", f"/api/v1/namespaces/{ns}/pods/g").status_code == 404


def test_an_object_with_finalizers_is_only_marked_until_they_are_removed(http, ns):
    http("POST", f"/api/v1/namespaces/{ns}/pods", json=pod("f", finalizers=["example.com/x"]))
    http("DELETE", f"/api/v1/namespaces/{ns}/pods/f")
    got = http("GET", f"/api/v1/namespaces/{ns}/pods/f").json()
    assert got["metadata"]["deletionTimestamp"]
    http("PATCH", f"/api/v1/namespaces/{ns}/pods/f", json={"metadata": {"finalizers": None}},
         headers={"Content-Type": "application/merge-patch+json"})
    assert http("GET", f"/api/v1/namespaces/{ns}/pods/f").status_code == 404


@pytest.mark.parametrize("policy,finalizer", [("Foreground", "foregroundDeletion"),
                                              ("Orphan", "orphan")])
def test_propagation_policy_adds_the_garbage_collectors_finalizer(http, ns, policy, finalizer):
    http("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", json=deployment("d"))
    r = http("DELETE", f"/apis/apps/v1/namespaces/{ns}/deployments/d?propagationPolicy={policy}")
    assert r.json()["metadata"]["finalizers"] == [finalizer]


def test_dry_run_validates_but_stores_nothing(http, ns):
    r = http("POST", f"/api/v1/namespaces/{ns}/pods?dryRun=All", json=pod("dry"))
    assert r.status_code == 201 and r.json()["metadata"]["uid"]
    assert http("GET", f"/api/v1/namespaces/{ns}/pods/dry").status_code == 404


def test_generate_name_gets_a_random_suffix(http, ns):
    body = pod("")
    body["metadata"] = {"generateName": "web-"}
    name = http("POST", f"/api/v1/namespaces/{ns}/pods", json=body).json()["metadata"]["name"]
    assert name.startswith("web-") and len(name) == len("web-") + 5


def test_deletecollection_deletes_what_the_selector_matches(http, ns):
    for name, app in (("a1", "a"), ("a2", "a"), ("b1", "b")):
        http("POST", f"/api/v1/namespaces/{ns}/pods", json=pod(name, labels={"app": app}))
    http("DELETE", f"/api/v1/namespaces/{ns}/pods?labelSelector=app%3Da")
    left = http("GET", f"/api/v1/namespaces/{ns}/pods").json()["items"]
    assert [p["metadata"]["name"] for p in left] == ["b1"]


def test_system_namespaces_exist_and_default_cannot_be_deleted(http):
    names = [n["metadata"]["name"] for n in http("GET", "/api/v1/namespaces").json()["items"]]
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= set(names)
    assert http("DELETE", "/api/v1/namespaces/default").status_code == 403


# -- subresources, generation ----------------------------------------------------------------

def test_generation_moves_on_spec_and_scale_changes_only(http, ns):
    base = f"/apis/apps/v1/namespaces/{ns}/deployments/d"
    http("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", json=deployment("d"))
    merge = {"Content-Type": "application/merge-patch+json"}
    http("PATCH", base + "/status", json={"status": {"replicas": 1}}, headers=merge)
    http("PATCH", base, json={"metadata": {"labels": {"x": "y"}}}, headers=merge)
    assert http("GET", base).json()["metadata"]["generation"] == 1
    scale = http("PATCH", base + "/scale", json={"spec": {"replicas": 4}}, headers=merge).json()
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 4
    got = http("GET", base).json()
    assert got["metadata"]["generation"] == 2 and got["status"] == {"replicas": 1}


def test_services_get_distinct_cluster_ips_and_a_taken_node_port_is_422(http, ns):
    def svc(name, node_port=None):
        port = {"port": 80, **({"nodePort": node_port} if node_port else {})}
        return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                "spec": {"type": "NodePort", "ports": [port], "selector": {"a": "b"}}}
    ips = {http("POST", f"/api/v1/namespaces/{ns}/services", json=svc(f"s{i}"))
           .json()["spec"]["clusterIP"] for i in range(5)}
    assert len(ips) == 5
    first = http("POST", f"/api/v1/namespaces/{ns}/services", json=svc("fixed", 31999))
    assert first.status_code == 201
    taken = http("POST", f"/api/v1/namespaces/{ns}/services", json=svc("again", 31999))
    assert taken.status_code == 422
    assert taken.json()["details"]["causes"][0]["field"] == "spec.ports[0].nodePort"
    http("DELETE", f"/api/v1/namespaces/{ns}/services/fixed")
    assert http("POST", f"/api/v1/namespaces/{ns}/services",
                json=svc("again", 31999)).status_code == 201


# -- reviews, events ---------------------------------------------------------------------------

def test_subject_access_review_answers_for_another_user(http):
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
              "spec": {"user": "system:kube-scheduler", "resourceAttributes": {
                  "verb": "create", "resource": "pods", "subresource": "binding",
                  "namespace": "default"}}}
    r = http("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", json=review)
    assert r.status_code == 201 and r.json()["status"]["allowed"] is True
    review["spec"]["resourceAttributes"]["resource"] = "deployments"
    review["spec"]["resourceAttributes"]["group"] = "apps"
    del review["spec"]["resourceAttributes"]["subresource"]
    r = http("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", json=review)
    assert r.json()["status"]["allowed"] is False


def test_events_are_selected_by_involved_object_fields(http, ns):
    for i, name in enumerate(("x", "y")):
        http("POST", f"/api/v1/namespaces/{ns}/events", json={
            "apiVersion": "v1", "kind": "Event", "metadata": {"name": f"e{i}"},
            "involvedObject": {"kind": "Pod", "name": name, "namespace": ns},
            "reason": "Test", "message": "m", "type": "Normal"})
    r = http("GET", f"/api/v1/namespaces/{ns}/events?fieldSelector=involvedObject.name%3Dy,"
                    f"involvedObject.namespace%3D{ns}")
    assert [e["metadata"]["name"] for e in r.json()["items"]] == ["e1"]


def test_the_compactor_compacts_to_the_revision_of_its_previous_round(etcd, http, ns):
    compactor = st.Compactor(etcd, interval=0)
    version, first = compactor.compact(0, 0)  # the first round only remembers a revision
    etcd.range("/registry/", revision=first)
    http("POST", f"/api/v1/namespaces/{ns}/pods", json=pod("later"))
    version, second = compactor.compact(version, first)
    assert second > first
    with pytest.raises(st.Expired):
        etcd.range("/registry/", revision=first - 1)
    etcd.range("/registry/", revision=first)  # kept: one round of history


def test_deleting_a_namespace_deletes_what_is_in_it(http, core):
    import uuid
    name = f"gone-{uuid.uuid4().hex[:6]}"
    http("POST", "/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace",
                                             "metadata": {"name": name}})
    http("POST", f"/api/v1/namespaces/{name}/pods", json=pod("inside", node="node1"))
    assert http("DELETE", f"/api/v1/namespaces/{name}").status_code == 200
    assert http("GET", f"/api/v1/namespaces/{name}/pods/inside").status_code == 404
    assert http("GET", f"/api/v1/namespaces/{name}").status_code == 404
    assert http("POST", f"/api/v1/namespaces/{name}/pods", json=pod("late")).status_code == 404


def test_a_watch_from_a_future_resource_version_tells_the_client_to_relist(http, ns):
    rv = int(http("GET", f"/api/v1/namespaces/{ns}/pods").json()["metadata"]["resourceVersion"])
    lines = http("GET", f"/api/v1/namespaces/{ns}/pods?watch=true&resourceVersion={rv + 10**6}",
                 timeout=20).text.splitlines()
    error = json.loads(lines[-1])
    assert error["type"] == "ERROR" and error["object"]["code"] == 410


def test_objects_written_with_a_ttl_expire_even_after_an_update(etcd):
    """Events get an etcd lease (--event-ttl); an update keeps the key's lease."""
    key = "/registry/events/default/ttl-test"
    created = etcd.create(key, {"metadata": {"name": "ttl-test"}, "count": 1}, ttl=2)
    etcd.guaranteed_update(key, lambda o: {**o, "count": 2})
    assert etcd.get(key)["count"] == 2
    assert int(etcd.get(key)["metadata"]["resourceVersion"]) > int(
        created["metadata"]["resourceVersion"])
    wait_for(lambda: not etcd.range(key).kvs, 20, what="the lease to expire")


def test_a_create_awaited_on_the_event_loop_stores_the_pod_and_refuses_a_taken_name(etcd, ns):
    """Registry.create_inline (what the API server does for a pod's create) against etcd."""
    registry = Registry(etcd, kinds.for_server(kinds.ServerConfig(etcd)))
    pods = resources.lookup("pods")
    generated = pod("")
    generated["metadata"] = {"generateName": "web-"}

    async def creates():
        loop_storage = st.LoopStorage(etcd)
        try:
            made = [await registry.create_inline(loop_storage, pods, ns, body)
                    for body in (pod("inline"), generated, generated)]
            with pytest.raises(errors.StatusError) as taken:
                await registry.create_inline(loop_storage, pods, ns, pod("inline"))
            dry = await registry.create_inline(loop_storage, pods, ns, pod("dry"), dry_run=True)
            return made, taken.value, dry
        finally:
            await loop_storage.close()
    made, taken, dry = asyncio.run(creates())
    assert etcd.get(f"/registry/pods/{ns}/inline") == made[0]
    assert made[0]["metadata"]["uid"] and made[0]["status"]["phase"] == "Pending"
    assert [p["metadata"]["name"][:4] for p in made[1:]] == ["web-", "web-"]
    assert made[1]["metadata"]["name"] != made[2]["metadata"]["name"]
    assert (taken.code, taken.reason) == (409, "AlreadyExists")
    assert dry["metadata"]["uid"] and not etcd.range(f"/registry/pods/{ns}/dry").kvs


def test_an_event_created_on_the_event_loop_shares_the_lease_already_granted(etcd, ns):
    registry = Registry(etcd, kinds.for_server(kinds.ServerConfig(etcd, event_ttl=30)))
    events = resources.lookup("events")
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1"},
             "involvedObject": {"kind": "Pod", "namespace": ns, "name": "p"},
             "reason": "Tested", "message": "on the loop", "type": "Normal"}
    registry.create(events, ns, {**event, "metadata": {"name": "e0"}})  # in the pool: grants
    assert registry.creates_inline(events, ns)

    async def create():
        loop_storage = st.LoopStorage(etcd)
        try:
            return await registry.create_inline(loop_storage, events, ns, event)
        finally:
            await loop_storage.close()
    asyncio.run(create())
    leases = [etcd.range(f"/registry/events/{ns}/{name}").kvs[0].lease for name in ("e0", "e1")]
    assert leases[0] and leases[0] == leases[1]


def test_a_read_modify_write_from_a_stale_cached_copy_decides_on_etcds_copy(etcd):
    """GuaranteedUpdate from the watch cache's copy (upstream's origStateIsCurrent)."""
    key = "/registry/configmaps/default/rmw-stale"
    stale = etcd.create(key, {"metadata": {"name": "rmw-stale"}, "n": 1})
    etcd.guaranteed_update(key, lambda o: {**o, "n": 2})
    try:
        seen = []

        def set_two(o):
            seen.append(o["n"])
            return {**o, "n": 2}
        assert etcd.guaranteed_update(key, set_two, stale, cached=True)[1] is False
        assert seen == [1, 2]  # "no change" on the stale copy was asked again on etcd's

        def needs_two(o):
            if o["n"] != 2:
                raise ValueError("decided on a stale copy")
            return {**o, "n": 3}
        with pytest.raises(ValueError):  # a copy read from etcd: the failure counts
            etcd.guaranteed_update(key, needs_two, stale)
        assert etcd.guaranteed_update(key, needs_two, stale, cached=True)[0]["n"] == 3
        # a change made on the stale copy fails the compare and is made again on etcd's
        new, changed = etcd.guaranteed_update(key, lambda o: {**o, "n": o["n"] + 1}, stale,
                                              cached=True)
        assert changed and new["n"] == 4 == etcd.get(key)["n"]
    finally:
        etcd.delete_key(key)


def test_a_binding_awaited_on_the_event_loop_assigns_the_pod_once(etcd, ns):
    """Registry.update_with_inline with the pod kind's binding change (what the API server
    awaits for POST pods/<name>/binding) against etcd."""
    registry = Registry(etcd, kinds.for_server(kinds.ServerConfig(etcd)))
    pods = resources.lookup("pods")
    registry.create(pods, ns, pod("bind-me"))
    pod_kind = registry.kind(pods)

    def binding(node):
        return pod_kind.subresource_change("binding", "bind-me", {
            "apiVersion": "v1", "kind": "Binding", "metadata": {"name": "bind-me"},
            "target": {"kind": "Node", "name": node}})

    async def bind_twice():
        loop_storage = st.LoopStorage(etcd)
        try:
            bound = await registry.update_with_inline(loop_storage, pods, ns, "bind-me",
                                                      binding("node7"))
            with pytest.raises(errors.StatusError) as again:
                await registry.update_with_inline(loop_storage, pods, ns, "bind-me",
                                                  binding("node8"))
            with pytest.raises(errors.StatusError) as missing:
                await registry.update_with_inline(loop_storage, pods, ns, "no-such-pod",
                                                  binding("node7"))
            return bound, again.value, missing.value
        finally:
            await loop_storage.close()
    bound, again, missing = asyncio.run(bind_twice())
    assert (missing.code, missing.reason) == (404, "NotFound")
    stored = etcd.get(f"/registry/pods/{ns}/bind-me")
    assert stored == bound and stored["spec"]["nodeName"] == "node7"
    assert [c["type"] for c in stored["status"]["conditions"]] == ["PodScheduled"]
    assert again.code == 409 and 'already assigned to node "node7"' in again.message
