"""The garbage collector's reconcile, on FakeApi (which honours finalizers as the API server
does: Foreground and Orphan deletes only mark the owner)."""
import pytest

from kfs import meta
from kfs.controllers.garbagecollector import GarbageCollector
from kfs.controllers.manager import SharedInformers
from tests.controller_objects import deployment, pod, replicaset
from tests.fakes import FakeApi


def family():
    """A Deployment owning a ReplicaSet owning two pods."""
    api = FakeApi(deployment(name="web"))
    d = api.get("deployments", "web", "default")
    api.create({**replicaset(name="web-1"), "metadata": {
        **replicaset(name="web-1")["metadata"], "ownerReferences": [meta.owner_reference(d)]}})
    rs = api.get("replicasets", "web-1", "default")
    api.create(pod("web-1-a", owner=rs))
    api.create(pod("web-1-b", owner=rs))
    gc = GarbageCollector(api, SharedInformers(api, api.informer))
    api.replay()
    return api, gc


def names(api, resource):
    return sorted(meta.name(o) for o in api.all(resource))


def test_background_deletion_takes_dependents_and_their_dependents_along():
    api, gc = family()
    gc.drain()
    api.delete("deployments", "web", "default", propagation_policy="Background")
    gc.drain()
    assert names(api, "replicasets") == [] and names(api, "pods") == []


def test_foreground_deletion_deletes_dependents_first_and_the_owner_last():
    api, gc = family()
    gc.drain()
    api.delete("deployments", "web", "default", propagation_policy="Foreground")
    d = api.get("deployments", "web", "default")
    assert d["metadata"]["deletionTimestamp"] and "foregroundDeletion" in d["metadata"]["finalizers"]
    order = []
    api.informer("deployments", lambda k, o, old: k == "DELETED" and order.append("deployment"))
    api.informer("pods", lambda k, o, old: k == "DELETED" and order.append("pod"))
    api.informer("replicasets", lambda k, o, old: k == "DELETED" and order.append("replicaset"))
    gc.drain()
    assert names(api, "deployments") == names(api, "replicasets") == names(api, "pods") == []
    assert order == ["pod", "pod", "replicaset", "deployment"]


def test_foreground_deletion_waits_while_a_blocking_dependent_still_exists():
    api, gc = family()
    gc.drain()
    pod_b = api.get("pods", "web-1-b", "default")
    api.patch("pods", "web-1-b", {"metadata": {"finalizers": ["kfs/hold"]}}, "default")
    api.delete("replicasets", "web-1", "default", propagation_policy="Foreground")
    gc.drain()
    assert names(api, "pods") == ["web-1-b"]          # terminating, held by its finalizer
    assert names(api, "replicasets") == ["web-1"]     # so its owner waits
    api.patch("pods", "web-1-b", {"metadata": {"finalizers": []}}, "default")
    gc.drain()
    assert names(api, "replicasets") == [] and pod_b


def test_orphan_deletion_keeps_dependents_and_removes_the_reference_to_the_owner():
    api, gc = family()
    gc.drain()
    api.delete("replicasets", "web-1", "default", propagation_policy="Orphan")
    gc.drain()
    assert names(api, "replicasets") == []
    assert names(api, "pods") == ["web-1-a", "web-1-b"]
    assert all(not p["metadata"]["ownerReferences"] for p in api.all("pods"))


def test_a_dependent_with_another_solid_owner_stays_and_loses_the_dangling_reference():
    api, gc = family()
    other = api.create(replicaset(name="keeper", replicas=0))
    p = api.get("pods", "web-1-a", "default")
    p["metadata"]["ownerReferences"].append(meta.owner_reference(other, controller=False))
    api.replace(p)
    gc.drain()
    api.delete("replicasets", "web-1", "default")
    gc.drain()
    assert names(api, "pods") == ["web-1-a"]
    assert [r["name"] for r in api.get("pods", "web-1-a", "default")["metadata"]["ownerReferences"]] == ["keeper"]


def test_an_owner_recreated_under_the_same_name_is_not_the_owner():
    api, gc = family()
    gc.drain()
    rs = api.get("replicasets", "web-1", "default")
    key = ("replicasets", "default", "web-1")  # swapped in the store, no event: not a mutation
    api.objects[key] = {**rs, "metadata": {**rs["metadata"], "uid": "another-uid"}}
    gc.enqueue("pods:default/web-1-a")
    gc.drain()
    assert names(api, "pods") == ["web-1-b"] and rs


def test_an_owner_missing_from_a_lagging_cache_is_checked_with_the_api_server():
    api = FakeApi()
    gc = GarbageCollector(api, SharedInformers(api, api.informer))
    owner = api.create(replicaset(name="fresh", replicas=0))
    api.create(pod("child", owner=owner))
    cache = gc.caches["replicasets"]
    cache.freeze()
    cache.frozen.pop("default/fresh")   # the cache has not seen the brand-new owner yet
    gc.reconcile("pods:default/child")
    assert names(api, "pods") == ["child"]
    api.delete("replicasets", "fresh", "default")
    gc.reconcile("pods:default/child")  # now it is really gone
    assert names(api, "pods") == []


@pytest.mark.parametrize("ref", [
    {"apiVersion": "example.com/v1", "kind": "Widget", "name": "w", "uid": "u1"},
])
def test_a_reference_to_a_kind_kfs_does_not_know_keeps_the_object(ref):
    api = FakeApi(pod("p", ownerReferences=[ref]))
    gc = GarbageCollector(api, SharedInformers(api, api.informer))
    api.replay()
    gc.drain()
    assert names(api, "pods") == ["p"]


def test_objects_found_orphaned_at_start_are_collected():
    """The controller manager was down while an owner went: a fresh start catches up."""
    api = FakeApi(pod("p", ownerReferences=[{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                             "name": "gone", "uid": "u-gone",
                                             "controller": True}]))
    gc = GarbageCollector(api, SharedInformers(api, api.informer))
    api.replay()                        # what the informers' initial lists deliver
    gc.drain()
    assert names(api, "pods") == []


def test_the_graph_tracks_dependents_and_blocking_flags():
    api, gc = family()
    rs = api.get("replicasets", "web-1", "default")
    assert gc.graph.dependents_of(rs["metadata"]["uid"]) == {
        "pods:default/web-1-a": True, "pods:default/web-1-b": True}
    api.delete("pods", "web-1-a", "default")
    assert list(gc.graph.dependents_of(rs["metadata"]["uid"])) == ["pods:default/web-1-b"]
