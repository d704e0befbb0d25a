"""The API server stage for real: etcd (1 and 3 members) and kfs apiserver on cp, the
kubelets registering through it, `kubectl logs` proxied to a kubelet, etcd reachable only
with a client certificate, and the cluster writing on after an etcd member dies."""
import json
import os
import subprocess

import pytest
import requests

from kfs import meta
from kfs.client import ApiError, Client
from kfs.lab import supervisor
from kfs.lab.stages import apiserver as stage
from kfs.util import wait_for

quiet = dict(progress=lambda msg: None)


def kubectl(lab, *args, check=True):
    env = dict(os.environ, KUBECONFIG=str(lab.admin_kubeconfig),
               KUBECACHEDIR=str(lab.dir / "kubectl-cache-tests"))
    r = subprocess.run(["kubectl", *args], capture_output=True, text=True, env=env, timeout=120)
    if check:
        assert r.returncode == 0, r.stderr
    return r


@pytest.fixture(scope="module")
def cluster(lab):
    lab.up(stage="apiserver", etcd_members=1, **quiet)
    client = Client.from_kubeconfig(lab.admin_kubeconfig)
    wait_for(lambda: sum(meta.condition_true(n, "Ready") for n in client.list("nodes")["items"])
             >= 2, 60, what="node1 and node2 registered and Ready")
    yield client


def test_the_apiserver_and_etcd_run_on_cp_with_upstreams_flags(lab, cluster):
    cmd = stage.apiserver_daemon(lab).cmdfile.read_text()
    assert supervisor.pid_of(stage.apiserver_daemon(lab))
    assert "--etcd-servers=https://127.0.0.1:2379" in cmd and "--secure-port=6443" in cmd
    assert supervisor.pid_of(stage.etcd_daemon(lab, lab.machine("cp")))


def test_etcd_refuses_clients_without_a_certificate_from_its_ca(lab, cluster):
    cp = lab.machine("cp")
    env = {**stage.etcdctl_env(lab), "ETCDCTL_CERT": str(lab.pki_dir / "admin.crt"),
           "ETCDCTL_KEY": str(lab.pki_dir / "admin.key")}
    r = cp.run(["etcdctl", "get", "/registry/", "--prefix", "--keys-only"], env=env,
               capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    ok = cp.run(["etcdctl", "get", "/registry/minions/", "--prefix", "--keys-only"],
                env=stage.etcdctl_env(lab), capture_output=True, text=True, timeout=30)
    assert "/registry/minions/node1" in ok.stdout


def test_kubectl_logs_streams_from_the_kubelet_of_the_pods_node(lab, cluster):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "talker"},
           "spec": {"nodeName": "node2", "terminationGracePeriodSeconds": 0, "containers": [{
               "name": "talk", "image": "kfs/busybox:1",
               "command": ["sh", "-c", "echo hello from talker; sleep 3600"]}]}}
    cluster.create(pod, "default")
    try:
        wait_for(lambda: "hello from talker" in kubectl(lab, "logs", "talker", check=False).stdout,
                 60, what="the container's log through the API server")
    finally:
        cluster.delete("pods", "talker", "default", grace_period_seconds=0)


def test_without_credentials_the_apiserver_answers_401(lab, cluster):
    r = requests.get(stage.server_url(lab) + "/api/v1/pods", verify=str(lab.pki_dir / "ca.crt"),
                     timeout=10)
    assert r.status_code == 401


def test_three_etcd_members_keep_serving_when_one_dies(lab, cluster):
    lab.up(stage="apiserver", etcd_members=3, **quiet)
    try:
        members = stage.etcd_machines(lab)
        assert [m.name for m in members] == ["cp", "node1", "node2"]
        client = Client.from_kubeconfig(lab.admin_kubeconfig)
        supervisor.kill(stage.etcd_daemon(lab, lab.machine("node1")))

        def write():
            try:
                client.create({"apiVersion": "v1", "kind": "Namespace",
                               "metadata": {"name": "after-a-member-died"}})
            except Exception as e:  # the apiserver may still be failing over
                return "AlreadyExists" in str(e)
            return True
        wait_for(write, 30, what="a write with one etcd member dead")
        out = lab.machine("cp").run(["etcdctl", "endpoint", "status", "-w", "json"],
                                    env=stage.etcdctl_env(lab, ",".join(
                                        f"https://{m.ip}:2379" for m in members if m.name != "node1")),
                                    capture_output=True, text=True, timeout=30).stdout
        assert len(json.loads(out)) == 2
    finally:
        lab.up(stage="apiserver", etcd_members=1, **quiet)


def test_changing_the_etcd_members_keeps_every_object_and_its_resource_version(lab, cluster):
    client = Client.from_kubeconfig(lab.admin_kubeconfig)
    name = "kept-across-members"
    try:
        client.delete("namespaces", name)
    except ApiError:
        pass
    wait_for(lambda: name not in {meta.name(n) for n in client.list("namespaces")["items"]},
             60, what=f"an earlier run's namespace {name} gone")
    made = client.create({"apiVersion": "v1", "kind": "Namespace",
                          "metadata": {"name": name, "labels": {"k": "v"}}})
    messages = []
    try:
        lab.up(stage="apiserver", etcd_members=3, progress=messages.append)
        assert any("restored from a snapshot" in m for m in messages), messages
        there = Client.from_kubeconfig(lab.admin_kubeconfig).get("namespaces", name)
        assert there["metadata"]["resourceVersion"] == made["metadata"]["resourceVersion"]
    finally:
        lab.up(stage="apiserver", etcd_members=1, **quiet)
    back = Client.from_kubeconfig(lab.admin_kubeconfig).get("namespaces", name)
    assert back["metadata"]["labels"]["k"] == "v"
    assert back["metadata"]["uid"] == made["metadata"]["uid"]
    client.delete("namespaces", name)
