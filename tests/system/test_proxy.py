"""kube-proxy for real: the lab at stage `proxy` (`kfs proxy` on cp, node1 and node2, each
writing its own machine's iptables), Services made with the real kubectl, requests sent
from the host, from node1's network namespace and from inside a pod (through that
machine's Docker: `docker exec`), and the rules read back with the real `iptables-save`.

One Deployment of 4 `kfs/echo:1` pods pinned to node1 serves every test; each test makes
Services of its own. Every loop is bounded in count and in time.
"""
import signal
import socket
import threading
import time

import pytest
import requests
import yaml

from kfs import meta
from kfs.client import ApiError, Client
from kfs.kubectl import kubectl
from kfs.lab import supervisor
from kfs.lab.stages import proxy as proxy_stage
from kfs.proxy import rules
from kfs.proxy.main import STARTED
from kfs.util import wait_for

quiet = dict(progress=lambda msg: None)
APP = "proxytest"
REPLICAS = 4


def k(lab, *argv, **kwargs):
    return kubectl(*argv, lab=lab, show=False, **kwargs)


def deployment(replicas):
    labels = {"app": APP}
    return yaml.safe_dump({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": APP, "namespace": "default", "labels": labels},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": {
                     "nodeSelector": {"kubernetes.io/hostname": "node1"},
                     "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "echo", "image": "kfs/echo:1",
                                     "ports": [{"containerPort": 8080, "name": "http"}],
                                     "readinessProbe": {"httpGet": {"path": "/", "port": 8080},
                                                        "periodSeconds": 1}}]}}}})


def service(name, **spec):
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
        "spec": {"selector": {"app": APP}, "ports": [{"name": "http", "port": 80,
                                                      "targetPort": "http"}], **spec}})


def ready_pods(client):
    return [p for p in client.list("pods", "default", label_selector=f"app={APP}")["items"]
            if not p["metadata"].get("deletionTimestamp") and meta.condition_true(p, "Ready")]


@pytest.fixture(scope="module")
def client(lab):
    lab.up(stage="proxy", **quiet)
    c = Client.from_kubeconfig(lab.admin_kubeconfig)
    wait_for(lambda: sum(meta.condition_true(n, "Ready") for n in c.list("nodes")["items"]) >= 2,
             90, what="node1 and node2 Ready")
    k(lab, "apply", "-f", "-", input=deployment(REPLICAS))
    k(lab, "rollout", "status", f"deployment/{APP}", "--timeout=120s", timeout=150)
    yield c
    k(lab, "delete", "deployment", APP, "--ignore-not-found", "--wait=true", timeout=120)


def make_service(lab, client, name, **spec):
    """`kubectl apply` a Service over the pods; returns it, deleted at the end of the test."""
    k(lab, "apply", "-f", "-", input=service(name, **spec))
    return client.get("services", name, "default")


@pytest.fixture
def services(lab, client):
    made = []

    def make(name, **spec):
        made.append(name)
        return make_service(lab, client, name, **spec)
    yield make
    for name in made:
        k(lab, "delete", "service", name, "--ignore-not-found")


# -- clients --------------------------------------------------------------------------------------

def parse(reply):
    """``hostname=web-1 ip=172.17.0.5 client=172.17.0.1`` -> a dict."""
    return dict(word.split("=", 1) for word in reply.split() if "=" in word)


def from_host(url, timeout=2.0):
    """One request on a new connection from the host; the reply's fields, or None."""
    try:
        r = requests.get(url, timeout=timeout, headers={"Connection": "close"})
        return parse(r.text) if r.ok else None
    except requests.RequestException:
        return None


def from_machine(machine, url):
    r = machine.run(["curl", "-s", "-m", "2", url], capture_output=True, text=True, timeout=10)
    return parse(r.stdout) if r.returncode == 0 else None


def pod_container(lab, pod):
    """The app container of `pod` in its machine's Docker (what `kubectl exec` would enter)."""
    docker = lab.machine(pod["spec"]["nodeName"]).docker()
    [c] = docker.containers.list(filters={"label": [
        f"io.kubernetes.pod.name={meta.name(pod)}", "io.kubernetes.container.name=echo"]})
    return c


def from_pod(container, url):
    code, out = container.exec_run(["timeout", "2", "wget", "-qO-", url])
    return parse(out.decode()) if code == 0 else None


def answers(get, url, n):
    return [get(url) for _ in range(n)]


def hostnames(replies):
    return {r["hostname"] for r in replies if r}


def node_port(svc, machine):
    return f"http://{machine.ip}:{svc['spec']['ports'][0]['nodePort']}/"


def cluster_ip(svc):
    return f"http://{svc['spec']['clusterIP']}/"


def wait_answered_by(get, url, names, timeout=30, per_round=12):
    """Requests in rounds until the set of pods that answered is `names` (bounded)."""
    seen = set()

    def all_seen():
        seen.update(hostnames(answers(get, url, per_round)))
        return seen >= names
    wait_for(all_seen, timeout, interval=0.2, what=f"answers from {sorted(names)} at {url}")
    return seen


def nat(machine):
    return machine.run(["iptables-save", "-t", "nat"], capture_output=True, text=True,
                       check=True, timeout=10).stdout


def svc_chain(svc):
    return rules.service_port_policy_cluster_chain(f"default/{meta.name(svc)}:http", "tcp")


# -- the tests ----------------------------------------------------------------------------------

def test_a_node_port_over_4_pods_on_node1_is_answered_by_all_4_from_the_host(lab, client,
                                                                             services):
    svc = services("np", type="NodePort")
    names = {meta.name(p) for p in ready_pods(client)}
    assert len(names) == REPLICAS
    seen = wait_answered_by(from_host, node_port(svc, lab.machine("node1")), names)
    assert seen == names
    assert svc["spec"]["ports"][0]["nodePort"] in range(30000, 32768)
    out = k(lab, "get", "svc", "np")
    assert f"80:{svc['spec']['ports'][0]['nodePort']}/TCP" in out and "<none>" in out


def test_the_cluster_ip_answers_from_node1s_namespace_and_from_a_pod_even_the_pod_itself(
        lab, client, services):
    svc = services("cip")
    names = {meta.name(p) for p in ready_pods(client)}
    assert wait_answered_by(lambda url: from_machine(lab.machine("node1"), url), cluster_ip(svc),
                            names) == names
    pod = ready_pods(client)[0]
    container = pod_container(lab, pod)
    replies = []
    for _ in range(60):   # until the pod reached itself (hairpin), each request answered
        replies.append(from_pod(container, cluster_ip(svc)))
        if replies[-1] is None or replies[-1]["hostname"] == meta.name(pod):
            break
    assert None not in replies, f"{replies.count(None)} of {len(replies)} requests failed"
    assert replies[-1]["hostname"] == meta.name(pod)


def test_scaling_to_1_makes_every_answer_come_from_that_pod_within_5_s(lab, client, services):
    svc = services("scale", type="NodePort")
    url = node_port(svc, lab.machine("node1"))
    wait_answered_by(from_host, url, {meta.name(p) for p in ready_pods(client)})
    try:
        k(lab, "scale", f"deployment/{APP}", "--replicas=1")
        scaled = time.monotonic()
        wait_for(lambda: len(hostnames(answers(from_host, url, 10))) == 1, 5, interval=0.1,
                 what="every answer from one pod")
        took = time.monotonic() - scaled
        [left] = wait_for(lambda: len(ready_pods(client)) == 1 and ready_pods(client), 30,
                          what="one pod left")
        assert hostnames(answers(from_host, url, 20)) == {meta.name(left)}
        assert took <= 5
    finally:
        k(lab, "scale", f"deployment/{APP}", f"--replicas={REPLICAS}")
        k(lab, "rollout", "status", f"deployment/{APP}", "--timeout=120s", timeout=150)


def test_a_service_without_ready_endpoints_refuses_connections_at_once(lab, client, services):
    svc = services("nothing", type="NodePort", selector={"app": "nothing"})
    node1 = lab.machine("node1")
    wait_for(lambda: "default/nothing:http has no endpoints" in node1.run(
        ["iptables-save", "-t", "filter"], capture_output=True, text=True).stdout, 15,
        what="the REJECT rule on node1")
    port = svc["spec"]["ports"][0]["nodePort"]
    started = time.monotonic()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((node1.ip, port), timeout=5).close()
    assert time.monotonic() - started < 1
    started = time.monotonic()
    r = node1.run(["curl", "-s", "-m", "5", cluster_ip(svc)], capture_output=True, timeout=10)
    assert r.returncode == 7          # curl: failed to connect (refused), not 28 (timed out)
    assert time.monotonic() - started < 2


def test_deleting_a_service_removes_its_chains_on_every_machine(lab, client, services):
    svc = services("gone", type="NodePort")
    chain = svc_chain(svc)
    machines = proxy_stage.machines(lab)
    wait_for(lambda: all(f":{chain} " in nat(m) for m in machines), 15,
             what=f"{chain} on every machine")
    k(lab, "delete", "service", "gone")
    wait_for(lambda: not any("default/gone:" in nat(m) or chain in nat(m) for m in machines), 15,
             what="no rule or chain of default/gone on any machine")
    for m in machines:
        assert not [line for line in nat(m).splitlines()
                    if "default/gone" in line or chain in line]


def test_session_affinity_client_ip_sends_one_client_to_one_pod(lab, client, services):
    svc = services("sticky", type="NodePort", sessionAffinity="ClientIP")
    url = node_port(svc, lab.machine("node1"))
    wait_for(lambda: from_host(url), 15, what=f"an answer at {url}")
    assert "-m recent --rcheck --seconds 10800 --reap" in nat(lab.machine("node1"))
    assert len(hostnames(answers(from_host, url, 30))) == 1
    node1 = lab.machine("node1")          # another client, pinned as well
    assert len(hostnames(answers(lambda u: from_machine(node1, u), cluster_ip(svc), 15))) == 1


def test_external_traffic_policy_local_keeps_the_client_address_and_health_checks_say_where(
        lab, client, services):
    svc = services("local", type="LoadBalancer", externalTrafficPolicy="Local")
    node1, node2 = lab.machine("node1"), lab.machine("node2")
    url = node_port(svc, node1)
    reply = wait_for(lambda: from_host(url), 15, what=f"an answer at {url}")
    assert reply["client"] == lab.host_ip          # not masqueraded: the host's own address
    hc = svc["spec"]["healthCheckNodePort"]

    def health(machine):   # (None, None) until that machine's proxy opened the port
        try:
            r = requests.get(f"http://{machine.ip}:{hc}/healthz", timeout=2)
            return r.status_code, r.json()
        except (requests.RequestException, ValueError):
            return None, None
    code1, body1 = wait_for(lambda: health(node1)[0] == 200 and health(node1), 15,
                            what="node1's health check 200")
    assert body1["localEndpoints"] == REPLICAS and body1["serviceProxyHealthy"] is True
    assert body1["service"] == {"namespace": "default", "name": "local"}
    code2, body2 = wait_for(lambda: health(node2)[0] and health(node2), 15,
                            what="node2's health check port")
    assert (code2, body2["localEndpoints"]) == (503, 0)
    assert "<pending>" in k(lab, "get", "svc", "local")


def test_sigkill_of_a_proxy_keeps_the_rules_and_its_restart_drops_no_request(lab, client,
                                                                           services):
    svc = services("steady", type="NodePort")
    node1 = lab.machine("node1")
    url = node_port(svc, node1)
    wait_for(lambda: from_host(url), 15, what=f"an answer at {url}")
    d = proxy_stage.daemon(lab, node1)
    assert supervisor.kill(d, signal.SIGKILL)
    assert supervisor.pid_of(d) is None
    assert all(answers(from_host, url, 10)), "a Service failed with its proxy dead"
    results, stop = [], threading.Event()

    def loop():   # at most 500 requests, at most 60 s, until told to stop
        deadline = time.monotonic() + 60
        while not stop.is_set() and len(results) < 500 and time.monotonic() < deadline:
            results.append(from_host(url))
    t = threading.Thread(target=loop)
    t.start()
    try:
        pid, started = supervisor.ensure_started(proxy_stage.daemon(lab, node1, "proxy"), STARTED)
        assert started and pid
        before = len(results)
        assert before > 0        # requests were sent while the proxy was down and starting
        wait_for(lambda: len(results) >= before + 20, 30, what="20 requests after the restart")
    finally:
        stop.set()
        t.join(70)
    assert len(results) >= 20
    assert results.count(None) == 0, f"{results.count(None)} of {len(results)} requests failed"


def test_the_endpointslice_says_when_its_change_happened(lab, client, services):
    svc = services("trigger")

    def annotation():
        try:
            slices = client.list("endpointslices", "default",
                                 label_selector=f"kubernetes.io/service-name={meta.name(svc)}")
        except ApiError:
            return None
        return next((s["metadata"].get("annotations", {}).get(
            "endpoints.kubernetes.io/last-change-trigger-time") for s in slices["items"]), None)
    value = wait_for(annotation, 15, what="the trigger time annotation")
    assert meta.parse_time(value) <= meta.parse_time(meta.now())


def test_status_lists_a_proxy_per_machine_and_going_below_the_stage_removes_their_rules(
        lab, client):
    rows = {r["machine"]: r["daemons"] for r in lab.status()}
    assert all(rows[m.name].get("proxy") for m in proxy_stage.machines(lab))
    try:
        lab.up(stage="controller-manager", **quiet)
        for m in proxy_stage.machines(lab):
            assert supervisor.pid_of(proxy_stage.daemon(lab, m)) is None
            saved = m.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
            assert not [line for line in saved.splitlines() if "KUBE-SVC" in line
                        or "KUBE-SERVICES" in line or "KUBE-PROXY-CANARY" in line], m.name
            assert "DOCKER" in saved       # Docker's own rules stay
    finally:
        lab.up(stage="proxy", **quiet)
