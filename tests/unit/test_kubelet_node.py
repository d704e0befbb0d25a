"""The kubelet and the API server (an in-memory FakeApi): Node, Lease, pods, mirror pods."""
import pytest

from kfs import meta
from kfs.kubelet import manifest, sources
from kfs.kubelet.events import ListRecorder
from kfs.kubelet.fake_runtime import FakeRuntime
from kfs.kubelet.kubelet import Kubelet
from kfs.kubelet.node import ApiPods, NodeStatus
from kfs.util import wait_for
from tests.fakes import FakeApi
from tests.unit.test_kubelet_sync import make_pod


class Runtime(FakeRuntime):
    def version(self):
        return {"Version": "20.10.24"}


@pytest.fixture
def api():
    return FakeApi({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})


@pytest.fixture
def kl(tmp_path):
    k = Kubelet(Runtime(), "node1", "192.168.56.11", tmp_path, recorder=ListRecorder(),
                sync_frequency=0.05)
    yield k
    k.stop()


@pytest.fixture
def wired(api, kl):
    """A kubelet with its API source, status writer, mirror pods and final deletes."""
    config = sources.PodConfig([sources.API])
    kl.config = config
    node = NodeStatus(kl, api, 10250, 10, 40)
    node.register()
    source = sources.APISource(config, "node1", api, informer=api.informer("pods")).start()
    pods = ApiPods(kl, api, source, node)
    kl.status.writer, kl.on_terminated, kl.mirror_pods = pods.write_status, pods.terminated, pods
    wait_for(lambda: sources.API in config.snapshots, 5, what="the API source's first set")
    return pods


def test_registration_creates_the_node_with_capacity_address_and_ready(api, kl):
    NodeStatus(kl, api, 10250, 10, 40).register()
    node = api.get("nodes", "node1")
    assert {"type": "InternalIP", "address": "192.168.56.11"} in node["status"]["addresses"]
    assert set(node["status"]["capacity"]) >= {"cpu", "memory", "pods"}
    assert node["status"]["allocatable"]["pods"] == "110"
    assert node["status"]["nodeInfo"]["containerRuntimeVersion"] == "docker://20.10.24"
    assert node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] == 10250
    assert meta.condition_true(node, "Ready")
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "node1"


def test_registering_again_takes_over_the_existing_node(api, kl):
    NodeStatus(kl, api, 10250, 10, 40).register()
    uid = api.get("nodes", "node1")["metadata"]["uid"]
    again = NodeStatus(kl, api, 10250, 10, 40)
    again.register()
    assert again.node_uid == uid


def test_a_node_whose_runtime_is_down_is_not_ready(api, kl):
    kl.runtime.version = lambda: (_ for _ in ()).throw(ConnectionError("no docker"))
    NodeStatus(kl, api, 10250, 10, 40).register()
    ready = meta.get_condition(api.get("nodes", "node1")["status"], "Ready")
    assert ready["status"] == "False" and ready["message"] == "container runtime is down"


def test_the_lease_is_created_then_renewed(api, kl):
    ns = NodeStatus(kl, api, 10250, 10, 40)
    ns.register()
    ns.renew_lease()
    lease = api.get("leases", "node1", "kube-node-lease")
    assert lease["spec"]["holderIdentity"] == "node1"
    assert lease["spec"]["leaseDurationSeconds"] == 40
    assert lease["metadata"]["ownerReferences"][0]["uid"] == ns.node_uid
    ns.renew_lease()
    renewed = api.get("leases", "node1", "kube-node-lease")
    assert renewed["metadata"]["resourceVersion"] != lease["metadata"]["resourceVersion"]


def api_pod(api, name="web", finalizers=(), **spec):
    return api.create({"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": name, "finalizers": list(finalizers)},
                       "spec": {"nodeName": "node1", "containers": [
                           {"name": "app", "image": "kfs/busybox:1"}], **spec}})


def test_a_pod_bound_to_the_node_runs_and_its_status_is_written(api, kl, wired):
    api_pod(api)
    kl.handle_pods(kl.config.pods())
    wait_for(lambda: api.get("pods", "web", "default").get("status", {}).get("phase") ==
             "Running", 5, what="the pod's status Running in the API")
    status = api.get("pods", "web", "default")["status"]
    assert status["podIP"].startswith("172.17.") and status["hostIP"] == "192.168.56.11"


def test_a_deleted_pod_is_killed_then_deleted_for_good(api, kl, wired):
    # the finalizer keeps the FakeApi from removing the pod at once, as a graceful delete does
    api_pod(api, finalizers=["test/hold"])
    kl.handle_pods(kl.config.pods())
    (app,) = wait_for(lambda: kl.runtime.running("app"), 5, what="the pod running")
    api.patch("pods", "web", {"metadata": {"deletionTimestamp": meta.now(),
                                           "deletionGracePeriodSeconds": 5}}, "default")
    kl.handle_pods(kl.config.pods())
    wait_for(lambda: ("delete", "pods", "default/web", None) in api.actions, 5,
             what="the final delete")
    assert ("stop_container", app.id, 5) in kl.runtime.calls
    assert not kl.runtime.containers


def test_a_static_pod_gets_a_mirror_pod_carrying_its_status(api, kl, wired):
    static = make_pod()
    kl.desired = {static["metadata"]["uid"]: static}
    kl.sync(static)
    mirror = api.get("pods", "web-node1", "default")
    assert meta.annotations(mirror)[manifest.CONFIG_MIRROR] == \
        static["metadata"]["annotations"][manifest.CONFIG_HASH]
    assert mirror["metadata"]["ownerReferences"][0]["kind"] == "Node"
    assert "node1" == mirror["spec"]["nodeName"]
    kl.sync(static)
    assert api.get("pods", "web-node1", "default")["status"]["phase"] == "Running"
    assert "web-node1" not in {p["metadata"]["name"] for p in kl.config.pods().values()}, \
        "a mirror pod is never run as a pod of its own"


def test_a_mirror_pod_whose_static_pod_is_gone_is_deleted(api, kl, wired):
    static = make_pod()
    wired.sync_mirror_pod(static)
    kl.desired = {}
    wired.cleanup({})
    assert not api.all("pods")


def test_a_mirror_pod_of_an_older_manifest_is_replaced(api, kl, wired):
    static = make_pod()
    wired.sync_mirror_pod(static)
    old = api.get("pods", "web-node1", "default")
    changed = make_pod(containers=[{"name": "app", "image": "kfs/echo:1"}])
    wired.sync_mirror_pod(changed)
    (mirror,) = api.all("pods")
    assert mirror["metadata"]["uid"] != old["metadata"]["uid"]
    assert mirror["spec"]["containers"][0]["image"] == "kfs/echo:1"


def test_a_mirror_pod_being_deleted_is_deleted_for_good_and_made_again(api, kl, wired):
    static = make_pod()
    deleting = wired.mirror_object(static)
    deleting["metadata"]["deletionTimestamp"] = meta.now()  # kubectl delete, grace pending
    old = api.create(deleting)
    wired.sync_mirror_pod(static)
    (mirror,) = api.all("pods")
    assert mirror["metadata"]["uid"] != old["metadata"]["uid"]
    assert not mirror["metadata"].get("deletionTimestamp")


def test_events_about_a_static_pod_refer_to_its_mirror_pod(api, kl, wired):
    static = make_pod()
    wired.sync_mirror_pod(static)
    involved = wired.involved(static)
    assert involved["metadata"]["uid"] == api.get("pods", "web-node1", "default")["metadata"]["uid"]
