"""kubectl debug against kfs apiserver (no kubelet: the pod stays Pending, the ephemeral
container is only written): the pods/ephemeralcontainers PATCH each kubectl sends, what
it answers, and what it refuses."""
import json

from kfs import versions

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
       "spec": {"containers": [{"name": "app", "image": "kfs/busybox:1"}]}}


def make_pod(kubectl, ns):
    kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(POD))


def test_kubectl_debug_adds_an_ephemeral_container_through_the_subresource(any_kubectl, ns):
    make_pod(any_kubectl, ns)
    r = any_kubectl.run("debug", "-n", ns, "pod/p", "--image=kfs/busybox:1", "-c", "dbg",
                        "--target=app", "--", "sleep", "1", check=False)
    if any_kubectl.version == versions.KUBECTL_OLDEST:
        # 1.20 PUTs the EphemeralContainers kind of the alpha API (1.16-1.22), which the
        # subresource no longer takes (since 1.23 it is a Pod): a 400 naming both kinds
        assert r.returncode != 0, r.stderr
        assert "the kind in the data (EphemeralContainers) does not match the expected " \
               "kind (Pod)" in r.stderr, r.stderr
        return
    assert r.returncode == 0, r.stderr
    spec = json.loads(any_kubectl("get", "-n", ns, "pod/p", "-o", "json"))["spec"]
    (ec,) = spec["ephemeralContainers"]
    assert (ec["name"], ec["image"], ec["targetContainerName"], ec["command"]) == \
        ("dbg", "kfs/busybox:1", "app", ["sleep", "1"])


def test_a_second_debug_container_of_the_same_name_is_a_422(kubectl, ns):
    make_pod(kubectl, ns)
    kubectl("debug", "-n", ns, "pod/p", "--image=kfs/busybox:1", "-c", "dbg")
    r = kubectl.run("debug", "-n", ns, "pod/p", "--image=kfs/busybox:1", "-c", "app",
                    check=False)
    assert r.returncode != 0
    assert "spec.ephemeralContainers[1].name: Duplicate value" in r.stderr, r.stderr


def test_ephemeral_containers_may_not_be_added_by_updating_the_pod(kubectl, ns):
    make_pod(kubectl, ns)
    r = kubectl.run("patch", "-n", ns, "pod/p", "-p", json.dumps(
        {"spec": {"ephemeralContainers": [{"name": "x", "image": "kfs/busybox:1"}]}}),
        check=False)
    assert r.returncode != 0 and "pod updates may not change fields" in r.stderr, r.stderr
