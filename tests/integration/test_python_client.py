"""The official kubernetes Python client against kfs apiserver."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import urllib3
from kubernetes import client, config, watch
from kubernetes.client import ApiException

from kfs.util import wait_for


def pod(name, labels=None, node=None):
    spec = {"containers": [{"name": "c", "image": "kfs/busybox:1"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels or {}}, "spec": spec}


def test_create_read_and_list_with_label_and_field_selectors(core, ns):
    core.create_namespaced_pod(ns, pod("a", {"app": "web", "tier": "front"}))
    core.create_namespaced_pod(ns, pod("b", {"app": "web", "tier": "back"}, node="node1"))
    core.create_namespaced_pod(ns, pod("c", {"app": "db"}))
    assert core.read_namespaced_pod("a", ns).spec.containers[0].image == "kfs/busybox:1"

    def names(**kw):
        return sorted(p.metadata.name for p in core.list_namespaced_pod(ns, **kw).items)
    assert names(label_selector="app=web") == ["a", "b"]
    assert names(label_selector="app=web,tier in (back),!canary") == ["b"]
    assert names(label_selector="app!=web") == ["c"]
    assert names(field_selector="spec.nodeName=node1") == ["b"]
    assert names(field_selector="metadata.name=c") == ["c"]


def test_list_resource_version_is_the_store_revision_and_objects_have_their_own(core, ns):
    created = core.create_namespaced_pod(ns, pod("rv"))
    listed = core.list_namespaced_pod(ns)
    assert int(listed.metadata.resource_version) >= int(created.metadata.resource_version)
    assert listed.items[0].metadata.resource_version == created.metadata.resource_version


def test_replace_with_a_stale_resource_version_gets_409_conflict(core, ns):
    first = core.create_namespaced_pod(ns, pod("stale"))
    fresh = core.read_namespaced_pod("stale", ns)
    fresh.metadata.labels = {"v": "2"}
    core.replace_namespaced_pod("stale", ns, fresh)
    first.metadata.labels = {"v": "3"}
    with pytest.raises(ApiException) as e:
        core.replace_namespaced_pod("stale", ns, first)
    assert e.value.status == 409 and '"reason":"Conflict"' in e.value.body.replace(" ", "")


def test_patch_with_each_patch_type(core, apps, ns):
    core.create_namespaced_pod(ns, pod("patched", {"a": "1"}))
    core.patch_namespaced_pod("patched", ns, {"metadata": {"labels": {"b": "2"}}})  # strategic
    core.patch_namespaced_pod("patched", ns, [{"op": "add", "path": "/metadata/labels/c",
                                               "value": "3"}])
    assert core.read_namespaced_pod("patched", ns).metadata.labels == {"a": "1", "b": "2",
                                                                        "c": "3"}


def test_delete_removes_the_object(core, ns):
    core.create_namespaced_pod(ns, pod("gone"))
    core.delete_namespaced_pod("gone", ns)
    with pytest.raises(ApiException) as e:
        core.read_namespaced_pod("gone", ns)
    assert e.value.status == 404


def test_an_invalid_object_gets_422_with_a_cause_per_field(core, ns):
    bad = pod("Not_A_Name")
    bad["spec"]["containers"][0]["image"] = ""
    with pytest.raises(ApiException) as e:
        core.create_namespaced_pod(ns, bad)
    assert e.value.status == 422
    import json
    status = json.loads(e.value.body)
    fields = {c["field"] for c in status["details"]["causes"]}
    assert {"metadata.name", "spec.containers[0].image"} <= fields


def test_watch_stream_survives_an_api_server_restart_without_losing_an_event(cp, core, ns):
    """The server ends its watches cleanly on SIGTERM; the client resumes from the last
    resourceVersion it saw, so the events written after the restart, before it reconnects,
    still arrive, once each and in order."""
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(cp.kubeconfig()), client_configuration=cfg)
    cfg.retries = urllib3.Retry(total=60, connect=60, backoff_factor=0.1, backoff_max=1)
    v1 = client.CoreV1Api(client.ApiClient(cfg))
    rv = v1.list_namespaced_pod(ns).metadata.resource_version
    seen, w = [], watch.Watch()

    def consume():
        for event in w.stream(v1.list_namespaced_pod, ns, resource_version=rv):
            seen.append((event["type"], event["object"].metadata.name))
            if event["object"].metadata.name == "after":
                w.stop()
    t = threading.Thread(target=consume, daemon=True)
    t.start()
    core.create_namespaced_pod(ns, pod("before"))
    wait_for(lambda: ("ADDED", "before") in seen, 20, what="the first event")
    cp.restart_apiserver()
    core.create_namespaced_pod(ns, pod("during"))
    core.delete_namespaced_pod("before", ns)
    core.create_namespaced_pod(ns, pod("after"))
    t.join(30)
    assert seen == [
        ("ADDED", "before"), ("ADDED", "during"), ("DELETED", "before"), ("ADDED", "after")]


def test_eight_clients_incrementing_a_counter_with_retry_on_409_count_exactly(core, ns):
    core.create_namespaced_pod(ns, {**pod("counter"), "metadata": {
        "name": "counter", "annotations": {"count": "0"}}})
    conflicts = []

    def increment(_):
        for _ in range(100):
            while True:
                p = core.read_namespaced_pod("counter", ns)
                p.metadata.annotations["count"] = str(int(p.metadata.annotations["count"]) + 1)
                try:
                    core.replace_namespaced_pod("counter", ns, p)
                    break
                except ApiException as e:
                    if e.status != 409:
                        raise
                    conflicts.append(1)
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(increment, range(8)))
    assert core.read_namespaced_pod("counter", ns).metadata.annotations["count"] == "800"
    assert conflicts, "eight writers never collided: the test proved nothing"
    assert time.monotonic() - started < 120
