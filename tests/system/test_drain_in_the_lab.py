"""A node's maintenance for real: `kubectl cordon`, `drain` and `uncordon` on the lab at stage
`controller-manager`, with a Deployment protected by a PodDisruptionBudget. The evictions go
through the API server's pods/eviction (which asks the budget the disruption controller
keeps), the ReplicaSet controller replaces each evicted pod, the scheduler puts the
replacement on the other node, its kubelet makes it Ready, and only then may the next pod go.
"""
import subprocess

import pytest
import yaml

from kfs import meta, versions
from kfs.client import ApiError
from kfs.kubectl import binary, env
from kfs.util import wait_for
from tests.system.controllers_helpers import (ReadyWatch, apply, controller_manager_client,
                                              delete, k, pods_of, rollout_status, running,
                                              wait_settled)

REPLICAS, MIN_AVAILABLE = 4, 3   # one pod at a time may be down


@pytest.fixture(scope="module")
def client(lab):
    return controller_manager_client(lab)


def budget(name, **spec):
    return yaml.safe_dump({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                           "metadata": {"name": name, "namespace": "default",
                                        "labels": {"test": "controllers"}},
                           "spec": {"selector": {"matchLabels": {"app": name}}, **spec}})


def kubectl_run(lab, *argv, timeout=300, version=None):
    """kubectl with both its streams (drain reports its retries on stderr)."""
    return subprocess.run([binary(version), *argv], capture_output=True, text=True,
                          env=env(lab), timeout=timeout)


def unschedulable(client, node):
    return bool(client.get("nodes", node)["spec"].get("unschedulable"))


@pytest.fixture
def protected(client, lab):
    """A Deployment of 4 (spread over both nodes) with a budget of minAvailable 3."""
    apply(lab, "maint", REPLICAS)
    rollout_status(lab, "maint")
    wait_settled(client, lab, "maint", REPLICAS)
    k(lab, "apply", "-f", "-", input=budget("maint", minAvailable=MIN_AVAILABLE))

    def counted():
        status = client.get("poddisruptionbudgets", "maint", "default").get("status") or {}
        return status.get("observedGeneration") == 1 and status.get("disruptionsAllowed") == 1
    wait_for(counted, 30, what="the disruption controller to allow 1 disruption")
    yield "maint"
    k(lab, "uncordon", "node1")
    k(lab, "delete", "pdb", "maint", "--ignore-not-found")
    delete(lab, client, "maint")


@pytest.mark.parametrize("version", [None, versions.KUBECTL_NEWEST], ids=["1.32", "newest"])
def test_kubectl_drain_moves_the_nodes_pods_without_going_below_min_available_then_uncordon(
        client, lab, protected, version):
    before = {meta.name(p): p["spec"]["nodeName"] for p in running(pods_of(client, protected))}
    on_node1 = [name for name, node in before.items() if node == "node1"]
    assert len(on_node1) >= 2, f"the spread put {before}: drain would not need to wait"
    watch = ReadyWatch(client, protected).start()
    try:
        result = kubectl_run(lab, "drain", "node1", "--ignore-daemonsets", "--delete-emptydir-data",
                             "--timeout=240s", version=version)
        wait_settled(client, lab, protected, REPLICAS)
    finally:
        watch.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "node/node1 cordoned" in result.stdout and "node/node1 drained" in result.stdout
    for name in on_node1:
        assert f"pod/{name} evicted" in result.stdout
    # two pods to evict, one disruption allowed: one eviction waited for a replacement
    assert ("(will retry after 5s): Cannot evict pod as it would violate the pod's disruption "
            "budget.") in result.stderr
    assert watch.samples > 2 * len(on_node1)          # it did watch the pods move
    assert watch.minimum >= MIN_AVAILABLE
    after = {meta.name(p): p["spec"]["nodeName"] for p in pods_of(client, protected)}
    assert set(after.values()) == {"node2"} and not set(on_node1) & set(after)
    assert unschedulable(client, "node1")
    status = client.get("poddisruptionbudgets", protected, "default")["status"]
    assert (status["currentHealthy"], status["desiredHealthy"], status["disruptionsAllowed"]) == (
        REPLICAS, MIN_AVAILABLE, REPLICAS - MIN_AVAILABLE)

    out = k(lab, "uncordon", "node1")
    assert "node/node1 uncordoned" in out and not unschedulable(client, "node1")
    k(lab, "scale", f"deployment/{protected}", f"--replicas={REPLICAS + 2}")
    wait_settled(client, lab, protected, REPLICAS + 2)
    assert "node1" in {p["spec"]["nodeName"] for p in pods_of(client, protected)}  # usable again


def test_cordon_keeps_new_pods_off_the_node_and_an_eviction_the_budget_forbids_is_refused(
        client, lab, protected):
    out = k(lab, "cordon", "node1")
    assert "node/node1 cordoned" in out and unschedulable(client, "node1")
    assert "SchedulingDisabled" in k(lab, "get", "node", "node1")
    before = {meta.name(p) for p in pods_of(client, protected)}
    k(lab, "scale", f"deployment/{protected}", f"--replicas={REPLICAS + 2}")
    wait_settled(client, lab, protected, REPLICAS + 2)
    new = [p for p in pods_of(client, protected) if meta.name(p) not in before]
    assert len(new) == 2 and {p["spec"]["nodeName"] for p in new} == {"node2"}
    k(lab, "scale", f"deployment/{protected}", f"--replicas={REPLICAS}")
    wait_settled(client, lab, protected, REPLICAS)
    k(lab, "apply", "-f", "-", input=budget(protected, minAvailable=REPLICAS))

    def spent():
        status = client.get("poddisruptionbudgets", protected, "default")["status"]
        return status.get("observedGeneration") == 2 and status["disruptionsAllowed"] == 0
    wait_for(spent, 30, what="the budget to allow no disruption")
    victim = next(p for p in pods_of(client, protected) if p["spec"]["nodeName"] == "node1")
    with pytest.raises(ApiError) as e:
        client.request("POST", client.path("pods", "default", meta.name(victim), "eviction"),
                       body={"apiVersion": "policy/v1", "kind": "Eviction",
                             "metadata": {"name": meta.name(victim)}})
    assert e.value.code == 429
    assert meta.name(victim) in {meta.name(p) for p in running(pods_of(client, protected))}
