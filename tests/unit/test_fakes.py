"""The unit tier's FakeApi behaves like the API server where controllers depend on it."""
import pytest

from kfs import meta
from kfs.client import ApiError
from tests.fakes import CacheMutated, FakeApi

POD = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"generateName": "web-", "namespace": "ns", "labels": {"app": "web"}},
       "spec": {"containers": [{"name": "c", "image": "kfs/echo:1"}]}}


def test_create_names_from_generate_name_and_stamps_uid_and_version():
    api = FakeApi()
    pod = api.create(POD)
    assert pod["metadata"]["name"].startswith("web-") and pod["metadata"]["uid"]
    assert api.get("pods", pod["metadata"]["name"], "ns")["metadata"]["resourceVersion"]


def test_replace_with_a_stale_resource_version_is_a_409():
    api = FakeApi()
    pod = api.create(POD)
    api.patch("pods", pod["metadata"]["name"], {"metadata": {"labels": {"x": "y"}}}, "ns")
    with pytest.raises(ApiError) as e:
        api.replace(pod)
    assert e.value.code == 409


def test_informer_handlers_see_every_write_and_the_cache_mirrors_the_store():
    api = FakeApi()
    seen = []
    inf = api.informer("pods", lambda kind, obj, old: seen.append(kind))
    pod = api.create(POD)
    api.bind(pod, "node1")
    api.delete("pods", pod["metadata"]["name"], "ns")
    assert seen == ["ADDED", "MODIFIED", "DELETED"] and inf.list() == []


def test_list_filters_by_label_and_field_selectors():
    api = FakeApi(POD, {**POD, "metadata": {**POD["metadata"], "labels": {"app": "db"}}})
    assert len(api.list("pods", "ns", label_selector="app=web")["items"]) == 1
    assert len(api.list("pods", field_selector="spec.nodeName=")["items"]) == 2


def test_the_informer_cache_hands_out_the_stored_objects_themselves():
    api = FakeApi(POD)
    inf = api.informer("pods")
    [cached] = inf.list()
    assert inf.get(meta.key(cached)) is cached and inf.store[meta.key(cached)] is cached
    assert api.get("pods", meta.name(cached), "ns") is not cached  # the verbs return copies


def test_handlers_get_the_cached_object_and_the_one_it_replaced():
    api = FakeApi()
    seen = []
    inf = api.informer("pods", lambda kind, obj, old: seen.append((obj, old)))
    pod = api.create(POD)
    api.patch("pods", meta.name(pod), {"metadata": {"labels": {"x": "y"}}}, "ns")
    (first, _), (second, old) = seen
    assert old is first and second is inf.get(meta.key(pod))


def test_a_cached_object_changed_in_place_fails_the_next_verb_naming_object_and_field():
    api = FakeApi(POD)
    inf = api.informer("pods")
    [cached] = inf.list()
    cached["metadata"]["labels"]["app"] = "db"
    with pytest.raises(CacheMutated, match=rf"Pod ns/{meta.name(cached)} .*"
                       r"metadata\.labels\.app: 'web' -> 'db'"):
        api.list("services")
    assert len(api.detector.found) == 1
    api.detector.found.clear()  # this test's own mutation: not for the end-of-test check


def test_a_change_no_verb_saw_is_found_by_the_end_of_test_check():
    api = FakeApi(POD)
    api.informer("pods").list()[0]["spec"]["nodeName"] = "node1"
    with pytest.raises(CacheMutated, match=r"spec\.nodeName: added 'node1'"):
        api.verify_cache()
    api.detector.found.clear()


def test_a_mutation_of_an_object_only_a_lagging_cache_still_shows_is_found():
    api = FakeApi(POD)
    inf = api.informer("pods")
    api.hold_events()
    [old] = inf.list()
    api.patch("pods", meta.name(old), {"metadata": {"labels": {"x": "y"}}}, "ns")
    api.list("services")  # a check after the store moved on: the frozen cache still has it
    old["status"] = {"phase": "Failed"}
    with pytest.raises(CacheMutated, match="status: added"):
        api.list("pods")
    api.detector.found.clear()
    api.release_events()


def test_synced_is_an_event_set_once_the_informer_has_started():
    inf = FakeApi().informer("pods")
    assert not inf.synced.is_set()
    assert inf.start().synced.is_set() and inf.wait_synced(0) is inf
