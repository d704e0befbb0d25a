"""Mirror pods of static pods against an in-memory FakeApi: made, replaced, cleaned up."""
import pytest

from kfs import meta
from kfs.kubelet import manifest
from kfs.kubelet.mirror import MirrorPods
from tests.fakes import FakeApi
from tests.unit.test_kubelet_sync import make_pod


@pytest.fixture
def api():
    return FakeApi({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})


@pytest.fixture
def mirrors(api):
    return MirrorPods(api, api.informer("pods"), "node1", lambda: "node-uid")


def test_a_static_pod_gets_a_mirror_pod_owned_by_its_node(api, mirrors):
    static = make_pod()
    assert mirrors.sync_mirror_pod(static), "a mirror pod was created"
    mirror = api.get("pods", "web-node1", "default")
    assert meta.annotations(mirror)[manifest.CONFIG_MIRROR] == \
        static["metadata"]["annotations"][manifest.CONFIG_HASH]
    assert mirror["metadata"]["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "Node", "name": "node1", "uid": "node-uid",
         "controller": True}]
    assert not mirrors.sync_mirror_pod(static), "one mirror pod is enough"
    assert len(api.all("pods")) == 1


def test_a_mirror_pod_whose_static_pod_is_gone_is_deleted(api, mirrors):
    mirrors.sync_mirror_pod(make_pod())
    mirrors.cleanup({})
    assert not api.all("pods")


def test_a_mirror_pod_of_an_older_manifest_is_replaced(api, mirrors):
    mirrors.sync_mirror_pod(make_pod())
    old = api.get("pods", "web-node1", "default")
    changed = make_pod(containers=[{"name": "app", "image": "kfs/echo:1"}])
    mirrors.sync_mirror_pod(changed)
    (mirror,) = api.all("pods")
    assert mirror["metadata"]["uid"] != old["metadata"]["uid"]
    assert mirror["spec"]["containers"][0]["image"] == "kfs/echo:1"


def test_a_mirror_pod_being_deleted_is_deleted_for_good_and_made_again(api, mirrors):
    static = make_pod()
    deleting = mirrors.mirror_object(static)
    deleting["metadata"]["deletionTimestamp"] = meta.now()  # kubectl delete, grace pending
    old = api.create(deleting)
    mirrors.sync_mirror_pod(static)
    (mirror,) = api.all("pods")
    assert mirror["metadata"]["uid"] != old["metadata"]["uid"]
    assert not mirror["metadata"].get("deletionTimestamp")


def test_events_about_a_static_pod_refer_to_its_mirror_pod(api, mirrors):
    static = make_pod()
    mirrors.sync_mirror_pod(static)
    involved = mirrors.involved(static)
    assert involved["metadata"]["uid"] == api.get("pods", "web-node1", "default")["metadata"]["uid"]
