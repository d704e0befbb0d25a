"""The unit tier's FakeApi behaves like the API server where controllers depend on it."""
import pytest

from kfs.client import ApiError
from tests.fakes import FakeApi

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
