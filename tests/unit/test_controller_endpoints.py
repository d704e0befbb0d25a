"""The endpoints controller's reconcile, on FakeApi."""
import pytest

from kfs import meta
from kfs.controllers.endpoints import EndpointsController
from kfs.controllers.manager import SharedInformers
from tests.controller_objects import pod, service
from tests.fakes import FakeApi


def setup(*objects):
    api = FakeApi(*objects)
    return api, EndpointsController(api, SharedInformers(api, api.informer))


def endpoints(api, name="web"):
    return api.get("endpoints", name, "default")


def with_port(p, name="http", number=8080):
    p["spec"]["containers"][0]["ports"] = [{"name": name, "containerPort": number,
                                            "protocol": "TCP"}]
    return p


def test_ready_pods_become_addresses_with_ip_node_and_target_ref():
    api, c = setup(service(), pod("a", ip="172.17.0.2", node="node1"))
    c.reconcile("default/web")
    ep = endpoints(api)
    a = api.get("pods", "a", "default")
    assert ep["subsets"] == [{
        "addresses": [{"ip": "172.17.0.2", "nodeName": "node1",
                       "targetRef": {"kind": "Pod", "namespace": "default", "name": "a",
                                     "uid": a["metadata"]["uid"]}}],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]
    assert meta.labels(ep) == {"svc": "web"}


@pytest.mark.parametrize("pod_kwargs, where", [
    (dict(ready=True), "addresses"),
    (dict(ready=False), "notReadyAddresses"),
    (dict(ready=False, phase="Pending"), "notReadyAddresses"),
    (dict(phase="Succeeded"), None),                                 # finished
    (dict(ip=None), None),                                           # no IP yet
    (dict(deletionTimestamp="2025-01-01T00:00:00Z"), None),          # terminating
    (dict(labels={"app": "db"}), None),                              # not selected
])
def test_which_pods_are_listed_and_where(pod_kwargs, where):
    kwargs = {"ip": "172.17.0.2", **pod_kwargs}
    api, c = setup(service(), pod("a", **kwargs))
    c.reconcile("default/web")
    subsets = endpoints(api).get("subsets") or []
    if where is None:
        assert subsets == []
    else:
        assert [a["ip"] for s in subsets for a in s.get(where, [])] == ["172.17.0.2"]


def test_publish_not_ready_addresses_lists_unready_pods_as_ready():
    api, c = setup(service(publishNotReadyAddresses=True), pod("a", ip="10.0.0.1", ready=False))
    c.reconcile("default/web")
    assert [a["ip"] for a in endpoints(api)["subsets"][0]["addresses"]] == ["10.0.0.1"]


def test_a_named_target_port_resolves_per_pod_and_pods_without_it_are_left_out():
    svc = service(ports=[{"name": "web", "port": 80, "targetPort": "http", "protocol": "TCP"}])
    api, c = setup(svc, with_port(pod("a", ip="10.0.0.1"), number=8080),
                   with_port(pod("b", ip="10.0.0.2"), number=9090),
                   pod("c", ip="10.0.0.3"))
    c.reconcile("default/web")
    got = sorted((s["ports"][0]["port"], [a["ip"] for a in s["addresses"]])
                 for s in endpoints(api)["subsets"])
    assert got == [(8080, ["10.0.0.1"]), (9090, ["10.0.0.2"])]


def test_addresses_sharing_their_ports_are_packed_into_one_sorted_subset():
    svc = service(ports=[{"name": "a", "port": 80, "targetPort": 8080},
                         {"name": "b", "port": 81, "targetPort": 8081}])
    api, c = setup(svc, pod("p2", ip="10.0.0.2"), pod("p1", ip="10.0.0.1"),
                   pod("p3", ip="10.0.0.3", ready=False))
    c.reconcile("default/web")
    [subset] = endpoints(api)["subsets"]
    assert [a["ip"] for a in subset["addresses"]] == ["10.0.0.1", "10.0.0.2"]
    assert [a["ip"] for a in subset["notReadyAddresses"]] == ["10.0.0.3"]
    assert [p["port"] for p in subset["ports"]] == [8080, 8081]


def test_a_headless_service_without_ports_lists_addresses_only():
    svc = service(ports=[], clusterIP="None")
    api, c = setup(svc, pod("a", ip="10.0.0.1"))
    c.reconcile("default/web")
    ep = endpoints(api)
    assert ep["subsets"] == [{"addresses": [ep["subsets"][0]["addresses"][0]]}]
    assert meta.labels(ep)["service.kubernetes.io/headless"] == ""


def test_a_service_without_selector_keeps_its_hand_written_endpoints():
    svc = service()
    del svc["spec"]["selector"]
    manual = {"apiVersion": "v1", "kind": "Endpoints",
              "metadata": {"name": "web", "namespace": "default"},
              "subsets": [{"addresses": [{"ip": "1.2.3.4"}]}]}
    api, c = setup(svc, manual, pod("a", ip="10.0.0.1"))
    c.reconcile("default/web")
    assert endpoints(api)["subsets"] == manual["subsets"]


def test_a_deleted_service_takes_its_endpoints_along():
    api, c = setup(service(), pod("a", ip="10.0.0.1"))
    c.reconcile("default/web")
    api.delete("services", "web", "default")
    c.reconcile("default/web")
    assert api.all("endpoints") == []


def test_nothing_is_written_when_nothing_changed():
    api, c = setup(service(), pod("a", ip="10.0.0.1"))
    c.reconcile("default/web")
    writes = len(api.actions)
    c.reconcile("default/web")
    assert len(api.actions) == writes


def test_a_pod_turning_ready_enqueues_the_services_that_select_it_and_updates_them():
    api, c = setup(service(), service(name="other", selector={"app": "db"}),
                   pod("a", ip="10.0.0.1", ready=False))
    c.drain()
    api.patch("pods", "a", {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
              "default", subresource="status")
    assert c.queue.get(timeout=0) == "default/web" and c.queue.get(timeout=0) is None
    c.reconcile("default/web")
    assert [a["ip"] for a in endpoints(api)["subsets"][0]["addresses"]] == ["10.0.0.1"]


def test_a_relabelled_pod_leaves_the_service_it_no_longer_matches():
    api, c = setup(service(), pod("a", ip="10.0.0.1"))
    c.drain()
    api.patch("pods", "a", {"metadata": {"labels": {"app": "other"}}}, "default")
    c.drain()
    assert endpoints(api).get("subsets") in (None, [])
