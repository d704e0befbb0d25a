"""The scheduler for real: the lab at stage `scheduler` (etcd, API server, kubelets on
node1 and node2, `kfs scheduler` on cp), driven through the API server and the real kubectl.
"""
import signal
import threading

import pytest

from kfs import meta
from kfs.lab import supervisor
from kfs.lab.stages import scheduler as scheduler_stage
from kfs.util import wait_for

LABEL = {"test": "scheduler"}
quiet = dict(progress=lambda msg: None)


@pytest.fixture(scope="module")
def cluster(lab):
    from kfs.client import Client
    since = meta.now()
    lab.up(stage="scheduler", scheduler_score_plugins=[], **quiet)
    client = Client.from_kubeconfig(lab.admin_kubeconfig)
    wait_for(lambda: fresh_ready_nodes(client, since) >= 2, 60,
             what="node1 and node2 Ready, as their kubelets report it now")
    yield client
    delete_test_pods(client)


@pytest.fixture
def client(cluster):
    yield cluster
    delete_test_pods(cluster)


def ready_nodes(client):
    return sum(meta.condition_true(n, "Ready") for n in client.list("nodes")["items"])


def fresh_ready_nodes(client, since):
    """Nodes whose kubelet posted Ready since `since` (an RFC 3339 time): a Node's status
    in etcd outlives its kubelet, and a Ready written by an earlier stage's kubelet says
    nothing about the node now (nor about what the scheduler will see of it)."""
    return sum(meta.condition_true(n, "Ready") and
               meta.get_condition(n["status"], "Ready").get("lastHeartbeatTime", "") >= since
               for n in client.list("nodes")["items"])


def delete_test_pods(client):
    for p in client.list("pods", "default", label_selector=LABEL)["items"]:
        client.delete("pods", meta.name(p), "default", grace_period_seconds=0)
    wait_for(lambda: not client.list("pods", "default", label_selector=LABEL)["items"], 60,
             what="the test pods to be gone")


def pod(name, cpu=None, node_selector=None, tolerations=None):
    spec = {"containers": [{"name": "app", "image": "kfs/echo:1"}],
            "terminationGracePeriodSeconds": 1}
    if cpu:
        spec["containers"][0]["resources"] = {"requests": {"cpu": cpu}}
    if node_selector:
        spec["nodeSelector"] = node_selector
    if tolerations:
        spec["tolerations"] = tolerations
    return {"apiVersion": "v1", "kind": "Pod", "spec": spec,
            "metadata": {"name": name, "namespace": "default", "labels": dict(LABEL)}}


def node_of(client, name):
    return client.get("pods", name, "default")["spec"].get("nodeName")


def wait_bound(client, name, timeout=30):
    return wait_for(lambda: node_of(client, name), timeout, what=f"pod {name} to be bound")


def events_for(client, name, reason):
    """Events about the pod called `name` now (not about an earlier pod of that name)."""
    uid = client.get("pods", name, "default")["metadata"]["uid"]
    return [e for e in client.list("events", "default")["items"]
            if e["involvedObject"].get("uid") == uid and e.get("reason") == reason]


def allocatable_milli_cpu(client, node):
    return round(meta.parse_quantity(client.get("nodes", node)["status"]["allocatable"]["cpu"])
                 * 1000)


def scheduler_daemon(lab):
    return scheduler_stage.daemon(lab)


def test_pods_are_bound_and_run_on_both_nodes(cluster, client, lab):
    names = [f"spread-{i}" for i in range(4)]
    for n in names:
        client.create(pod(n))
    for n in names:
        wait_bound(client, n)
    wait_for(lambda: all(client.get("pods", n, "default")["status"].get("phase") == "Running"
                         for n in names), 90, what="the pods to run")
    assert {node_of(client, n) for n in names} == {"node1", "node2"}
    for n in names:
        [event] = events_for(client, n, "Scheduled")
        assert event["message"] == f"Successfully assigned default/{n} to {node_of(client, n)}"
        assert event["source"]["component"] == "default-scheduler"
        machine = lab.machine(node_of(client, n))
        assert machine.docker().containers.list(
            filters={"label": f"io.kubernetes.pod.name={n}"}), f"no container for {n}"


def test_a_pod_too_big_stays_pending_with_upstreams_message(cluster, client):
    from kfs.kubectl import kubectl
    client.create(pod("huge", cpu="1000"))
    expected = ("0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are "
                "available: 2 No preemption victims found for incoming pod.")

    def condition():
        c = meta.get_condition(client.get("pods", "huge", "default").get("status"),
                               "PodScheduled")
        return c if c and c.get("status") == "False" else None
    cond = wait_for(condition, 30, what="PodScheduled=False on huge")
    assert (cond["reason"], cond["message"]) == ("Unschedulable", expected)
    assert [e["type"] for e in events_for(client, "huge", "FailedScheduling")] == ["Warning"]
    assert events_for(client, "huge", "FailedScheduling")[0]["message"] == expected
    described = kubectl("describe", "pod", "huge", show=False)
    assert "FailedScheduling" in described and "2 Insufficient cpu" in described
    assert node_of(client, "huge") is None


def test_a_pending_pod_is_scheduled_when_capacity_frees_up(cluster, client):
    share = f"{allocatable_milli_cpu(client, 'node1') * 6 // 10}m"  # 60%: two cannot fit
    on_node1 = {"kubernetes.io/hostname": "node1"}
    client.create(pod("first", cpu=share, node_selector=on_node1))
    assert wait_bound(client, "first") == "node1"
    client.create(pod("second", cpu=share, node_selector=on_node1))
    wait_for(lambda: events_for(client, "second", "FailedScheduling"), 30,
             what="second to be refused")
    message = events_for(client, "second", "FailedScheduling")[0]["message"]
    assert message.startswith("0/2 nodes are available: 1 Insufficient cpu, 1 node(s) didn't "
                              "match Pod's node affinity/selector.")
    client.delete("pods", "first", "default", grace_period_seconds=0)
    assert wait_bound(client, "second", 30) == "node1"


def test_a_pending_pod_is_scheduled_when_a_node_with_room_appears(cluster, client):
    client.create(pod("waits-for-a-node", cpu="500"))
    wait_for(lambda: events_for(client, "waits-for-a-node", "FailedScheduling"), 30,
             what="the pod to be refused")
    ghost = {"apiVersion": "v1", "kind": "Node",
             "metadata": {"name": "ghost", "labels": {"kubernetes.io/hostname": "ghost"}},
             "status": {"capacity": {"cpu": "1000", "memory": "1Ti", "pods": "110"},
                        "allocatable": {"cpu": "1000", "memory": "1Ti", "pods": "110"},
                        "conditions": [{"type": "Ready", "status": "True"}]}}
    created = client.create(ghost)
    try:
        if not created.get("status", {}).get("allocatable"):  # status is a subresource
            client.patch("nodes", "ghost", {"status": ghost["status"]}, subresource="status")
        assert wait_bound(client, "waits-for-a-node", 30) == "ghost"
    finally:
        client.delete("pods", "waits-for-a-node", "default", grace_period_seconds=0)
        client.delete("nodes", "ghost")


def test_taints_keep_pods_away_unless_tolerated(cluster, client):
    from kfs.kubectl import kubectl
    kubectl("taint", "nodes", "node1", "dedicated=db:NoSchedule", show=False)
    try:
        names = [f"plain-{i}" for i in range(3)]
        for n in names:
            client.create(pod(n))
        assert {wait_bound(client, n) for n in names} == {"node2"}
        client.create(pod("tolerant", node_selector={"kubernetes.io/hostname": "node1"},
                          tolerations=[{"key": "dedicated", "operator": "Equal", "value": "db",
                                        "effect": "NoSchedule"}]))
        assert wait_bound(client, "tolerant") == "node1"
        client.create(pod("intolerant", node_selector={"kubernetes.io/hostname": "node1"}))
        wait_for(lambda: events_for(client, "intolerant", "FailedScheduling"), 30,
                 what="the intolerant pod to be refused")
        assert events_for(client, "intolerant", "FailedScheduling")[0]["message"].startswith(
            "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
            "1 node(s) had untolerated taint {dedicated: db}.")
    finally:
        kubectl("taint", "nodes", "node1", "dedicated-", show=False)


def test_sigkill_mid_way_loses_and_duplicates_nothing(cluster, client, lab):
    d = scheduler_daemon(lab)
    names = [f"burst-{i:02d}" for i in range(20)]
    creator = threading.Thread(target=lambda: [client.create(pod(n)) for n in names])
    creator.start()
    wait_for(lambda: sum(1 for p in client.list("pods", "default", label_selector=LABEL)["items"]
                         if p["spec"].get("nodeName")) >= 3, 60, what="a few pods bound")
    killed = supervisor.kill(d, signal.SIGKILL)
    assert killed and supervisor.pid_of(d) is None
    creator.join(60)
    lab.up(stage="scheduler", **quiet)  # repairs: starts the scheduler again
    for n in names:
        wait_bound(client, n, 60)
    pods = client.list("pods", "default", label_selector=LABEL)["items"]
    assert sorted(meta.name(p) for p in pods) == names
    wait_for(lambda: all(p["status"].get("phase") == "Running" for p in
                         client.list("pods", "default", label_selector=LABEL)["items"]),
             120, what="all 20 pods running")
    for n in names:
        sandboxes = [c for m in lab.nodes for c in m.docker().containers.list(
            filters={"label": [f"io.kubernetes.pod.name={n}",
                               "io.kubernetes.container.name=POD"]})]
        assert len(sandboxes) == 1, f"{n}: {len(sandboxes)} sandboxes"
        assert len(events_for(client, n, "Scheduled")) <= 1  # bound once, announced once


def test_an_attendees_score_plugin_changes_where_pods_land(cluster, client, lab, tmp_path):
    plugin = tmp_path / "prefer_node1.py"
    plugin.write_text("def prefer_node1(pod, node_info):\n"
                      "    return 100 if node_info.name == 'node1' else 0\n")
    spec = f"{plugin}:prefer_node1:10"
    lab.up(stage="scheduler", scheduler_score_plugins=[spec], **quiet)
    try:
        assert f"--score-plugin {spec}" in scheduler_daemon(lab).command_line
        names = [f"pref-{i}" for i in range(4)]
        for n in names:
            client.create(pod(n))
        assert {wait_bound(client, n) for n in names} == {"node1"}
    finally:
        lab.up(stage="scheduler", scheduler_score_plugins=[], **quiet)
    assert "--score-plugin" not in scheduler_daemon(lab).command_line
