"""Evictions and PodDisruptionBudgets against a real API server and etcd, with the disruption
controller as its own process (`kfs controller-manager --controllers disruption`, with the
controller manager's identity, so its RBAC is checked too), judged by the official Python
client and by the real `kubectl drain`.

There are no kubelets: a node is a Node object and a pod's "Ready" is a status the test
writes, as a kubelet would. Evicted pods of a node get only a deletionTimestamp (no kubelet
finishes them), except under `kubectl drain --grace-period=0`, which deletes them at once.
"""
import re
import signal
import subprocess
import sys
import threading
import uuid

import pytest

from kfs import meta, pki, versions
from kfs.client import ApiError, Client
from kfs.util import wait_for

TOO_MANY = "Cannot evict pod as it would violate the pod's disruption budget."


class ControllerManagerProcess:
    def __init__(self, cp, directory, controllers="disruption"):
        self.controllers = controllers
        self.kubeconfig = directory / "kube-controller-manager.kubeconfig"
        pki.write_kubeconfig(self.kubeconfig, cp.server, cp.pki.ca, "system:kube-controller-manager",
                             cp.pki.cert("kube-controller-manager"), cp.pki.key("kube-controller-manager"))
        self.log = directory / "controller-manager.log"
        self.proc = None

    def start(self):
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "kfs.cli", "controller-manager", "--kubeconfig", self.kubeconfig,
                 "--controllers", self.controllers], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_for(lambda: "controllers started:" in self.log.read_text() or self.proc.poll() is not None,
                 30, what="the controller manager to start")
        assert self.proc.poll() is None, self.log.read_text()[-2000:]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(15)


@pytest.fixture(scope="module")
def controller_manager(cp, tmp_path_factory):
    process = ControllerManagerProcess(cp, tmp_path_factory.mktemp("controller-manager"))
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def client(cp):
    return Client.from_kubeconfig(cp.kubeconfig())


@pytest.fixture
def node(client):
    made = []

    def make():
        name = f"drain-{uuid.uuid4().hex[:6]}"
        client.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
                       "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
        made.append(name)
        return name
    yield make
    for name in made:
        client.delete("nodes", name)


def ready_pod(client, ns, name, node, labels=None):
    """A pod bound to `node` whose (absent) kubelet reported it Running and Ready."""
    pod = client.create({"apiVersion": "v1", "kind": "Pod",
                         "metadata": {"name": name, "labels": labels or {"app": "web"}},
                         "spec": {"nodeName": node, "containers": [{"name": "c", "image": "kfs/echo:1"}]}},
                        namespace=ns)
    pod["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    return client.update_status(pod)


def budget(client, ns, **spec):
    client.create({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web"},
                   "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec}}, namespace=ns)
    return observed(client, ns, 1)


def observed(client, ns, generation):
    """The budget once the disruption controller has counted its pods for `generation`."""
    def counted():
        pdb = client.get("poddisruptionbudgets", "web", ns)
        return pdb if (pdb.get("status") or {}).get("observedGeneration") == generation else None
    return wait_for(counted, 30, what=f"the disruption controller to count generation {generation}")


def terminating(client, ns, name):
    return bool(client.get("pods", name, ns)["metadata"].get("deletionTimestamp"))


def test_an_eviction_the_budget_cannot_afford_is_429_and_one_it_can_spends_it(
        controller_manager, client, core, ns, node, kubectl):
    import kubernetes
    n = node()
    for i in range(3):
        ready_pod(client, ns, f"web-{i}", n)
    pdb = budget(client, ns, minAvailable=3)
    assert (pdb["status"]["currentHealthy"], pdb["status"]["disruptionsAllowed"]) == (3, 0)
    eviction = kubernetes.client.V1Eviction(metadata={"name": "web-0", "namespace": ns})
    with pytest.raises(kubernetes.client.ApiException) as e:
        core.create_namespaced_pod_eviction("web-0", ns, eviction)
    assert e.value.status == 429 and TOO_MANY in e.value.body
    assert "The disruption budget web needs 3 healthy pods and has 3 currently" in e.value.body
    assert not terminating(client, ns, "web-0")

    client.patch("poddisruptionbudgets", "web", {"spec": {"minAvailable": 2}}, ns)
    assert observed(client, ns, 2)["status"]["disruptionsAllowed"] == 1
    core.create_namespaced_pod_eviction("web-0", ns, eviction)
    assert terminating(client, ns, "web-0")
    pod = client.get("pods", "web-0", ns)
    assert meta.get_condition(pod["status"], "DisruptionTarget")["reason"] == "EvictionByEvictionAPI"
    assert client.get("poddisruptionbudgets", "web", ns)["status"]["disruptionsAllowed"] == 0
    wait_for(lambda: client.get("poddisruptionbudgets", "web", ns)["status"]["currentHealthy"] == 2, 30,
             what="the controller to count the evicted pod as down")
    with pytest.raises(kubernetes.client.ApiException) as e:
        core.create_namespaced_pod_eviction("web-1", ns, kubernetes.client.V1Eviction(
            metadata={"name": "web-1", "namespace": ns}))
    assert e.value.status == 429
    read = kubernetes.client.PolicyV1Api(core.api_client).read_namespaced_pod_disruption_budget("web", ns)
    assert read.status.current_healthy == 2 and read.status.conditions[0].reason == "InsufficientPods"
    out = kubectl("get", "pdb", "-n", ns)
    assert re.split(r"\s{2,}", out.splitlines()[0].strip()) == [
        "NAME", "MIN AVAILABLE", "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS", "AGE"]
    assert out.splitlines()[1].split()[:4] == ["web", "2", "N/A", "0"]


def test_a_policy_v1beta1_eviction_body_is_accepted_and_another_version_is_not(
        controller_manager, client, ns, node):
    n = node()
    ready_pod(client, ns, "old-client", n, labels={"app": "other"})
    path = client.path("pods", ns, "old-client", "eviction")
    body = {"apiVersion": "policy/v2", "kind": "Eviction", "metadata": {"name": "old-client"}}
    with pytest.raises(ApiError) as e:
        client.request("POST", path, body=body)
    assert e.value.code == 400
    answer = client.request("POST", path, body={**body, "apiVersion": "policy/v1beta1"})
    assert (answer["status"], answer["code"]) == ("Success", 201)
    assert terminating(client, ns, "old-client")


def test_evicting_needs_create_on_pods_eviction(controller_manager, kubectl, client, ns, node):
    ready_pod(client, ns, "guarded", node())
    with pytest.raises(ApiError) as e:
        Client.from_kubeconfig(kubectl.cp.kubeconfig("alice")).request(
            "POST", client.path("pods", ns, "guarded", "eviction"),
            body={"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "guarded"}})
    assert e.value.code == 403 and 'cannot create resource "pods/eviction"' in e.value.status["message"]


def requests_of(log):
    """(method, path) of every request kubectl -v=8 logged, in order."""
    return [(m, re.sub(r"^https://[^/]+", "", u)) for m, u in
            re.findall(r"round_trippers\.go:\d+\] (GET|POST|PATCH|PUT|DELETE) (\S+)", log)]


def test_kubectl_drain_evicts_within_the_budget_retrying_429s_until_replacements_are_ready(
        controller_manager, kubectl, client, ns, node):
    n, other = node(), node()
    for i in range(3):
        ready_pod(client, ns, f"web-{i}", n)
    budget(client, ns, minAvailable=2)
    replaced, stop = [], threading.Event()

    def replace_what_goes():  # what the ReplicaSet controller and the other kubelet would do,
        while not stop.wait(0.2):  # their replacement Ready a couple of seconds later
            on_node = [p for p in client.list("pods", ns)["items"] if p["spec"]["nodeName"] == n]
            if 3 - len(on_node) - len(replaced) > 0 and not stop.wait(2):
                replaced.append(ready_pod(client, ns, f"new-{len(replaced)}", other))
    helper = threading.Thread(target=replace_what_goes, daemon=True)
    helper.start()
    try:
        result = kubectl.run("drain", n, "--ignore-daemonsets", "--delete-emptydir-data", "--force",
                             "--grace-period=0", "--timeout=90s", "-v=8", timeout=120)
    finally:
        stop.set()
        helper.join(10)
    out = result.stdout + result.stderr
    assert f"node/{n} drained" in result.stdout
    assert 'evicting pods/"web-' in out and f'(will retry after 5s): {TOO_MANY}' in out
    assert [p for p in client.list("pods", ns)["items"] if p["spec"]["nodeName"] == n] == []
    assert len(replaced) >= 2   # the last pod goes once the second replacement is Ready
    seen = requests_of(out)
    assert ("GET", f"/api/v1/nodes/{n}") in seen
    assert ("PATCH", f"/api/v1/nodes/{n}") in seen                    # cordon: spec.unschedulable
    assert ("GET", f"/api/v1/pods?fieldSelector=spec.nodeName%3D{n}&limit=500") in seen
    assert ("GET", "/api/v1") in seen                                 # is pods/eviction policy/v1?
    evictions = [p for m, p in seen if m == "POST"]
    assert set(evictions) == {f"/api/v1/namespaces/{ns}/pods/web-{i}/eviction" for i in range(3)}
    assert len(evictions) > 3                                          # some were retried
    assert '"apiVersion":"policy/v1"' in out and '"deleteOptions":{"gracePeriodSeconds":0}' in out
    assert ("GET", f"/api/v1/namespaces/{ns}/pods/web-0") in seen      # waiting for it to go
    assert client.get("nodes", n)["spec"]["unschedulable"] is True
    kubectl("uncordon", n)
    assert not client.get("nodes", n)["spec"].get("unschedulable")


def test_kubectl_drain_stops_at_the_budget_and_says_which_pods_remain(controller_manager, kubectl, client,
                                                                      ns, node):
    n = node()
    for i in range(2):
        ready_pod(client, ns, f"web-{i}", n)
    budget(client, ns, minAvailable=2)
    result = kubectl.run("drain", n, "--ignore-daemonsets", "--force", "--grace-period=0",
                         "--timeout=7s", check=False, timeout=60)
    assert result.returncode != 0
    assert "global timeout reached: 7s" in result.stderr
    assert f"(will retry after 5s): {TOO_MANY}" in result.stderr
    assert sorted(meta.name(p) for p in client.list("pods", ns)["items"]) == ["web-0", "web-1"]


def test_debians_kubectl_1_20_drains_a_node_with_its_v1beta1_evictions(controller_manager,
                                                                      kubectl_of, client, ns,
                                                                      node):
    old = kubectl_of(versions.KUBECTL_OLDEST)
    n = node()
    for i in range(2):
        ready_pod(client, ns, f"web-{i}", n)
    result = old.run("drain", n, "--ignore-daemonsets", "--force", "--grace-period=0",
                     "--timeout=60s", "-v=8", timeout=90)
    out = result.stdout + result.stderr
    assert f"node/{n} evicted" in result.stdout, out[-2000:]   # 1.20's word for "drained"
    evictions = {p for m, p in requests_of(out) if m == "POST"}
    assert evictions == {f"/api/v1/namespaces/{ns}/pods/web-{i}/eviction" for i in range(2)}
    assert [p for p in client.list("pods", ns)["items"] if p["spec"]["nodeName"] == n] == []
    old("uncordon", n)
    assert not client.get("nodes", n)["spec"].get("unschedulable")


def test_api_resources_lists_pdb_in_policy_v1(kubectl):
    [row] = [line.split() for line in kubectl("api-resources", "--api-group=policy").splitlines()[1:]]
    assert row == ["poddisruptionbudgets", "pdb", "policy/v1", "true", "PodDisruptionBudget"]
