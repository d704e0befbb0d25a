"""The real kubectl 1.32 against kfs apiserver: every command of issue 3's acceptance list."""
import json
import re
import stat
import threading

import pytest
import yaml

from kfs.util import wait_for

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: IMAGE
        ports: [{containerPort: 8080}]
        env: [{name: GREETING, value: hello}]
      - name: side
        image: kfs/busybox:1
        command: [sleep, "3600"]
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
"""


def manifest(tmp_path, image="kfs/echo:1"):
    path = tmp_path / "web.yaml"
    path.write_text(DEPLOYMENT.replace("IMAGE", image))
    return str(path)


def pod(name, node=None, labels=None):
    spec = {"containers": [{"name": "c", "image": "kfs/busybox:1"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels or {"app": "x"}}, "spec": spec}


def headers(out):
    """The header rows of kubectl's tables, as lists of column names."""
    lines = out.splitlines()
    return [re.split(r"\s{2,}", line.strip()) for i, line in enumerate(lines)
            if line.startswith("NAME") and (i == 0 or not lines[i - 1].strip())]


def test_api_resources_lists_the_kinds_with_their_short_names(kubectl):
    out = kubectl("api-resources")
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    for name, short in [("pods", "po"), ("deployments", "deploy"), ("replicasets", "rs"),
                        ("services", "svc"), ("endpoints", "ep"), ("nodes", "no"),
                        ("namespaces", "ns"), ("events", "ev")]:
        assert short in rows[name].split()
    assert "leases" in rows and "clusterrolebindings" in rows


def test_apply_creates_a_deployment_and_a_service_with_a_cluster_ip(kubectl, ns, tmp_path):
    out = kubectl("apply", "-n", ns, "-f", manifest(tmp_path))
    assert "deployment.apps/web created" in out and "service/web created" in out
    svc = json.loads(kubectl("get", "svc", "web", "-n", ns, "-o", "json"))
    assert svc["spec"]["clusterIP"].startswith("10.")
    assert 30000 <= svc["spec"]["ports"][0]["nodePort"] <= 32767


def test_reapply_with_a_changed_image_keeps_the_other_containers_and_fields(kubectl, ns,
                                                                           tmp_path):
    kubectl("apply", "-n", ns, "-f", manifest(tmp_path))
    kubectl("label", "deploy", "web", "-n", ns, "kept=yes")
    out = kubectl("apply", "-n", ns, "-f", manifest(tmp_path, image="kfs/echo:2"))
    assert "deployment.apps/web configured" in out
    d = json.loads(kubectl("get", "deploy", "web", "-n", ns, "-o", "json"))
    web, side = d["spec"]["template"]["spec"]["containers"]
    assert (web["name"], web["image"], side["name"]) == ("web", "kfs/echo:2", "side")
    assert web["env"] == [{"name": "GREETING", "value": "hello"}]
    assert web["ports"][0]["containerPort"] == 8080
    assert d["metadata"]["labels"]["kept"] == "yes"
    assert d["metadata"]["generation"] == 2  # a label is not a spec change


def test_apply_server_side_creates_then_updates(kubectl, ns, tmp_path):
    out = kubectl("apply", "--server-side", "-n", ns, "-f", manifest(tmp_path))
    assert "deployment.apps/web serverside-applied" in out
    kubectl("apply", "--server-side", "-n", ns, "-f", manifest(tmp_path, image="kfs/echo:3"))
    d = json.loads(kubectl("get", "deploy", "web", "-n", ns, "-o", "json"))
    assert [c["image"] for c in d["spec"]["template"]["spec"]["containers"]] == [
        "kfs/echo:3", "kfs/busybox:1"]


def test_get_prints_the_columns_kubectl_shows_and_more_with_wide(kubectl, ns, tmp_path, core):
    kubectl("apply", "-n", ns, "-f", manifest(tmp_path))
    core.create_namespaced_pod(ns, pod("p1"))
    out = kubectl("get", "pods,deploy,rs,svc,ep,nodes", "-n", ns)
    heads = headers(out)
    assert ["NAME", "READY", "STATUS", "RESTARTS", "AGE"] in heads
    assert ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"] in heads
    assert ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"] in heads
    assert "pod/p1" in out and "Pending" in out and "80:3" in out
    wide = headers(kubectl("get", "pods,deploy", "-n", ns, "-o", "wide"))
    assert ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE",
            "READINESS GATES"] in wide
    assert ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES",
            "SELECTOR"] in wide
    as_yaml = yaml.safe_load(kubectl("get", "deploy", "web", "-n", ns, "-o", "yaml"))
    assert as_yaml["kind"] == "Deployment" and as_yaml["spec"]["replicas"] == 2


def test_get_pods_watch_prints_changes_as_they_happen(any_kubectl, ns, core):
    core.create_namespaced_pod(ns, pod("watched"))
    proc = any_kubectl.popen("get", "pods", "-n", ns, "-w")
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")),
                              daemon=True)
    reader.start()
    try:
        wait_for(lambda: any("watched" in line for line in lines), 20, what="the first row")
        core.patch_namespaced_pod("watched", ns, {"metadata": {"labels": {"x": "1"}}})
        core.create_namespaced_pod(ns, pod("second"))
        wait_for(lambda: any(line.startswith("second") for line in lines), 20,
                 what="the new pod's row")
        assert sum(line.startswith("watched") for line in lines) >= 2
    finally:
        proc.kill()
        proc.wait()


def test_describe_pod_shows_its_events(kubectl, ns, core):
    p = core.create_namespaced_pod(ns, pod("described"))
    core.create_namespaced_event(ns, {
        "metadata": {"name": "described.1"}, "reason": "Scheduled", "type": "Normal",
        "message": "Successfully assigned to node1", "count": 1,
        "involvedObject": {"kind": "Pod", "name": "described", "namespace": ns,
                           "uid": p.metadata.uid, "apiVersion": "v1"},
        "source": {"component": "default-scheduler"}})
    out = kubectl("describe", "pod", "described", "-n", ns)
    assert "Events:" in out and "Successfully assigned to node1" in out


def test_scale_sets_replicas_through_the_scale_subresource(kubectl, ns, tmp_path):
    kubectl("apply", "-n", ns, "-f", manifest(tmp_path))
    assert "deployment.apps/web scaled" in kubectl("scale", "deploy/web", "-n", ns,
                                                   "--replicas=5")
    d = json.loads(kubectl("get", "deploy", "web", "-n", ns, "-o", "json"))
    assert d["spec"]["replicas"] == 5 and d["metadata"]["generation"] == 2


def test_label_and_annotate_change_the_metadata(kubectl, ns, tmp_path):
    kubectl("apply", "-n", ns, "-f", manifest(tmp_path))
    kubectl("label", "deploy", "web", "-n", ns, "tier=front")
    kubectl("annotate", "deploy", "web", "-n", ns, "owner=team-a")
    assert "tier=front" in kubectl("get", "deploy", "-n", ns, "--show-labels")
    d = json.loads(kubectl("get", "deploy", "web", "-n", ns, "-o", "json"))
    assert d["metadata"]["annotations"]["owner"] == "team-a"


def test_edit_through_kube_editor_updates_the_object(kubectl, ns, tmp_path, core):
    core.create_namespaced_pod(ns, pod("edited"))
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/app: x/app: edited/' \"$1\"\n")
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    out = kubectl.run("edit", "pod", "edited", "-n", ns, env={"KUBE_EDITOR": str(editor)}).stdout
    assert "pod/edited edited" in out
    assert core.read_namespaced_pod("edited", ns).metadata.labels == {"app": "edited"}


def test_delete_returns_once_a_gracefully_deleted_pod_is_gone(kubectl, ns, core):
    """A pod on a node is only marked; kubectl waits until the kubelet's final delete."""
    core.create_namespaced_pod(ns, pod("graceful", node="node1"))

    def kubelet():  # what the kubelet does: see the deletionTimestamp, then delete for good
        wait_for(lambda: core.read_namespaced_pod("graceful", ns).metadata.deletion_timestamp,
                 20, what="the deletionTimestamp")
        core.delete_namespaced_pod("graceful", ns, grace_period_seconds=0)
    t = threading.Thread(target=kubelet)
    t.start()
    out = kubectl("delete", "pod", "graceful", "-n", ns)
    t.join()
    assert 'pod "graceful" deleted' in out
    assert "graceful" not in kubectl("get", "pods", "-n", ns, "-o", "name")


def test_auth_can_i_answers_from_rbac(kubectl):
    assert kubectl("auth", "can-i", "create", "pods").strip() == "yes"
    node = kubectl.as_user("node1")
    assert node.run("auth", "can-i", "list", "pods", check=False).stdout.strip() == "yes"
    assert node.run("auth", "can-i", "create", "deployments",
                    check=False).stdout.strip() == "no"


def test_errors_print_as_error_from_server_lines(kubectl, ns):
    r = kubectl.run("get", "deploy", "missing", "-n", ns, check=False)
    assert r.returncode == 1
    assert 'Error from server (NotFound): deployments.apps "missing" not found' in r.stderr


def test_a_user_without_roles_gets_403_naming_user_verb_and_resource(kubectl, ns):
    r = kubectl.as_user("alice").run("get", "pods", "-n", ns, check=False)
    assert ('Error from server (Forbidden): pods is forbidden: User "alice" cannot list '
            f'resource "pods" in API group "" in the namespace "{ns}"') in r.stderr


def test_no_credentials_get_401(kubectl, cp, tmp_path):
    import requests
    r = requests.get(cp.server + "/api/v1/pods", verify=str(cp.pki.ca))
    assert r.status_code == 401 and r.json()["reason"] == "Unauthorized"
    bad = tmp_path / "bad.kubeconfig"
    config = yaml.safe_load(cp.kubeconfig("alice").read_text())
    config["users"][0]["user"]["token"] = "not-a-token"
    bad.write_text(yaml.safe_dump(config))
    r = kubectl.run("get", "pods", check=False, env={"KUBECONFIG": str(bad)})
    assert "Unauthorized" in r.stderr


@pytest.mark.parametrize("what", ["pods", "deployments"])
def test_kubectl_delete_of_an_immediately_deleted_object_returns(kubectl, ns, tmp_path, what):
    kubectl("apply", "-n", ns, "-f", manifest(tmp_path))
    if what == "pods":
        kubectl("run", "solo", "-n", ns, "--image=kfs/busybox:1")
    name = "solo" if what == "pods" else "web"
    out = kubectl("delete", what, name, "-n", ns, timeout=30)
    assert "deleted" in out
    assert name not in kubectl("get", what, "-n", ns, "-o", "name")


def test_kubectl_create_subcommands_send_protobuf_and_are_understood(kubectl, ns):
    """`kubectl create namespace|deployment|service|role|rolebinding` use typed clients,
    which POST protobuf."""
    other = f"{ns}-pb"
    assert f"namespace/{other} created" in kubectl("create", "namespace", other)
    try:
        kubectl("create", "deployment", "web", "-n", other, "--image=kfs/echo:1",
                "--replicas=3", "--port=8080")
        kubectl("create", "service", "nodeport", "web", "-n", other, "--tcp=80:8080")
        kubectl("create", "role", "reader", "-n", other, "--verb=get,list", "--resource=pods")
        kubectl("create", "rolebinding", "alice-reads", "-n", other, "--role=reader",
                "--user=alice")
        d = json.loads(kubectl("get", "deploy", "web", "-n", other, "-o", "json"))
        assert d["spec"]["replicas"] == 3
        assert d["spec"]["template"]["spec"]["containers"][0]["ports"] == [
            {"containerPort": 8080, "protocol": "TCP"}]
        svc = json.loads(kubectl("get", "svc", "web", "-n", other, "-o", "json"))
        assert svc["spec"]["ports"][0]["targetPort"] == 8080
        alice = kubectl.as_user("alice")
        wait_for(lambda: alice.run("get", "pods", "-n", other, check=False).returncode == 0,
                 10, what="alice's new role to take effect")
    finally:
        kubectl("delete", "namespace", other, timeout=60)


def test_impersonation_lets_the_admin_act_as_another_user(kubectl, ns):
    assert kubectl("auth", "can-i", "list", "pods", "-n", ns, "--as", "alice",
                   check=False).strip() == "no"
    r = kubectl.as_user("alice").run("get", "pods", "--as", "bob", check=False)
    assert 'users "bob" is forbidden: User "alice" cannot impersonate resource "users"' in r.stderr
