"""Nodes: defaults, status on create, podCIDR and taint validation, the printed row (kfs/apiserver/kinds/node.py)."""

import pytest

from tests.unit.kind_objects import (
    cells, changed, column_names, created,
    defaulted, errors, named, stored)


def test_a_nodes_allocatable_defaults_to_its_capacity():
    node = defaulted({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node1"},
                      "status": {"capacity": {"cpu": "2", "pods": "110"}}})
    assert node["status"]["allocatable"] == {"cpu": "2", "pods": "110"}


def test_a_node_keeps_the_status_it_registers_with():
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}, "status": {"capacity": {"cpu": "2"}}}
    assert created(node)["status"]["capacity"] == {"cpu": "2"}


def test_a_nodes_pod_cidr_may_be_set_once():
    old = stored({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}, "spec": {}})
    first = changed(old, lambda n: n["spec"].update(podCIDRs=["10.1.1.0/24"]))
    again = changed(first, lambda n: n["spec"].update(podCIDRs=["10.1.2.0/24"]))
    assert errors(first, old) == []
    assert errors(again, first) == [("spec.podCIDRs", "FieldValueForbidden",
                                     'Forbidden: node updates may not change podCIDR except from "" to valid')]


@pytest.mark.parametrize("conditions, unschedulable, status", [
    ([{"type": "Ready", "status": "True"}], False, "Ready"),
    ([{"type": "Ready", "status": "False"}], False, "NotReady"),
    ([{"type": "Ready", "status": "Unknown"}], False, "NotReady"),
    ([], False, "Unknown"),
    ([{"type": "Ready", "status": "True"}], True, "Ready,SchedulingDisabled"),
])
def test_node_status_column(conditions, unschedulable, status):
    node = named("node1", spec={"unschedulable": unschedulable}, status={"conditions": conditions})
    assert cells("nodes", node)[1] == status


def test_node_row_with_roles_version_and_wide_cells():
    node = named("cp", spec={}, status={
        "conditions": [{"type": "Ready", "status": "True"}],
        "addresses": [{"type": "Hostname", "address": "cp"}, {"type": "InternalIP", "address": "192.168.56.10"}],
        "nodeInfo": {"kubeletVersion": "v1.32.0-kfs", "osImage": "Debian GNU/Linux 12", "kernelVersion": "6.1.0"}})
    node["metadata"]["labels"] = {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "master"}
    assert cells("nodes", node) == ["cp", "Ready", "control-plane,master", "5m", "v1.32.0-kfs", "192.168.56.10",
                                    "<none>", "Debian GNU/Linux 12", "6.1.0", "<unknown>"]


def test_a_node_without_roles_shows_none():
    assert cells("nodes", named("n", status={}))[2] == "<none>"


def test_a_valid_node_has_no_causes():
    assert errors({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node1"},
                   "spec": {"podCIDRs": ["10.1.1.0/24"]}}) == []


def test_a_pod_cidr_must_be_a_cidr():
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}, "spec": {"podCIDRs": ["10.1.1.0"]}}
    assert ("spec.podCIDRs[0]", 'Invalid value: "10.1.1.0": must be a valid CIDR value, (e.g. 10.9.8.0/24 or '
            "2001:db8::/64)") in [(e[0], e[2]) for e in errors(node)]


def test_nodes_have_upstreams_columns_with_wide_ones_at_priority_1():
    assert column_names("nodes") == (["Name", "Status", "Roles", "Age", "Version"],
                                     ["Internal-IP", "External-IP", "OS-Image", "Kernel-Version",
                                      "Container-Runtime"])
