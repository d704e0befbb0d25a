"""The endpointslice controller's reconcile, on FakeApi."""
import pytest

from kfs import meta
from kfs.controllers.endpointslice import EndpointSliceController
from kfs.controllers.manager import SharedInformers
from tests.controller_objects import pod, service
from tests.fakes import FakeApi

SERVICE_NAME = "kubernetes.io/service-name"


def setup(*objects, per_slice=100):
    api = FakeApi(*objects)
    return api, EndpointSliceController(api, SharedInformers(api, api.informer),
                                        max_endpoints_per_slice=per_slice)


def slices(api, service_name="web"):
    return [s for s in api.all("endpointslices", "default")
            if meta.labels(s).get(SERVICE_NAME) == service_name]


def addresses(eps):
    return [a for e in eps["endpoints"] for a in e["addresses"]]


def with_port(p, number):
    p["spec"]["containers"][0]["ports"] = [{"name": "http", "containerPort": number,
                                            "protocol": "TCP"}]
    return p


def test_a_ready_pod_becomes_an_endpoint_with_conditions_node_and_target_ref():
    api, c = setup(service(), pod("a", ip="172.17.0.2", node="node1"))
    c.reconcile("default/web")
    [eps] = slices(api)
    svc, a = api.get("services", "web", "default"), api.get("pods", "a", "default")
    assert meta.name(eps).startswith("web-")
    assert eps["addressType"] == "IPv4"
    assert eps["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    assert eps["endpoints"] == [{
        "addresses": ["172.17.0.2"], "nodeName": "node1",
        "conditions": {"ready": True, "serving": True, "terminating": False},
        "targetRef": {"kind": "Pod", "namespace": "default", "name": "a",
                      "uid": a["metadata"]["uid"]}}]
    assert meta.labels(eps) == {"svc": "web", SERVICE_NAME: "web",
                                "endpointslice.kubernetes.io/managed-by":
                                    "endpointslice-controller.k8s.io"}
    assert eps["metadata"]["ownerReferences"][0]["uid"] == svc["metadata"]["uid"]


@pytest.mark.parametrize("pod_kwargs, conditions", [
    (dict(ready=True), {"ready": True, "serving": True, "terminating": False}),
    (dict(ready=False), {"ready": False, "serving": False, "terminating": False}),
    (dict(deletionTimestamp="2025-01-01T00:00:00Z"),
     {"ready": False, "serving": True, "terminating": True}),
    (dict(phase="Succeeded"), None),                                 # finished
    (dict(ip=None), None),                                           # no IP yet
    (dict(labels={"app": "db"}), None),                              # not selected
])
def test_which_pods_are_listed_and_with_which_conditions(pod_kwargs, conditions):
    api, c = setup(service(), pod("a", **{"ip": "172.17.0.2", **pod_kwargs}))
    c.reconcile("default/web")
    [eps] = slices(api)
    if conditions is None:
        assert eps["endpoints"] == []
    else:
        assert [e["conditions"] for e in eps["endpoints"]] == [conditions]


def test_publish_not_ready_addresses_makes_unready_pods_ready_endpoints():
    api, c = setup(service(publishNotReadyAddresses=True), pod("a", ip="10.0.0.1", ready=False))
    c.reconcile("default/web")
    assert slices(api)[0]["endpoints"][0]["conditions"]["ready"] is True


def test_a_service_without_endpoints_keeps_one_empty_placeholder_slice():
    api, c = setup(service())
    c.reconcile("default/web")
    c.reconcile("default/web")
    [eps] = slices(api)
    assert eps["endpoints"] == [] and eps["ports"] == []


def test_pods_resolving_a_named_target_port_differently_get_separate_slices():
    svc = service(ports=[{"name": "web", "port": 80, "targetPort": "http", "protocol": "TCP"}])
    api, c = setup(svc, with_port(pod("a", ip="10.0.0.1"), 8080),
                   with_port(pod("b", ip="10.0.0.2"), 9090), pod("c", ip="10.0.0.3"))
    c.reconcile("default/web")
    got = sorted((tuple(p["port"] for p in s["ports"]), tuple(addresses(s)))
                 for s in slices(api))
    assert got == [((), ("10.0.0.3",)), ((8080,), ("10.0.0.1",)), ((9090,), ("10.0.0.2",))]


def test_endpoints_are_packed_sorted_up_to_the_slice_size_and_unpacked_as_pods_go():
    pods = [pod(f"p{i}", ip=f"10.0.0.{i}") for i in range(1, 6)]
    api, c = setup(service(), *pods, per_slice=2)
    c.reconcile("default/web")
    assert sorted(addresses(s) for s in slices(api)) == [
        ["10.0.0.1", "10.0.0.2"], ["10.0.0.3", "10.0.0.4"], ["10.0.0.5"]]
    for i in range(3, 6):
        api.delete("pods", f"p{i}", "default")
    c.reconcile("default/web")
    assert [addresses(s) for s in slices(api)] == [["10.0.0.1", "10.0.0.2"]]


def test_a_headless_service_gets_the_headless_label():
    api, c = setup(service(clusterIP="None"), pod("a", ip="10.0.0.1"))
    c.reconcile("default/web")
    assert meta.labels(slices(api)[0])["service.kubernetes.io/headless"] == ""


def test_a_service_without_selector_gets_no_slices():
    svc = service()
    del svc["spec"]["selector"]
    api, c = setup(svc, pod("a", ip="10.0.0.1"))
    c.reconcile("default/web")
    assert slices(api) == []


def test_nothing_is_written_when_nothing_changed_but_a_new_service_label_is_copied():
    api, c = setup(service(), pod("a", ip="10.0.0.1"))
    c.reconcile("default/web")
    writes = len(api.actions)
    c.reconcile("default/web")
    assert len(api.actions) == writes
    api.patch("services", "web", {"metadata": {"labels": {"tier": "front"}}}, "default")
    c.reconcile("default/web")
    assert meta.labels(slices(api)[0])["tier"] == "front"


def test_a_lagging_cache_is_waited_for_instead_of_creating_a_second_slice():
    api, c = setup(service(), pod("a", ip="10.0.0.1"))
    api.hold_events()
    c.reconcile("default/web")
    c.reconcile("default/web")           # the cache does not show the new slice yet
    assert len(api.verbs("create")) == 1 + 2   # service, pod, one slice
    api.release_events()
    c.drain()
    assert len(slices(api)) == 1


def test_a_pod_turning_ready_updates_its_endpoint_in_place():
    api, c = setup(service(), pod("a", ip="10.0.0.1", ready=False))
    api.replay()
    c.drain()
    [before] = slices(api)
    api.patch("pods", "a", {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
              "default", subresource="status")
    c.drain()
    [after] = slices(api)
    assert meta.name(after) == meta.name(before)
    assert after["endpoints"][0]["conditions"]["ready"] is True


def test_a_deleted_slice_is_written_again():
    api, c = setup(service(), pod("a", ip="10.0.0.1"))
    api.replay()
    c.drain()
    [eps] = slices(api)
    api.delete("endpointslices", meta.name(eps), "default")
    c.drain()
    assert [addresses(s) for s in slices(api)] == [["10.0.0.1"]]


TRIGGER = "endpoints.kubernetes.io/last-change-trigger-time"


def test_a_slice_carries_the_time_of_the_change_it_reflects_as_its_trigger_time_annotation():
    a = pod("a", ip="172.17.0.2", ready_for=60)
    api, c = setup(service(), a)
    c.reconcile("default/web")
    [eps] = slices(api)
    assert eps["metadata"]["annotations"][TRIGGER] == \
        a["status"]["conditions"][0]["lastTransitionTime"]     # older than the Service
    b = pod("b", ip="172.17.0.3", ready_for=5)
    api.create(b)
    c.reconcile("default/web")
    [eps] = slices(api)
    assert eps["metadata"]["annotations"][TRIGGER] == \
        b["status"]["conditions"][0]["lastTransitionTime"]     # the one change since


def test_an_unchanged_service_is_not_written_again_for_its_trigger_time():
    api, c = setup(service(), pod("a", ip="172.17.0.2"))
    c.reconcile("default/web")
    [before] = slices(api)
    c.reconcile("default/web")
    [after] = slices(api)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_a_change_without_a_new_trigger_time_drops_the_old_annotation():
    api, c = setup(service(), pod("a", ip="172.17.0.2"), pod("b", ip="172.17.0.3"))
    c.reconcile("default/web")
    api.delete("pods", "b", "default")      # gone: no Ready transition to date it by
    c.reconcile("default/web")
    [eps] = slices(api)
    assert addresses(eps) == ["172.17.0.2"]
    assert TRIGGER not in (eps["metadata"].get("annotations") or {})
