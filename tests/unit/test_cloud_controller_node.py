"""The cloud node controller on FakeApi with the netns provider over a fake inventory."""
import pytest

from kfs import meta
from kfs.cloud import cloud
from kfs.cloud.controllers.node import INSTANCE_TYPE, REGION, UNINITIALIZED, ZONE, \
    CloudNodeController
from kfs.controllers.manager import SharedInformers
from tests.controller_objects import node
from tests.fakes import FakeApi, status_error
from tests.unit.cloud_fakes import fake_cloud

TAINT = {"key": UNINITIALIZED, "value": "true", "effect": "NoSchedule"}


def setup(*nodes, machines=("cp", "node1", "node2")):
    api = FakeApi()
    provider, inventory, _ = fake_cloud(*machines)
    c = CloudNodeController(api, SharedInformers(api, api.informer), provider)
    for n in nodes:  # as the kubelet registers them, while the controller watches
        api.create(n)
    return api, c, inventory


def test_an_uninitialized_node_gets_provider_id_addresses_labels_and_loses_the_taint():
    api, c, _ = setup(node("node1", taints=[TAINT, {"key": "gpu", "effect": "NoSchedule"}]))
    c.drain()
    n = api.get("nodes", "node1")
    assert n["spec"]["providerID"] == "kfs://lab/node1"
    assert n["status"]["addresses"] == [{"type": "InternalIP", "address": "192.168.56.11"},
                                        {"type": "Hostname", "address": "node1"}]
    labels = n["metadata"]["labels"]
    assert (labels[INSTANCE_TYPE], labels[ZONE], labels[REGION]) == ("netns", "lab-b", "lab")
    assert labels["failure-domain.beta.kubernetes.io/zone"] == "lab-b"
    assert n["spec"]["taints"] == [{"key": "gpu", "effect": "NoSchedule"}]
    assert meta.condition_true(n, "Ready")          # the kubelet's status is left alone


def test_a_node_without_the_taint_is_not_touched_when_it_changes():
    api, c, _ = setup(node("node1"))
    c.drain()
    assert "providerID" not in api.get("nodes", "node1")["spec"]
    assert [a for a in api.actions if a[0] != "create"] == []


def test_a_node_whose_machine_the_cloud_does_not_know_stays_tainted_and_is_retried():
    api, c, _ = setup(node("stranger", taints=[TAINT]))
    assert c.reconcile("stranger") == 5.0
    assert api.get("nodes", "stranger")["spec"]["taints"] == [TAINT]


def test_a_provider_id_set_by_the_kubelet_is_kept_and_used_to_find_the_instance():
    n = node("renamed", taints=[TAINT])
    n["spec"]["providerID"] = "kfs://lab/node2"
    api, c, _ = setup(n)
    c.drain()
    got = api.get("nodes", "renamed")
    assert got["spec"]["providerID"] == "kfs://lab/node2" and "taints" not in got["spec"]
    assert got["status"]["addresses"][0]["address"] == "192.168.56.12"


def test_the_resync_refreshes_addresses_of_initialized_nodes():
    api, c, inventory = setup(node("node1", taints=[TAINT]))
    c.drain()
    inventory.machines[1].address = "192.168.56.99"
    c.resync()
    c.drain()
    assert api.get("nodes", "node1")["status"]["addresses"][0]["address"] == "192.168.56.99"


def test_a_conflicting_write_is_retried_from_the_informer():
    api, c, _ = setup(node("node1", taints=[TAINT]))
    api.fail["update"] = status_error(409, "Conflict", "the object has been modified")
    c.drain()
    assert "taints" not in api.get("nodes", "node1")["spec"]


class Bare(cloud.Interface):
    def provider_name(self):
        return "bare"


def test_a_cloud_without_instances_is_refused_by_name():
    api = FakeApi()
    with pytest.raises(ValueError, match="'bare' has no InstancesV2"):
        CloudNodeController(api, SharedInformers(api, api.informer), Bare())
