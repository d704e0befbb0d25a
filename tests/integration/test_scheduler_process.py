"""`kfs scheduler` as its own process against a real API server and etcd on loopback.

The scheduler runs with the kube-scheduler identity (so the bootstrap RBAC role is checked
too) and a scheduler name of its own, so it only touches this module's pods; the nodes are
Node objects without kubelets (what the scheduler sees of a node is only its object).
"""
import signal
import subprocess
import sys
import threading
import uuid

import pytest

from kfs import meta, pki
from kfs.client import Client
from kfs.util import wait_for

NAME = "integration-scheduler"


class SchedulerProcess:
    def __init__(self, cp, directory):
        self.kubeconfig = directory / "kube-scheduler.kubeconfig"
        pki.write_kubeconfig(self.kubeconfig, cp.server, cp.pki.ca, "system:kube-scheduler",
                             cp.pki.cert("kube-scheduler"), cp.pki.key("kube-scheduler"))
        self.log = directory / "scheduler.log"
        self.proc = None

    def start(self):
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "kfs.cli", "scheduler", "--kubeconfig", self.kubeconfig,
                 "--scheduler-name", NAME, "--pod-initial-backoff-seconds", "0.2"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        offset = self.log.stat().st_size
        wait_for(lambda: "started:" in self.log.read_text()[offset - 1 if offset else 0:]
                 or self.proc.poll() is not None, 30, what="the scheduler to start")
        assert self.proc.poll() is None, self.log.read_text()[-2000:]

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(15)


@pytest.fixture(scope="module")
def scheduler(cp, tmp_path_factory):
    s = SchedulerProcess(cp, tmp_path_factory.mktemp("scheduler"))
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def client(cp):
    return Client.from_kubeconfig(cp.kubeconfig())


@pytest.fixture
def ns(client):
    name = f"sched-{uuid.uuid4().hex[:6]}"
    client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


@pytest.fixture
def nodes(client):
    made = []

    def make(name, cpu="4", ready="True", taints=None):
        client.create({"apiVersion": "v1", "kind": "Node",
                       "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
                       "spec": {"taints": taints} if taints else {},
                       "status": {"allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "110"},
                                  "capacity": {"cpu": cpu, "memory": "8Gi", "pods": "110"},
                                  "conditions": [{"type": "Ready", "status": ready}]}})
        made.append(name)
        return name
    yield make
    for name in made:
        client.delete("nodes", name)


def pod(name, cpu="100m", **spec):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"schedulerName": NAME, **spec,
                     "containers": [{"name": "app", "image": "kfs/echo:1",
                                     "resources": {"requests": {"cpu": cpu}}}]}}


def node_of(client, ns, name):
    return client.get("pods", name, ns)["spec"].get("nodeName")


def events(client, ns, name, reason):
    return [e for e in client.list("events", ns)["items"]
            if e["involvedObject"]["name"] == name and e["reason"] == reason]


def test_pods_are_bound_spread_and_announced(scheduler, client, ns, nodes):
    names = [nodes(f"spread-{i}") for i in range(3)]
    for i in range(6):
        client.create(pod(f"p{i}"), namespace=ns)
    placed = [wait_for(lambda: node_of(client, ns, f"p{i}"), 20, what=f"p{i} bound")
              for i in range(6)]
    assert sorted(placed) == sorted(names * 2)  # least-allocated spreads them evenly
    [event] = wait_for(lambda: events(client, ns, "p0", "Scheduled"), 10, what="the event")
    assert event["message"] == f"Successfully assigned {ns}/p0 to {placed[0]}"
    assert event["source"]["component"] == NAME and event["type"] == "Normal"
    p0 = client.get("pods", "p0", ns)
    assert meta.condition_true(p0, "PodScheduled")


def test_an_unschedulable_pod_gets_upstreams_message_then_a_node(scheduler, client, ns, nodes,
                                                                  kubectl):
    nodes("small-1", cpu="1")
    nodes("gone-1", ready="Unknown")
    client.create(pod("big", cpu="2"), namespace=ns)
    expected = ("0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint "
                "{node.kubernetes.io/unreachable: }. preemption: 0/2 nodes are available: "
                "1 No preemption victims found for incoming pod, "
                "1 Preemption is not helpful for scheduling.")

    def refused():
        c = meta.get_condition(client.get("pods", "big", ns).get("status"), "PodScheduled")
        return c if c and c["status"] == "False" else None
    cond = wait_for(refused, 20, what="PodScheduled=False")
    assert (cond["reason"], cond["message"]) == ("Unschedulable", expected)
    [event] = events(client, ns, "big", "FailedScheduling")
    assert (event["type"], event["message"]) == ("Warning", expected)
    described = kubectl("describe", "pod", "big", "-n", ns)
    assert "Warning  FailedScheduling" in described and expected in described
    nodes("large-1", cpu="8")
    assert wait_for(lambda: node_of(client, ns, "big"), 20, what="big bound") == "large-1"


def test_sigkill_mid_burst_then_restart_binds_every_pod_once(scheduler, client, ns, nodes):
    for i in range(3):
        nodes(f"burst-{i}", cpu="64")
    names = [f"b{i:02d}" for i in range(30)]
    creator = threading.Thread(target=lambda: [client.create(pod(n), namespace=ns)
                                               for n in names])
    creator.start()

    def bound():
        return sum(1 for p in client.list("pods", ns)["items"] if p["spec"].get("nodeName"))
    wait_for(lambda: bound() >= 5, 30, what="a few pods bound")
    scheduler.stop(signal.SIGKILL)
    creator.join(60)
    scheduler.start()
    wait_for(lambda: bound() == 30, 60, what="all 30 pods bound")
    pods = client.list("pods", ns)["items"]
    assert sorted(meta.name(p) for p in pods) == names
    for n in names:
        assert len(events(client, ns, n, "Scheduled")) <= 1
    counts = {}
    for p in pods:
        counts[p["spec"]["nodeName"]] = counts.get(p["spec"]["nodeName"], 0) + 1
    assert sum(counts.values()) == 30 and len(counts) == 3
