"""Pod manifests: decoding, the errors a learner sees, defaults, static pod names and UIDs."""
import pytest

from kfs.kubelet import manifest
from kfs.kubelet.manifest import ManifestError

GOOD = """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - {name: app, image: kfs/busybox:1}
"""


def test_a_yaml_pod_decodes_to_one_pod():
    (pod,) = manifest.decode_pods(GOOD)
    assert pod["spec"]["containers"][0]["image"] == "kfs/busybox:1"


def test_json_and_pod_lists_decode_too():
    text = ('{"apiVersion": "v1", "kind": "PodList", "items": ['
            '{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"},'
            ' "spec": {"containers": [{"name": "c", "image": "i:1"}]}},'
            '{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "b"},'
            ' "spec": {"containers": [{"name": "c", "image": "i:1"}]}}]}')
    assert [p["metadata"]["name"] for p in manifest.decode_pods(text)] == ["a", "b"]


@pytest.mark.parametrize("text,expected", [
    ("foo: [", "invalid YAML"),
    (GOOD.replace("image: kfs/busybox:1", "imagee: kfs/busybox:1"),
     'unknown field "spec.containers[0].imagee"'),
    (GOOD.replace("{name: app, image: kfs/busybox:1}", "{name: app}"),
     "spec.containers[0].image: Required value"),
    (GOOD.replace("metadata: {name: web}", "metadata: {}"), "metadata.name: Required value"),
    (GOOD.replace("kind: Pod", "kind: Deployment"), "kind must be Pod"),
    (GOOD + "  restartPolicy: Sometimes\n", "spec.restartPolicy: Unsupported value"),
    ("", "empty manifest"),
])
def test_a_bad_manifest_is_rejected_with_a_message_naming_the_fault(text, expected):
    with pytest.raises(ManifestError, match=expected.replace("[", r"\[").replace("(", r"\(")):
        manifest.decode_pods(text, what="web.yaml")


def test_the_error_names_the_file():
    with pytest.raises(ManifestError, match="^/etc/m/web.yaml: "):
        manifest.decode_pods("foo: [", what="/etc/m/web.yaml")


def test_a_static_pod_is_named_after_its_node_and_bound_to_it():
    (pod,) = manifest.decode_pods(GOOD)
    static = manifest.static_pod(pod, "node1", "file", "/m/web.yaml")
    assert static["metadata"]["name"] == "web-node1"
    assert static["metadata"]["namespace"] == "default"
    assert static["spec"]["nodeName"] == "node1"
    assert static["metadata"]["annotations"][manifest.CONFIG_SOURCE] == "file"
    assert pod["metadata"]["name"] == "web", "the decoded pod is not modified"


def test_the_same_manifest_gives_the_same_uid_and_a_changed_one_a_new_uid():
    (pod,) = manifest.decode_pods(GOOD)
    a = manifest.static_pod(pod, "node1", "file", "/m/web.yaml")
    b = manifest.static_pod(pod, "node1", "file", "/m/web.yaml")
    pod["spec"]["containers"][0]["image"] = "kfs/echo:1"
    c = manifest.static_pod(pod, "node1", "file", "/m/web.yaml")
    assert a["metadata"]["uid"] == b["metadata"]["uid"] != c["metadata"]["uid"]


@pytest.mark.parametrize("image,policy", [
    ("kfs/busybox:1", "IfNotPresent"), ("busybox", "Always"), ("busybox:latest", "Always"),
    ("localhost:5000/busybox", "Always"), ("localhost:5000/busybox:2", "IfNotPresent"),
    ("busybox@sha256:abc", "IfNotPresent")])
def test_image_pull_policy_defaults_by_tag(image, policy):
    assert manifest.default_pull_policy(image) == policy


def test_defaults_fill_what_the_api_server_would():
    (pod,) = manifest.decode_pods(GOOD)
    pod["spec"]["containers"][0]["readinessProbe"] = {"tcpSocket": {"port": 80}}
    manifest.set_defaults(pod)
    assert pod["spec"]["restartPolicy"] == "Always"
    assert pod["spec"]["terminationGracePeriodSeconds"] == 30
    probe = pod["spec"]["containers"][0]["readinessProbe"]
    assert (probe["periodSeconds"], probe["failureThreshold"], probe["timeoutSeconds"]) == (10, 3, 1)
