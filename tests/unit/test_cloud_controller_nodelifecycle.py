"""The cloud node lifecycle controller on FakeApi with a fake lab inventory."""
from kfs import meta
from kfs.cloud.controllers.nodelifecycle import SHUTDOWN, CloudNodeLifecycleController
from kfs.controllers.manager import SharedInformers
from tests.controller_objects import node
from tests.fakes import FakeApi
from tests.unit.cloud_fakes import fake_cloud


def setup(*nodes, machines=("cp", "node1", "node2")):
    api = FakeApi()
    provider, inventory, _ = fake_cloud(*machines)
    c = CloudNodeLifecycleController(api, SharedInformers(api, api.informer), provider,
                                     monitor_period=7)
    for n in nodes:
        api.create(n)
    return api, c, inventory


def unknown(name):
    n = node(name)
    meta.get_condition(n["status"], "Ready").update(status="Unknown", reason="NodeStatusUnknown")
    return n


def names(api):
    return sorted(meta.name(n) for n in api.all("nodes"))


def taint_keys(api, name):
    return [t["key"] for t in api.get("nodes", name)["spec"].get("taints") or []]


def test_a_not_ready_node_whose_machine_is_gone_is_deleted():
    api, c, inventory = setup(unknown("node1"), node("node2"))
    inventory.remove("node1")
    c.drain()
    assert names(api) == ["node2"]


def test_a_ready_node_is_kept_even_if_the_cloud_does_not_know_it():
    """Upstream asks the cloud only about nodes that are not Ready."""
    api, c, inventory = setup(node("node1"))
    inventory.remove("node1")
    c.drain()
    assert names(api) == ["node1"]


def test_a_not_ready_node_whose_machine_is_stopped_gets_the_shutdown_taint():
    api, c, inventory = setup(node("node1", ready=False, taints=[{"key": "gpu",
                                                                   "effect": "NoSchedule"}]))
    inventory.stop("node1")
    c.drain()
    assert taint_keys(api, "node1") == ["gpu", SHUTDOWN]
    assert api.get("nodes", "node1")["spec"]["taints"][1]["effect"] == "NoSchedule"


def test_a_not_ready_node_on_a_running_machine_is_left_alone():
    api, c, _ = setup(unknown("node1"))
    c.drain()
    assert names(api) == ["node1"] and taint_keys(api, "node1") == []


def test_the_shutdown_taint_comes_off_when_the_node_is_ready_again():
    api, c, inventory = setup(unknown("node1"))
    inventory.stop("node1")
    c.drain()
    n = api.get("nodes", "node1")
    meta.get_condition(n["status"], "Ready").update(status="True", reason="KubeletReady")
    api.update_status(n)
    c.drain()
    assert taint_keys(api, "node1") == []


def test_every_node_is_looked_at_each_monitor_period():
    api, c, _ = setup(node("node1"), node("node2"))
    c.drain()
    assert c.resync_period == 7
    c.resync()
    assert {c.queue.get(timeout=0), c.queue.get(timeout=0)} == {"node1", "node2"}
