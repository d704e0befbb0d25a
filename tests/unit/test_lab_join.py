"""Machines added by add-node, on the lab's record only (no root): their names, addresses
and kubelet flags, what the lab refuses, and which serving CSRs it approves."""
import base64

import pytest

from kfs import pki
from kfs.lab import nodes
from kfs.lab.errors import LabError
from kfs.lab.lab import Lab, check_joined
from kfs.lab.stages import credentials, join, kubelet
from tests.controller_objects import csr


@pytest.fixture
def lab(tmp_path):
    lab = Lab(name="kfs", subnet="192.168.56.0/24", home=tmp_path)
    lab.state.update(nodes=2, stage="flannel")
    return lab


def test_added_nodes_come_after_the_labs_own_at_the_next_addresses(lab):
    assert nodes.next_name(lab) == "node3"
    lab.state["joined"] = {"node3": 3, "big": 4}
    assert [(m.name, m.ip, m.joined) for m in lab.machines][3:] == [
        ("node3", "192.168.56.13", True), ("big", "192.168.56.14", True)]
    assert nodes.next_name(lab) == "node5"
    assert [m.name for m in credentials.own_nodes(lab)] == ["node1", "node2"]


def test_a_joined_kubelet_gets_a_bootstrap_kubeconfig_and_no_certificate(lab):
    lab.state["joined"] = {"node3": 3}
    argv = kubelet.kubelet_argv(lab, lab.machine("node3"), "flannel")
    assert "--bootstrap-kubeconfig" in argv and "--rotate-server-certificates" in argv
    assert "--tls-cert-file" not in argv and not any("kubelet-node3" in a for a in argv)
    assert "--bootstrap-kubeconfig" not in kubelet.kubelet_argv(lab, lab.machine("node1"),
                                                                "flannel")


def test_add_node_needs_the_controller_manager_and_a_free_valid_name(lab):
    (lab.dir / "lab.json").parent.mkdir(parents=True)
    lab.save()
    lab.state["stage"] = "scheduler"
    with pytest.raises(LabError, match="needs stage controller-manager"):
        nodes.check_can_join(lab)
    with pytest.raises(LabError, match="one of the lab's own machines"):
        nodes.check_name(lab, "node1")
    with pytest.raises(LabError, match="invalid node name"):
        nodes.check_name(lab, "Node_3")


def test_the_lab_keeps_added_nodes_stage_and_addresses(lab):
    lab.state["joined"] = {"node3": 3}
    with pytest.raises(LabError, match="remove them first"):
        check_joined(lab, None, "scheduler")
    with pytest.raises(LabError, match="--nodes 3 would need node3"):
        check_joined(lab, 3, "flannel")
    check_joined(lab, 2, "dns")


def test_remove_node_refuses_the_labs_own_machines_and_unknown_names(lab, monkeypatch):
    monkeypatch.setattr(nodes, "check_host", lambda: None)
    with pytest.raises(LabError, match="no lab 'kfs'"):
        nodes.remove_node(lab, "node3")
    lab.save()
    with pytest.raises(LabError, match="node1 is one of the lab's own machines"):
        nodes.remove_node(lab, "node1")
    with pytest.raises(LabError, match="no node 'nope' was added with add-node"):
        nodes.remove_node(lab, "nope")


def serving(lab, **kwargs):
    args = dict(name="s", cn="system:node:node3", ips=("192.168.56.13",), dns=("node3",),
                signer="kubernetes.io/kubelet-serving",
                usages=("digital signature", "server auth"), username="system:node:node3",
                groups=("system:nodes",))
    return csr(**{**args, **kwargs})


def test_the_lab_approves_only_serving_csrs_that_name_the_machine(lab):
    lab.state["joined"] = {"node3": 3}
    m = lab.machine("node3")
    assert join.serving_request_problem(serving(lab), m) is None
    assert "not 'system:node:node3'" in join.serving_request_problem(
        serving(lab, username="system:node:node1"), m)
    assert "are not node3's" in join.serving_request_problem(
        serving(lab, ips=("192.168.56.11",)), m)
    assert "are not node3's" in join.serving_request_problem(serving(lab, dns=("evil",)), m)
    assert "is not 'system:node:node3'" in join.serving_request_problem(
        serving(lab, cn="system:node:node1"), m)


def test_a_bootstrap_token_secret_is_what_kubeadm_writes():
    secret = join.token_secret("abcdef", "0123456789abcdef", "for node3")
    from kfs.apiserver import authn, kinds
    kinds.default(secret)
    assert kinds.validate(secret) == []
    user = authn.user_from_bootstrap_token("Bearer abcdef.0123456789abcdef",
                                           lambda name: secret)
    assert user.groups == ("system:bootstrappers", join.EXTRA_GROUP)
    assert base64.b64decode(secret["data"]["usage-bootstrap-signing"]) == b"true"
    assert pki.new_bootstrap_token()[0] != pki.new_bootstrap_token()[0]


def test_an_added_machine_keeps_its_zone_when_one_added_before_it_is_removed(lab, monkeypatch):
    from kfs.lab import netns, supervisor
    from kfs.lab.stages import cloud
    monkeypatch.setattr(netns, "netns_exists", lambda name: True)
    monkeypatch.setattr(supervisor, "pid_of", lambda daemon: 1)

    def zones():
        return {m["name"]: m["zone"] for m in cloud.inventory(lab)}
    lab.state["joined"] = {"node3": 3, "node4": 4}
    before = zones()
    assert before == {"cp": "lab-a", "node1": "lab-a", "node2": "lab-b", "node3": "lab-a",
                      "node4": "lab-b"}
    del lab.state["joined"]["node3"]
    assert zones() == {n: z for n, z in before.items() if n != "node3"}
