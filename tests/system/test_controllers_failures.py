"""The cluster keeps itself true when things die: components killed with SIGKILL in the
middle of a scale from 0 to 20, and a node whose kubelet stops."""
import signal
import time

import pytest

from kfs import meta
from kfs.client import ApiError, Client
from kfs.controllers import nodelifecycle
from kfs.lab import supervisor
from kfs.lab.stages import kubelet as kubelet_stage
from kfs.util import wait_for
from tests.system.controllers_helpers import (apply, delete, k, live, pods_of, quiet,
                                              rollout_status, running, wait_settled)

GRACE, TOLERATION, MARGIN = 20, 20, 30  # the stage's flags; the margin: scheduling + start


@pytest.fixture(scope="module")
def client(lab):
    lab.up(stage="controller-manager", **quiet)
    c = Client.from_kubeconfig(lab.admin_kubeconfig)
    wait_for(lambda: ready_nodes(c) >= 2, 90, what="node1 and node2 Ready")
    return c


def ready_nodes(client):
    try:
        return sum(meta.condition_true(n, "Ready") for n in client.list("nodes")["items"])
    except ApiError:
        return 0


def count_pods(client, name):
    try:
        return len(pods_of(client, name))
    except ApiError:  # the API server may be the one we just killed
        return 0


@pytest.mark.parametrize("component", ["scheduler", "controller-manager", "apiserver"])
def test_sigkill_in_the_middle_of_a_scale_from_0_to_20_ends_with_exactly_20_pods(
        client, lab, component):
    name = f"burst-{component}"
    apply(lab, name, 0)
    rollout_status(lab, name)
    k(lab, "scale", f"deployment/{name}", "--replicas=20")
    wait_for(lambda: count_pods(client, name) >= 1, 60, interval=0.01,
             what="the first pods of the scale")
    daemon = lab.machine("cp").daemon(component, [])
    assert supervisor.kill(daemon, signal.SIGKILL), f"{component} was not running"
    if component != "apiserver":
        ps = pods_of(client, name)
        print(f"killed {component} with {len(ps)} pods, "
              f"{sum(bool(p['spec'].get('nodeName')) for p in ps)} bound, {len(running(ps))} ready")
    lab.up(stage="controller-manager", **quiet)   # the lab's repair: restarts what died
    wait_for(lambda: ready_nodes(client) >= 2, 90, what="the nodes Ready again")
    rollout_status(lab, name, timeout=300)
    wait_settled(client, lab, name, 20, timeout=300)
    delete(lab, client, name)


def test_a_stopped_nodes_pods_run_on_the_other_node_within_the_toleration(client, lab):
    name = "move"
    apply(lab, name, 4)
    rollout_status(lab, name)
    node2 = lab.machine("node2")
    if not any(p["spec"]["nodeName"] == "node2" for p in pods_of(client, name)):
        pytest.fail("no pod landed on node2: the scheduler should spread them")
    kubelet = kubelet_stage.daemon(lab, node2)
    stopped_at = time.monotonic()
    supervisor.stop(kubelet)
    try:
        def moved():
            pods = running(pods_of(client, name))
            return len(pods) == 4 and all(p["spec"]["nodeName"] == "node1" for p in pods)
        wait_for(moved, GRACE + TOLERATION + MARGIN, interval=0.5,
                 what="the 4 pods Running on node1")
        took = time.monotonic() - stopped_at
        n = client.get("nodes", "node2")
        assert meta.get_condition(n["status"], "Ready")["status"] == "Unknown"
        assert {(t["key"], t["effect"]) for t in n["spec"]["taints"]} >= {
            (nodelifecycle.UNREACHABLE, "NoExecute"), (nodelifecycle.UNREACHABLE, "NoSchedule")}
        # the lease was renewed up to 10 s before the stop: Unknown 10-20 s after it
        assert GRACE - 10 + TOLERATION - 2 <= took, f"moved after {took:.0f}s: too early"
        evicted = [p for p in pods_of(client, name) if p["spec"]["nodeName"] == "node2"]
        assert evicted and not live(evicted)  # Terminating until node2's kubelet returns
        tainted = next(meta.parse_time(t["timeAdded"]) for t in n["spec"]["taints"]
                       if t["effect"] == "NoExecute")
        for p in evicted:
            [e] = [e for e in client.list("events", "default")["items"]
                   if e["involvedObject"].get("uid") == p["metadata"]["uid"]
                   and e["reason"] == "TaintManagerEviction"]
            waited = (meta.parse_time(e["firstTimestamp"]) - tainted).total_seconds()
            assert TOLERATION - 1 <= waited <= TOLERATION + 6, f"evicted after {waited}s"
    finally:
        lab.up(stage="controller-manager", **quiet)   # node2's kubelet back
    wait_for(lambda: not client.get("nodes", "node2")["spec"].get("taints"), 60,
             what="node2's taints to be removed")
    assert meta.condition_true(client.get("nodes", "node2"), "Ready")
    wait_settled(client, lab, name, 4)   # node2's kubelet finished the evicted pods
    delete(lab, client, name)
