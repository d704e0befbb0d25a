"""pods/ephemeralcontainers: only spec.ephemeralContainers changes, validated as upstream's
ValidatePodEphemeralContainersUpdate (kfs/apiserver/kinds/pod.py, validation/pods.py)."""

import copy

import pytest

from kfs.apiserver import errors as api_errors
from kfs.apiserver.kinds import lookup
from tests.unit.kind_objects import errors, pod, stored

KIND = lookup("v1", "Pod")


def debugger(**fields):
    return {"name": "debugger", "image": "kfs/busybox:1", "stdin": True, "tty": True, **fields}


def through_subresource(old, *ephemeral, body_spec=None):
    """The pod a write of `ephemeral` through pods/ephemeralcontainers stores."""
    body = copy.deepcopy(old)
    body["spec"] = body_spec or {**body["spec"], "ephemeralContainers": list(ephemeral)}
    return KIND.from_subresource("ephemeralcontainers", old, body)


def causes(old, *ephemeral):
    return errors(through_subresource(old, *ephemeral), old, "ephemeralcontainers")


def test_an_ephemeral_container_may_be_added_through_the_subresource():
    old = stored(pod())
    assert causes(old, debugger(targetContainerName="c")) == []


def test_the_subresource_changes_nothing_but_the_ephemeral_containers():
    old = stored(pod())
    spec = {"containers": [{"name": "c", "image": "other:2"}],
            "ephemeralContainers": [debugger()]}
    new = through_subresource(old, body_spec=spec)
    assert new["spec"]["containers"] == old["spec"]["containers"]
    assert new["spec"]["ephemeralContainers"] == [debugger()]


def test_ephemeral_containers_may_not_be_set_on_create():
    assert ("spec.ephemeralContainers", "FieldValueForbidden",
            "Forbidden: cannot be set on create") in errors(pod(ephemeralContainers=[debugger()]))


def test_ephemeral_containers_may_not_change_through_a_pod_update():
    old = stored(pod())
    new = copy.deepcopy(old)
    new["spec"]["ephemeralContainers"] = [debugger()]
    assert [f for f, _, _ in errors(new, old)] == ["spec"]


@pytest.mark.parametrize("extra, field, reason", [
    ({"name": "c"}, "spec.ephemeralContainers[0].name", "FieldValueDuplicate"),
    ({"targetContainerName": "nope"}, "spec.ephemeralContainers[0].targetContainerName",
     "FieldValueNotFound"),
    ({"ports": [{"containerPort": 80}]}, "spec.ephemeralContainers[0].ports", "FieldValueForbidden"),
    ({"readinessProbe": {"exec": {"command": ["true"]}}},
     "spec.ephemeralContainers[0].readinessProbe", "FieldValueForbidden"),
    ({"resources": {"limits": {"cpu": "1"}}}, "spec.ephemeralContainers[0].resources",
     "FieldValueForbidden"),
    ({"image": ""}, "spec.ephemeralContainers[0].image", "FieldValueRequired"),
])
def test_an_invalid_ephemeral_container_names_the_field_at_fault(extra, field, reason):
    assert (field, reason) in [(f, r) for f, r, _ in causes(stored(pod()), debugger(**extra))]


def test_two_ephemeral_containers_may_not_share_a_name():
    assert ("spec.ephemeralContainers[1].name", "FieldValueDuplicate") in [
        (f, r) for f, r, _ in causes(stored(pod()), debugger(), debugger())]


def test_an_existing_ephemeral_container_may_be_neither_removed_nor_changed():
    old = stored(pod())
    old["spec"]["ephemeralContainers"] = [debugger()]
    old = stored(old)
    assert [m for _, _, m in causes(old)] == [
        'Forbidden: existing ephemeral containers "debugger" may not be removed\n']
    assert [m for _, _, m in causes(old, debugger(image="kfs/busybox:2"))] == [
        'Forbidden: existing ephemeral containers "debugger" may not be changed\n']


def test_a_static_pods_mirror_refuses_ephemeral_containers():
    old = stored(pod())
    old["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "abc"}
    assert [m for _, _, m in causes(old, debugger())] == [
        "Forbidden: static pods do not support ephemeral containers"]


def test_an_unknown_path_answers_a_404_with_empty_details_kubectl_debug_reads():
    assert api_errors.resource_not_found().status["details"] == {}
