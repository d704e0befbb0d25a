"""The kubelet's Node and its Lease against an in-memory FakeApi."""
import pytest

from kfs import meta
from kfs.kubelet.fake_runtime import FakeRuntime
from kfs.kubelet.node import NodeStatus
from tests.fakes import FakeApi


class Runtime(FakeRuntime):
    def version(self):
        return {"Version": "20.10.24"}


@pytest.fixture
def api():
    return FakeApi({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})


@pytest.fixture
def runtime():
    return Runtime()


def node_status(api, runtime, tmp_path):
    return NodeStatus(api, "node1", "192.168.56.11", tmp_path, runtime, 10250, 10, 40)


def test_registration_creates_the_node_with_capacity_address_and_ready(api, runtime, tmp_path):
    node_status(api, runtime, tmp_path).register()
    node = api.get("nodes", "node1")
    assert {"type": "InternalIP", "address": "192.168.56.11"} in node["status"]["addresses"]
    assert set(node["status"]["capacity"]) >= {"cpu", "memory", "pods"}
    assert node["status"]["allocatable"]["pods"] == "110"
    assert node["status"]["nodeInfo"]["containerRuntimeVersion"] == "docker://20.10.24"
    assert node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] == 10250
    assert meta.condition_true(node, "Ready")
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "node1"


def test_registering_again_takes_over_the_existing_node(api, runtime, tmp_path):
    node_status(api, runtime, tmp_path).register()
    uid = api.get("nodes", "node1")["metadata"]["uid"]
    again = node_status(api, runtime, tmp_path)
    again.register()
    assert again.node_uid == uid


def test_a_node_whose_runtime_is_down_is_not_ready(api, runtime, tmp_path):
    runtime.version = lambda: (_ for _ in ()).throw(ConnectionError("no docker"))
    node_status(api, runtime, tmp_path).register()
    ready = meta.get_condition(api.get("nodes", "node1")["status"], "Ready")
    assert ready["status"] == "False" and ready["message"] == "container runtime is down"


def test_the_lease_is_created_then_renewed(api, runtime, tmp_path):
    ns = node_status(api, runtime, tmp_path)
    ns.register()
    ns.renew_lease()
    lease = api.get("leases", "node1", "kube-node-lease")
    assert lease["spec"]["holderIdentity"] == "node1"
    assert lease["spec"]["leaseDurationSeconds"] == 40
    assert lease["metadata"]["ownerReferences"][0]["uid"] == ns.node_uid
    ns.renew_lease()
    renewed = api.get("leases", "node1", "kube-node-lease")
    assert renewed["metadata"]["resourceVersion"] != lease["metadata"]["resourceVersion"]


def test_with_an_external_cloud_the_node_registers_tainted_uninitialized(api, runtime, tmp_path):
    NodeStatus(api, "node1", "192.168.56.11", tmp_path, runtime,
               external_cloud_provider=True).register()
    node = api.get("nodes", "node1")
    assert node["spec"]["taints"] == [{"key": "node.cloudprovider.kubernetes.io/uninitialized",
                                       "value": "true", "effect": "NoSchedule"}]
    assert node["metadata"]["annotations"]["alpha.kubernetes.io/provided-node-ip"] == \
        "192.168.56.11"


def test_without_an_external_cloud_the_node_registers_untainted(api, runtime, tmp_path):
    node_status(api, runtime, tmp_path).register()
    node = api.get("nodes", "node1")
    assert not node["spec"].get("taints")
    assert "alpha.kubernetes.io/provided-node-ip" not in node["metadata"]["annotations"]


def test_with_an_external_cloud_the_kubelet_leaves_the_clouds_addresses_alone(
        api, runtime, tmp_path):
    api.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node1"},
                "spec": {"providerID": "kfs://kfs/node1"},
                "status": {"addresses": [{"type": "InternalIP", "address": "10.9.9.9"}]}})
    s = NodeStatus(api, "node1", "192.168.56.11", tmp_path, runtime,
                   external_cloud_provider=True)
    s.register()
    assert "addresses" not in s.status()
    assert api.get("nodes", "node1")["metadata"]["annotations"][
        "alpha.kubernetes.io/provided-node-ip"] == "192.168.56.11"   # the Node found says it too
    assert api.get("nodes", "node1")["status"]["addresses"] == [
        {"type": "InternalIP", "address": "10.9.9.9"}]
