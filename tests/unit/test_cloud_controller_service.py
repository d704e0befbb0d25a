"""The service controller on FakeApi with the netns provider and a recording forwarder."""
from kfs import meta
from kfs.cloud import cloud
from kfs.cloud.controllers.node import UNINITIALIZED
from kfs.cloud.controllers.service import EXCLUDE_LABEL, FINALIZER, ServiceController
from kfs.controllers.manager import SharedInformers
from tests.controller_objects import node, service
from tests.fakes import FakeApi
from tests.unit.cloud_fakes import fake_cloud


def lb_service(name="web", **spec):
    s = service(name, type="LoadBalancer", **spec)
    s["spec"]["ports"][0]["nodePort"] = 30080
    return s


def lab_node(name, address, **kw):
    n = node(name, **kw)
    n["status"]["addresses"] = [{"type": "InternalIP", "address": address}]
    return n


def setup(*objects, pool=None):
    api = FakeApi()
    provider, _, forwarder = fake_cloud("cp", "node1", "node2", pool=pool)
    c = ServiceController(api, SharedInformers(api, api.informer), provider, cluster_name="kfs")
    for o in objects:
        api.create(o)
    return api, c, forwarder


def ingress(api, name="web"):
    lb = (api.get("services", name, "default").get("status") or {}).get("loadBalancer") or {}
    return [i["ip"] for i in lb.get("ingress") or []]


def served(forwarder, api, name="web"):
    return forwarder.serving[cloud.default_load_balancer_name(
        api.get("services", name, "default"))]


NODES = (lab_node("node1", "192.168.56.11"), lab_node("node2", "192.168.56.12"))


def test_a_load_balancer_service_gets_the_finalizer_a_balancer_and_its_ingress():
    api, c, fwd = setup(*NODES, lb_service())
    c.drain()
    svc = api.get("services", "web", "default")
    assert svc["metadata"]["finalizers"] == [FINALIZER]
    assert ingress(api) == ["192.168.56.200"]
    assert served(fwd, api)["backends"] == ["192.168.56.11", "192.168.56.12"]
    assert served(fwd, api)["ports"] == [{"protocol": "TCP", "port": 80, "nodePort": 30080}]


def test_a_cluster_ip_service_is_left_alone():
    api, c, fwd = setup(*NODES, service("plain"))
    c.drain()
    assert "finalizers" not in api.get("services", "plain", "default")["metadata"]
    assert fwd.calls == []


def test_deleting_the_service_deletes_the_balancer_before_the_finalizer_goes():
    api, c, fwd = setup(*NODES, lb_service())
    c.drain()
    api.delete("services", "web", "default")
    assert api.get("services", "web", "default")["metadata"]["deletionTimestamp"]  # waits
    c.drain()
    assert api.all("services") == [] and fwd.serving == {}
    assert fwd.calls[-1][0] == "delete"


def test_changing_the_type_away_from_load_balancer_releases_it_and_clears_the_status():
    api, c, fwd = setup(*NODES, lb_service())
    c.drain()
    svc = api.get("services", "web", "default")
    svc["spec"]["type"] = "ClusterIP"
    api.replace(svc)
    c.drain()
    svc = api.get("services", "web", "default")
    assert ingress(api) == [] and "finalizers" not in svc["metadata"] and fwd.serving == {}


def test_a_node_joining_repoints_every_load_balancer():
    api, c, fwd = setup(NODES[0], lb_service(), lb_service("api"))
    c.drain()
    api.create(lab_node("node2", "192.168.56.12"))
    c.drain()
    for name in ("web", "api"):
        assert served(fwd, api, name)["backends"] == ["192.168.56.11", "192.168.56.12"]
    api.delete("nodes", "node1")
    c.drain()
    assert served(fwd, api)["backends"] == ["192.168.56.12"]


def test_a_node_update_that_changes_nothing_the_balancers_use_calls_no_update():
    api, c, fwd = setup(*NODES, lb_service())
    c.drain()
    before = list(fwd.calls)
    n = api.get("nodes", "node1")
    meta.get_condition(n["status"], "Ready")["lastHeartbeatTime"] = meta.now()
    api.update_status(n)
    c.drain()
    assert fwd.calls == before


def test_excluded_and_uninitialized_nodes_are_not_backends():
    api, c, fwd = setup(lab_node("node1", "192.168.56.11"),
                        lab_node("node2", "192.168.56.12",
                                 taints=[{"key": UNINITIALIZED, "effect": "NoSchedule"}]),
                        lab_node("cp", "192.168.56.10"), lb_service())
    cp = api.get("nodes", "cp")
    cp["metadata"]["labels"] = {EXCLUDE_LABEL: ""}
    api.replace(cp)
    c.drain()
    assert served(fwd, api)["backends"] == ["192.168.56.11"]


def test_an_exhausted_pool_leaves_the_service_pending_with_a_warning_and_a_retry():
    api, c, fwd = setup(*NODES, lb_service("first"), pool=("192.168.56.200", "192.168.56.200"))
    c.drain()
    api.create(lb_service("second"))
    assert c.reconcile("default/second") == 5.0
    assert ingress(api, "second") == [] and ingress(api, "first") == ["192.168.56.200"]


def test_the_controllers_own_status_write_does_not_ensure_the_balancer_again():
    api, c, fwd = setup(*NODES, lb_service())
    c.drain()
    assert [call for call in fwd.calls if call[0] == "ensure"] == [
        ("ensure", cloud.default_load_balancer_name(api.get("services", "web", "default")))]


def test_a_port_change_ensures_the_balancer_with_the_new_ports():
    api, c, fwd = setup(*NODES, lb_service())
    c.drain()
    svc = api.get("services", "web", "default")
    svc["spec"]["ports"][0].update(port=8080, nodePort=30081)
    api.replace(svc)
    c.drain()
    assert served(fwd, api)["ports"] == [{"protocol": "TCP", "port": 8080, "nodePort": 30081}]
    assert ingress(api) == ["192.168.56.200"]
