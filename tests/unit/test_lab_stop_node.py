"""Nodes stopped by stop-node, on the lab's record only (no root): the mark, what the stages
and the cloud's inventory make of it, what the lab refuses, and start-node clearing it."""
import json

import pytest

from kfs.lab import netns, nodes, stages, supervisor
from kfs.lab.errors import LabError
from kfs.lab.lab import Lab, check_stopped
from kfs.lab.machine import Machine
from kfs.lab.stages import cloud, machines
from kfs.lab.status import print_status


@pytest.fixture
def lab(tmp_path, monkeypatch):
    monkeypatch.setattr(nodes, "check_host", lambda: None)
    monkeypatch.setattr(netns, "netns_exists", lambda name: True)
    monkeypatch.setattr(supervisor, "pid_of", lambda daemon: 1)   # every daemon "runs"
    stops = []
    monkeypatch.setattr(Machine, "stop", lambda m: stops.append(m.name) or {"kubelet": 7})
    lab = Lab(name="kfs", subnet="192.168.56.0/24", home=tmp_path)
    lab.state.update(nodes=2, stage="cloud")
    lab.save()
    lab.stops = stops
    return lab


def running_in_inventory(lab):
    machines = json.loads(cloud.config_path(lab).read_text())["machines"]
    return {m["name"]: m["running"] for m in machines}


def test_a_stopped_node_is_marked_and_the_stages_start_nothing_on_it(lab):
    lab.state["stopped"] = ["node2"]
    assert [(m.name, m.stopped) for m in lab.machines] == [
        ("cp", False), ("node1", False), ("node2", True)]
    assert [m.name for m in stages.running(lab.nodes)] == ["node1"]
    assert [m.name for m in lab.nodes] == ["node1", "node2"]   # still the lab's machine


def test_the_machines_stage_leaves_a_stopped_node_stopped_and_says_so(lab, monkeypatch):
    started, said = [], []
    monkeypatch.setattr(Machine, "start_runtime", lambda m: started.append(m.name))
    monkeypatch.setattr(machines.images, "load", lambda endpoint: [])
    lab.state["stopped"] = ["node1"]
    machines.runtime_up(lab, said.append)
    assert started == ["cp", "node2"]
    assert "node1" in said[1] and "stopped (kfs lab start-node node1 starts it)" in said[1]


def test_the_clouds_inventory_has_a_stopped_node_not_running(lab):
    lab.state["stopped"] = ["node1"]
    assert {m["name"]: m["running"] for m in cloud.inventory(lab)} == {
        "cp": True, "node1": False, "node2": True}


def test_stop_node_marks_the_node_stops_its_machine_and_rewrites_the_inventory(lab):
    said = []
    assert nodes.stop_node(lab, "node2", progress=said.append) == {"kubelet": 7}
    assert lab.stops == ["node2"]
    assert Lab(name="kfs", home=lab.home).stopped == ["node2"]      # in the record
    assert running_in_inventory(lab) == {"cp": True, "node1": True, "node2": False}
    assert "stopped node2: kubelet (pid 7)" in said[0]
    nodes.stop_node(lab, "node2", progress=said.append)            # again: the same
    assert Lab(name="kfs", home=lab.home).stopped == ["node2"]


def test_stop_node_below_stage_cloud_leaves_the_inventory_alone(lab):
    lab.state["stage"] = "flannel"
    lab.save()
    nodes.stop_node(lab, "node1", progress=lambda msg: None)
    assert lab.stopped == ["node1"] and not cloud.config_path(lab).exists()


def test_only_a_node_of_a_netns_lab_that_is_no_etcd_member_can_be_stopped(lab):
    with pytest.raises(LabError, match="cp is the control plane: only nodes"):
        nodes.stop_node(lab, "cp")
    with pytest.raises(LabError, match="lb is the cloud's load balancer"):
        nodes.stop_node(lab, "lb")
    with pytest.raises(LabError, match="no node 'node9' in the lab; .*nodes: node1, node2"):
        nodes.start_node(lab, "node9")
    lab.state["etcd_members"] = 3
    with pytest.raises(LabError, match="node1 runs an etcd member"):
        nodes.stop_node(lab, "node1")
    lab.state.update(etcd_members=1, kind="vagrant")
    with pytest.raises(LabError, match="vagrant halt node1"):
        nodes.stop_node(lab, "node1")
    assert lab.stops == [] and lab.stopped == []
    with pytest.raises(LabError, match="no lab 'x', so no node 'node1' to stop"):
        nodes.stop_node(Lab(name="x", home=lab.home / "other"), "node1")


def test_start_node_clears_the_mark_before_the_stages_run_and_waits_for_ready(lab, monkeypatch):
    seen = []
    monkeypatch.setattr(stages, "bring_to", lambda lab, target, progress: seen.append(
        (target, lab.stopped)))
    monkeypatch.setattr(nodes.join, "admin", lambda lab: object())
    monkeypatch.setattr(nodes, "node_ready", lambda client, name: seen.append(name) or True)
    lab.state["stopped"] = ["node1", "node2"]
    lab.save()
    nodes.start_node(lab, "node2", progress=lambda msg: None)
    assert seen == [("cloud", ["node1"]), "node2"]
    assert Lab(name="kfs", home=lab.home).stopped == ["node1"]


def test_an_added_node_that_is_stopped_is_started_before_it_is_removed(lab):
    lab.state.update(joined={"node3": 3}, stopped=["node3"])
    lab.save()
    with pytest.raises(LabError, match="node3 is stopped: kfs lab start-node node3 first"):
        nodes.remove_node(lab, "node3")


def test_a_removed_node_is_no_longer_stopped_and_an_etcd_member_must_run(lab):
    from kfs.lab.lab import forget_stopped
    lab.state.update(stopped=["node1", "node2"], nodes=1)
    forget_stopped(lab)
    assert lab.stopped == ["node1"]
    with pytest.raises(LabError, match="node1 is stopped .* start-node node1 first"):
        check_stopped(lab, etcd_members=3)
    check_stopped(lab)


def test_status_says_a_stopped_node_is_stopped(lab, capsys):
    lab.state["stopped"] = ["node2"]
    print_status(lab)
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "stopped (kfs lab start-node node2 starts it)" in rows["node2"]
    assert "stopped" not in rows["node1"] and "DEAD" not in rows["node1"]
