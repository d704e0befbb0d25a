"""The kubelet with the API server (lab stage apiserver), judged by the real kubectl: nodes,
pods bound to a node, logs, events, graceful deletion, mirror pods, the Lease heartbeat."""
import json
import subprocess
import time
from datetime import datetime

import pytest

from kfs.kubectl import kubectl
from kfs.lab import supervisor
from kfs.lab.stages import kubelet as stage
from kfs.util import wait_for
from tests.system.kubelet_helpers import kubelet_containers, write_manifest

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")

TICKER = ("i=0; trap 'exit 0' TERM; while true; do echo tick $i; i=$((i+1)); sleep 0.2 & wait; "
          "done")


@pytest.fixture(scope="module")
def alab(lab):
    lab.up(stage="apiserver", progress=lambda msg: None)
    return lab


def k(alab, *argv, **kwargs):
    return kubectl(*argv, lab=alab, show=False, **kwargs)


def get_json(alab, *argv):
    return json.loads(k(alab, "get", *argv, "-o", "json"))


@pytest.fixture
def pods(alab):
    """Pods made by a test (name -> node), deleted afterwards."""
    made = {}
    yield made
    for name in made:
        k(alab, "delete", "pod", name, "--grace-period=0", "--force", "--ignore-not-found",
          check=False)
    for name, node in made.items():
        wait_for(lambda: not kubelet_containers(alab.machine(node), name), 60,
                 what=f"pod {name}'s containers gone")


def create_pod(alab, pods, name, node, command=TICKER, **spec):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"nodeName": node, "containers": [
               {"name": "c", "image": "kfs/busybox:1", "command": ["sh", "-c", command]}],
               **spec}}
    pods[name] = node
    k(alab, "apply", "-f", "-", input=json.dumps(pod))


def pod_or_none(alab, name):
    """The pod as kubectl gets it, or None while the API server has no such pod."""
    out = k(alab, "get", "pod", name, "-o", "json", "--ignore-not-found")
    return json.loads(out) if out.strip() else None


def phase(alab, name):
    return (pod_or_none(alab, name) or {}).get("status", {}).get("phase")


def test_the_kubelets_register_their_nodes_ready_with_their_lab_address(alab):
    def ready_nodes():
        nodes = get_json(alab, "nodes")["items"]
        return [n for n in nodes if any(c["type"] == "Ready" and c["status"] == "True"
                                        for c in n["status"]["conditions"])]
    nodes = wait_for(lambda: len(ready_nodes()) == len(alab.nodes) and ready_nodes(), 60,
                     what="every node Ready")
    for n in nodes:
        m = alab.machine(n["metadata"]["name"])
        assert {"type": "InternalIP", "address": m.ip} in n["status"]["addresses"]
        assert n["status"]["allocatable"]["pods"] == "110"
    out = k(alab, "get", "nodes")
    assert "node1" in out and " Ready " in out


def test_a_pod_bound_to_a_node_runs_there_and_kubectl_shows_node_ip_and_status(alab, pods):
    create_pod(alab, pods, "bound", "node1")
    wait_for(lambda: phase(alab, "bound") == "Running", 60, what="pod bound Running")
    pod = get_json(alab, "pod", "bound")
    assert pod["status"]["podIP"].startswith("172.17.")
    assert pod["status"]["hostIP"] == alab.machine("node1").ip
    wide = k(alab, "get", "pods", "-o", "wide")
    line = next(line for line in wide.splitlines() if line.startswith("bound "))
    assert "Running" in line and pod["status"]["podIP"] in line and "node1" in line
    assert kubelet_containers(alab.machine("node1"), "bound")


def test_kubectl_logs_tail_and_follow_come_from_the_kubelet(alab, pods):
    create_pod(alab, pods, "talker", "node2")
    wait_for(lambda: "tick 3" in k(alab, "logs", "talker", check=False), 60,
             what="talker's output")
    assert len(k(alab, "logs", "talker", "--tail", "2").splitlines()) == 2
    from kfs.kubectl import binary, env
    follow = subprocess.Popen([binary(), "logs", "-f", "talker", "--tail", "1"],
                              stdout=subprocess.PIPE, text=True, env=env(alab))
    try:
        first = int(follow.stdout.readline().split()[1])
        assert int(follow.stdout.readline().split()[1]) == first + 1
    finally:
        follow.kill()
        follow.wait()


def test_kubectl_describe_shows_the_kubelets_events(alab, pods):
    create_pod(alab, pods, "told", "node1")
    wait_for(lambda: phase(alab, "told") == "Running", 60, what="pod told Running")

    def described():
        out = k(alab, "describe", "pod", "told")
        return all(r in out for r in ("Pulled", "Created", "Started")) and out
    out = wait_for(described, 30, what="the kubelet's events in describe")
    assert "kubelet" in out and "Started container c" in out


def test_a_deleted_pod_gets_its_grace_period_then_is_deleted_by_the_kubelet(alab, pods):
    create_pod(alab, pods, "stubborn", "node1", command="sleep 3600",
               terminationGracePeriodSeconds=30)
    wait_for(lambda: phase(alab, "stubborn") == "Running", 60, what="pod stubborn Running")
    start = time.monotonic()
    k(alab, "delete", "pod", "stubborn", "--grace-period=3", "--wait=false")
    assert get_json(alab, "pod", "stubborn")["metadata"]["deletionTimestamp"]
    wait_for(lambda: "stubborn" not in k(alab, "get", "pods", "-o", "name"), 30,
             what="the pod object gone")
    assert time.monotonic() - start >= 3, "sleep ignores SIGTERM: SIGKILL after 3 s"
    assert not kubelet_containers(alab.machine("node1"), "stubborn")


def test_a_static_pod_shows_as_a_mirror_pod_which_comes_back_when_deleted(alab):
    m = alab.machine("node2")
    write_manifest(m, "mirrored.json", json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "mirrored"},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [
            {"name": "c", "image": "kfs/busybox:1", "command": ["sh", "-c", TICKER]}]}}))
    try:
        wait_for(lambda: phase(alab, "mirrored-node2") == "Running", 60, what="the mirror pod")
        old = get_json(alab, "pod", "mirrored-node2")
        assert "kubernetes.io/config.mirror" in old["metadata"]["annotations"]
        k(alab, "delete", "pod", "mirrored-node2", "--timeout=30s")
        wait_for(lambda: (pod_or_none(alab, "mirrored-node2") or old)["metadata"]["uid"] !=
                 old["metadata"]["uid"], 30, what="the mirror pod made again")
        assert len(kubelet_containers(m, "mirrored-node2")) == 2, "the pod itself kept running"
    finally:
        (stage.manifest_dir(m) / "mirrored.json").unlink()
    wait_for(lambda: "mirrored-node2" not in k(alab, "get", "pods", "-o", "name"), 30,
             what="the mirror pod deleted with its manifest")


def renew_time(alab, node):
    lease = get_json(alab, "lease", node, "-n", "kube-node-lease")
    return datetime.strptime(lease["spec"]["renewTime"], "%Y-%m-%dT%H:%M:%S.%fZ")


def test_a_stopped_kubelets_lease_is_no_longer_renewed(alab):
    node2 = alab.machine("node2")
    first = renew_time(alab, "node2")
    wait_for(lambda: renew_time(alab, "node2") > first, 30, what="the lease renewed")
    supervisor.stop(stage.daemon(alab, node2))
    try:
        stopped_at = renew_time(alab, "node2")
        deadline = time.monotonic() + 12  # longer than the renew interval (10 s)
        wait_for(lambda: time.monotonic() > deadline, 20, what="12 s to pass")
        assert renew_time(alab, "node2") == stopped_at
    finally:
        stage.up(alab, "apiserver", lambda msg: None)
    wait_for(lambda: renew_time(alab, "node2") > stopped_at, 30, what="renewed again")
