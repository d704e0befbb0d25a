"""The three kubectls (1.32 on PATH, Debian's 1.20, the newest) against kfs apiserver, for
what depends on the client's version: ``rollout status``, ``auth can-i --list``, ``auth
whoami``, ``explain`` and client-side validation on ``apply``.

``kubectl get pods -w`` of every version lists (``?limit=500``) and then watches from the
list's resourceVersion (test_kubectl.py runs it with all three). ``kubectl rollout status``
lists and watches through a reflector: 1.32 and 1.20 list
(``?fieldSelector=metadata.name%3Dd&limit=500&resourceVersion=0``) then watch with
``allowWatchBookmarks=true``; 1.37 (client-go's WatchListClient on) sends one request,
``?allowWatchBookmarks=true&fieldSelector=metadata.name%3Dd&resourceVersionMatch=NotOlderThan
&sendInitialEvents=true&timeoutSeconds=...&watch=true``, and waits for the bookmark that
ends the initial events (KEP-3157; test_registry.py tests the watch list over HTTP).

What each sends: ``auth can-i --list`` POSTs a SelfSubjectRulesReview for the namespace
(1.20 as JSON, 1.32 and 1.37 as protobuf); ``auth whoami`` (1.32 and 1.37; 1.20 has no such
command, it came in 1.26) POSTs a SelfSubjectReview to authentication.k8s.io/v1 (and would
try v1beta1, v1alpha1 on a 404).
"""
import re
import threading

import pytest

from kfs import versions
from kfs.util import wait_for

WHOAMI_CLIENTS = {"kubectl-1.32": None,
                  f"kubectl-{versions.KUBECTL_NEWEST}": versions.KUBECTL_NEWEST}


def rows(out):
    """kubectl's table as lists of cells (columns are two spaces or more apart)."""
    return [re.split(r"\s{2,}", line.strip()) for line in out.splitlines() if line.strip()]


# -- rollout status ---------------------------------------------------------------------------

def complete(apps, ns, name):
    """Write what the deployment controller would once the rollout is done."""
    d = apps.read_namespaced_deployment(name, ns)
    apps.patch_namespaced_deployment_status(name, ns, {"status": {
        "observedGeneration": d.metadata.generation, "replicas": 1, "updatedReplicas": 1,
        "readyReplicas": 1, "availableReplicas": 1}})


def test_rollout_status_returns_once_the_rollout_is_complete(any_kubectl, ns, apps):
    any_kubectl("create", "deployment", "d", "-n", ns, "--image=kfs/echo:1")
    proc = any_kubectl.popen("rollout", "status", "deployment/d", "-n", ns, "--timeout=60s")
    try:
        threading.Timer(1.0, complete, (apps, ns, "d")).start()
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, out
    assert 'deployment "d" successfully rolled out' in out


# -- auth ---------------------------------------------------------------------------------------

def test_can_i_list_prints_the_admins_rules_as_upstream_does(any_kubectl):
    table = rows(any_kubectl("auth", "can-i", "--list"))
    assert table[0] == ["Resources", "Non-Resource URLs", "Resource Names", "Verbs"]
    assert ["*.*", "[]", "[]", "[*]"] in table
    assert ["[*]", "[]", "[*]"] in table   # the non-resource rule: no Resources cell
    assert ["selfsubjectrulesreviews.authorization.k8s.io", "[]", "[]", "[create]"] in table
    assert ["[/version]", "[]", "[get]"] in table


def test_can_i_list_shows_a_users_role_in_that_namespace_only(any_kubectl, ns):
    any_kubectl("create", "role", "reader", "-n", ns, "--verb=get,list", "--resource=pods")
    any_kubectl("create", "rolebinding", "alice-reads", "-n", ns, "--role=reader",
                "--user=alice")
    alice = any_kubectl.as_user("alice")
    wait_for(lambda: ["pods", "[]", "[]", "[get list]"] in rows(
        alice("auth", "can-i", "--list", "-n", ns)), 10, what="alice's role in the review")
    assert ["*.*", "[]", "[]", "[*]"] not in rows(alice("auth", "can-i", "--list", "-n", ns))
    assert "pods" not in [r[0] for r in rows(alice("auth", "can-i", "--list", "-n", "default"))]


@pytest.mark.parametrize("version", list(WHOAMI_CLIENTS.values()), ids=list(WHOAMI_CLIENTS))
def test_whoami_prints_the_user_and_groups(kubectl_of, version):
    admin = rows(kubectl_of(version)("auth", "whoami"))
    assert admin[0] == ["ATTRIBUTE", "VALUE"]
    assert ["Username", "kubernetes-admin"] in admin
    assert ["Groups", "[system:masters system:authenticated]"] in admin
    alice = rows(kubectl_of(version).as_user("alice")("auth", "whoami"))
    assert ["Username", "alice"] in alice and ["UID", "1001"] in alice
    assert ["Groups", "[dev system:authenticated]"] in alice


def test_whoami_as_another_user_names_the_impersonated_one(kubectl_of):
    out = rows(kubectl_of(None)("auth", "whoami", "--as", "bob", "--as-group", "dev"))
    assert ["Username", "bob"] in out and ["Groups", "[dev system:authenticated]"] in out


# -- explain --------------------------------------------------------------------------------

def test_explain_prints_a_fields_type_description_and_subfields(any_kubectl):
    """1.32 and 1.37 read /openapi/v3 (the apps/v1 document), 1.20 /openapi/v2 (protobuf)."""
    out = any_kubectl("explain", "deployment.spec.strategy")
    assert "KIND:" in out and "Deployment" in out
    assert "DeploymentStrategy describes how to replace existing pods with new ones." in out
    fields = dict(re.findall(r"^\s+(rollingUpdate|type)\t<(\w+)>", out, re.M))
    assert fields["type"] == "string"
    assert fields["rollingUpdate"] in ("RollingUpdateDeployment", "Object")  # 1.20: Object
    assert 'Type of deployment. Can be "Recreate" or "RollingUpdate".' in out


def test_explain_marks_required_fields_and_finds_core_kinds(any_kubectl):
    out = any_kubectl("explain", "pods.spec")
    assert re.search(r"^\s+containers\t<\[\]Container> -required-$|^\s+containers\t<\[\]Object> "
                     r"-required-$", out, re.M), out
    assert "restartPolicy" in out
    assert "Endpoints is a collection of endpoints" in any_kubectl("explain", "endpoints")


def test_explain_of_a_missing_field_says_so(any_kubectl):
    r = any_kubectl.run("explain", "deployment.spec.nosuchfield", check=False)
    assert r.returncode != 0 and "nosuchfield" in r.stderr


# -- apply with client-side validation ----------------------------------------------------------

def course_manifests():
    """What the course applies: the demo's and notebook 04's Deployment, notebook 03's
    Pod, the system tests' Deployments and Services, a pod as test_kubelet_api makes it,
    and a manifest kubectl itself generated (metadata.creationTimestamp: null)."""
    import json
    from pathlib import Path

    import yaml

    from tests.system.controllers_helpers import manifest
    root = Path(__file__).resolve().parents[2]
    return {
        "deploy.yaml": (root / "notebooks" / "manifests" / "deploy.yaml").read_text(),
        "03-huge": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: huge\n  labels: {notebook: "
                   "\"03\"}\nspec:\n  containers:\n  - name: app\n    image: kfs/echo:1\n    "
                   "resources:\n      requests: {cpu: \"1000\"}\n",
        "controllers": manifest("flow", 5, strategy={
            "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}}
        ).replace("namespace: default", "namespace: NS"),
        "service": "apiVersion: v1\nkind: Service\nmetadata: {name: flow, labels: {test: "
                   "controllers}}\nspec: {type: NodePort, selector: {app: flow}, ports: "
                   "[{name: http, port: 80, targetPort: http}]}\n",
        "kubelet-pod": json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "t"},
                                   "spec": {"nodeName": "node1", "terminationGracePeriodSeconds": 2,
                                            "containers": [{"name": "c", "image": "kfs/busybox:1",
                                                            "command": ["sh", "-c", "sleep 9"]}]}}),
        "generated": yaml.safe_dump({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"creationTimestamp": None, "labels": {"app": "gen"}, "name": "gen"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "gen"}},
                     "strategy": {}, "template": {
                         "metadata": {"creationTimestamp": None, "labels": {"app": "gen"}},
                         "spec": {"containers": [{"image": "kfs/echo:1", "name": "echo",
                                                  "resources": {}}]}}},
            "status": {}}),
    }


def test_every_manifest_the_course_applies_passes_client_side_validation(any_kubectl, ns):
    for name, text in course_manifests().items():
        out = any_kubectl("apply", "-n", ns, "-f", "-",  # validating: the default
                          input=text.replace("namespace: NS", f"namespace: {ns}"))
        assert re.search(r" (created|configured)$", out.strip()), (name, out)


def test_client_side_validation_names_the_unknown_field_and_its_type(any_kubectl, ns):
    bad = ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: bad}\nspec:\n  replica: 2\n"
           "  selector: {matchLabels: {app: bad}}\n  template:\n    metadata: {labels: {app: bad}}"
           "\n    spec:\n      containers: [{name: c, image: x, imagee: y}]\n")
    r = any_kubectl.run("apply", "-n", ns, "-f", "-", input=bad, check=False)
    assert r.returncode == 1
    assert 'unknown field "replica" in io.k8s.api.apps.v1.DeploymentSpec' in r.stderr
    assert 'unknown field "imagee" in io.k8s.api.core.v1.Container' in r.stderr
    assert "bad" not in any_kubectl("get", "deployments", "-n", ns, "-o", "name")


def test_reapply_merges_lists_by_the_keys_the_openapi_names(any_kubectl, ns, apps):
    """kubectl computes the strategic merge patch from /openapi/v2's patch extensions: a
    removed env var and a changed image, the other container and its port kept."""
    def deployment(image, env):
        return ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n"
                "  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: "
                "{app: web}}\n    spec:\n      containers:\n      - name: web\n"
                f"        image: {image}\n        ports: [{{containerPort: 8080}}]\n"
                f"        env: {env}\n      - name: side\n        image: kfs/busybox:1\n")
    any_kubectl("apply", "-n", ns, "-f", "-",
                input=deployment("kfs/echo:1", "[{name: A, value: a}, {name: B, value: b}]"))
    any_kubectl("apply", "-n", ns, "-f", "-",
                input=deployment("kfs/echo:2", "[{name: B, value: b}]"))
    web, side = apps.read_namespaced_deployment("web", ns).spec.template.spec.containers
    assert (web.image, [e.name for e in web.env], side.name) == ("kfs/echo:2", ["B"], "side")
    assert web.ports[0].container_port == 8080
