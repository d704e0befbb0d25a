"""The controller manager for real: the lab at stage `controller-manager` (etcd, the API
server, kubelets on node1 and node2, the scheduler and `kfs controller-manager` on cp),
driven with the real kubectl as the talk's basic flow is."""
import pytest

from kfs import meta
from kfs.client import ApiError
from kfs.controllers import deployment_util as du
from kfs.util import wait_for
from tests.system.controllers_helpers import (ReadyWatch, apply, controller_manager_client,
                                              delete, k, live, pods_of, rollout_status, running,
                                              sandboxes, wait_settled)


@pytest.fixture(scope="module")
def client(lab):
    return controller_manager_client(lab)


@pytest.fixture(scope="module")
def flow(client, lab):
    """The basic flow: `kubectl apply -f` a 5-replica Deployment, `rollout status`."""
    apply(lab, "flow", 5)
    out = rollout_status(lab, "flow")
    yield out
    delete(lab, client, "flow")


def test_the_basic_flow_ends_with_5_pods_spread_over_both_nodes_each_with_its_container(
        client, lab, flow):
    assert 'deployment "flow" successfully rolled out' in flow
    [rs] = client.list("replicasets", "default", label_selector="app=flow")["items"]
    d = client.get("deployments", "flow", "default")
    assert meta.name(rs) == f"flow-{meta.labels(rs)[du.HASH_LABEL]}"
    assert meta.controller_of(rs)["uid"] == d["metadata"]["uid"]
    pods = running(pods_of(client, "flow"))
    assert len(pods) == 5
    assert {p["spec"]["nodeName"] for p in pods} == {"node1", "node2"}
    for p in pods:
        assert meta.controller_of(p)["uid"] == rs["metadata"]["uid"]
        assert p["metadata"]["generateName"] == f"{meta.name(rs)}-"
    boxes = sandboxes(lab, "flow-")
    assert {name: machines for name, machines in boxes.items()} == {
        meta.name(p): [p["spec"]["nodeName"]] for p in pods}
    for p in pods:  # and the app container beside each sandbox, on the pod's machine
        m = lab.machine(p["spec"]["nodeName"])
        assert m.docker().containers.list(filters={"label": [
            f"io.kubernetes.pod.name={meta.name(p)}", "io.kubernetes.container.name=echo"]})
    status = d["status"]
    assert (status["replicas"], status["updatedReplicas"], status["readyReplicas"],
            status["availableReplicas"]) == (5, 5, 5, 5)
    assert meta.get_condition(status, "Available")["reason"] == du.MIN_AVAILABLE
    assert meta.get_condition(status, "Progressing")["reason"] == du.NEW_RS_AVAILABLE


def test_the_endpoints_of_a_service_are_its_ready_pods(client, lab, flow):
    k(lab, "apply", "-f", "-", input=(
        "apiVersion: v1\nkind: Service\nmetadata: {name: flow, labels: {test: controllers}}\n"
        "spec: {selector: {app: flow}, ports: [{name: http, port: 80, targetPort: http}]}\n"))
    try:
        pods = running(pods_of(client, "flow"))

        def addresses():
            try:
                ep = client.get("endpoints", "flow", "default")
            except ApiError as e:  # not written yet
                if e.not_found:
                    return None
                raise
            return sorted((a["ip"], a["targetRef"]["name"], a["nodeName"])
                          for s in ep.get("subsets") or [] for a in s.get("addresses") or [])
        want = sorted((p["status"]["podIP"], meta.name(p), p["spec"]["nodeName"]) for p in pods)
        wait_for(lambda: addresses() == want, 30, what="the Endpoints to list the 5 pods")
        ep = client.get("endpoints", "flow", "default")
        assert {p["port"] for s in ep["subsets"] for p in s["ports"]} == {8080}
    finally:
        k(lab, "delete", "service", "flow", "--ignore-not-found")


def test_the_endpointslices_of_a_service_are_its_pods_and_kubectl_describe_shows_them(
        client, lab, flow):
    k(lab, "apply", "-f", "-", input=(
        "apiVersion: v1\nkind: Service\nmetadata: {name: flow-eps}\n"
        "spec: {selector: {app: flow}, ports: [{name: http, port: 80, targetPort: http}]}\n"))
    selector = "kubernetes.io/service-name=flow-eps"
    try:
        pods = running(pods_of(client, "flow"))

        def endpoints():
            return sorted((e["addresses"][0], e["targetRef"]["name"], e["conditions"]["ready"])
                          for s in client.list("endpointslices", "default",
                                               label_selector=selector)["items"]
                          for e in s.get("endpoints") or [])
        want = sorted((p["status"]["podIP"], meta.name(p), True) for p in pods)
        wait_for(lambda: endpoints() == want, 30, what="the EndpointSlice to list the 5 pods")
        [eps] = client.list("endpointslices", "default", label_selector=selector)["items"]
        assert [p["port"] for p in eps["ports"]] == [8080]
        described = k(lab, "describe", "service", "flow-eps")
        [line] = [ln for ln in described.splitlines() if ln.startswith("Endpoints:")]
        assert any(f"{p['status']['podIP']}:8080" in line for p in pods), line
        assert "endpointslice" in k(lab, "get", "endpointslices", "-l", selector, "-o", "name")
    finally:
        k(lab, "delete", "service", "flow-eps", "--ignore-not-found")
    wait_for(lambda: not client.list("endpointslices", "default", label_selector=selector)["items"],
             30, what="the garbage collector to delete the Service's slices")


@pytest.mark.parametrize("replicas", [8, 2])
def test_kubectl_scale_converges_exactly(client, lab, flow, replicas):
    k(lab, "scale", "deployment/flow", f"--replicas={replicas}")
    rollout_status(lab, "flow")
    wait_settled(client, lab, "flow", replicas)
    assert len(client.list("replicasets", "default", label_selector="app=flow")["items"]) == 1


def test_an_image_change_never_drops_below_replicas_minus_max_unavailable_and_undo_goes_back(
        client, lab):
    replicas = 4  # 25%/25%: maxSurge 1, maxUnavailable 1
    apply(lab, "roll", replicas)
    rollout_status(lab, "roll")
    watch = ReadyWatch(client, "roll").start()
    try:
        k(lab, "set", "image", "deployment/roll", "echo=kfs/echo:2")
        rollout_status(lab, "roll")
        wait_settled(client, lab, "roll", replicas)
    finally:
        watch.stop()
    assert watch.samples > 2 * replicas          # it did watch the rollout happen
    assert watch.minimum >= replicas - 1
    images = {p["spec"]["containers"][0]["image"] for p in pods_of(client, "roll")}
    assert images == {"kfs/echo:2"}
    history = k(lab, "rollout", "history", "deployment/roll")
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]
    k(lab, "rollout", "undo", "deployment/roll")
    rollout_status(lab, "roll")
    wait_settled(client, lab, "roll", replicas)
    assert {p["spec"]["containers"][0]["image"] for p in pods_of(client, "roll")} == {"kfs/echo:1"}
    rs = client.list("replicasets", "default", label_selector="app=roll")["items"]
    new = [r for r in rs if r["spec"]["replicas"] == replicas]
    assert len(rs) == 2 and meta.annotations(new[0])[du.REVISION] == "3"
    delete(lab, client, "roll")


def test_pause_resume_and_restart(client, lab):
    apply(lab, "paused", 2)
    rollout_status(lab, "paused")
    before = {meta.name(p) for p in pods_of(client, "paused")}
    k(lab, "rollout", "pause", "deployment/paused")
    k(lab, "set", "image", "deployment/paused", "echo=kfs/echo:2")
    wait_for(lambda: meta.get_condition(client.get("deployments", "paused", "default")["status"],
                                        "Progressing")["reason"] == du.PAUSED, 30,
             what="the paused condition")
    assert {meta.name(p) for p in live(pods_of(client, "paused"))} == before
    assert len(client.list("replicasets", "default", label_selector="app=paused")["items"]) == 1
    k(lab, "rollout", "resume", "deployment/paused")
    rollout_status(lab, "paused")
    wait_settled(client, lab, "paused", 2)
    updated = {meta.name(p) for p in pods_of(client, "paused")}
    assert not before & updated
    k(lab, "rollout", "restart", "deployment/paused")
    rollout_status(lab, "paused")
    wait_settled(client, lab, "paused", 2)
    assert not updated & {meta.name(p) for p in pods_of(client, "paused")}
    restarted = client.get("deployments", "paused", "default")["spec"]["template"]["metadata"]
    assert "kubectl.kubernetes.io/restartedAt" in restarted["annotations"]
    assert len(client.list("replicasets", "default", label_selector="app=paused")["items"]) == 3
    delete(lab, client, "paused")


def test_a_deleted_pod_is_replaced(client, lab):
    apply(lab, "heal", 3)
    rollout_status(lab, "heal")
    victim = meta.name(pods_of(client, "heal")[0])
    k(lab, "delete", "pod", victim)
    wait_settled(client, lab, "heal", 3)
    assert victim not in {meta.name(p) for p in pods_of(client, "heal")}
    delete(lab, client, "heal")


def test_kubectl_delete_deploy_removes_replicasets_pods_and_containers(client, lab):
    apply(lab, "gone", 3)
    rollout_status(lab, "gone")
    k(lab, "set", "image", "deployment/gone", "echo=kfs/echo:2")
    rollout_status(lab, "gone")
    assert len(client.list("replicasets", "default", label_selector="app=gone")["items"]) == 2
    k(lab, "delete", "deployment", "gone")
    wait_for(lambda: not client.list("replicasets", "default", label_selector="app=gone")["items"]
             and not pods_of(client, "gone") and not sandboxes(lab, "gone-"), 90,
             what="the ReplicaSets, pods and containers of gone to go")


def test_foreground_deletion_removes_the_deployment_last(client, lab):
    apply(lab, "fg", 2)
    rollout_status(lab, "fg")
    k(lab, "delete", "deployment", "fg", "--cascade=foreground", timeout=150)
    # kubectl returned once the Deployment was gone: its dependents went before it
    assert not client.list("replicasets", "default", label_selector="app=fg")["items"]
    assert not pods_of(client, "fg")


def test_orphan_deletion_keeps_the_replicaset_and_its_pods(client, lab):
    apply(lab, "orphans", 2)
    rollout_status(lab, "orphans")
    k(lab, "delete", "deployment", "orphans", "--cascade=orphan")
    [rs] = client.list("replicasets", "default", label_selector="app=orphans")["items"]
    wait_for(lambda: not client.get("replicasets", meta.name(rs), "default")["metadata"].get(
        "ownerReferences"), 30, what="the ReplicaSet to lose its owner reference")
    assert len(running(pods_of(client, "orphans"))) == 2
    k(lab, "delete", "replicaset", meta.name(rs))
    wait_for(lambda: not pods_of(client, "orphans") and not sandboxes(lab, "orphans-"), 90,
             what="the orphaned pods to go with their ReplicaSet")
