"""Validation every kind shares: object metadata (names, namespaces, labels, annotations,
identity on update), the wire format of a cause, the 422 message (kfs/apiserver/validation/);
each kind's own rules are tested with its kind in tests/unit/kinds/."""
import pytest

from kfs.apiserver.kinds import default, validate
from kfs.apiserver.validation import invalid_message
from tests.unit.kind_objects import changed, deployment, errors, pod, stored


def test_kinds_kfs_does_not_know_validate_clean():
    assert validate({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {}}) == []


def test_a_cause_is_in_the_wire_format_of_status_details():
    p = pod()
    del p["spec"]["containers"][0]["image"]
    assert validate(p) == [{"reason": "FieldValueRequired", "message": "Required value",
                            "field": "spec.containers[0].image"}]


def test_a_missing_name_is_required_with_generate_name_as_the_alternative():
    p = pod()
    del p["metadata"]["name"]
    assert errors(p) == [("metadata.name", "FieldValueRequired", "Required value: name or generateName is required")]


def test_generate_name_may_end_in_a_dash():
    p = pod()
    p["metadata"]["generateName"] = "web-"
    assert errors(p) == []


def test_a_namespaced_kind_needs_a_namespace():
    p = pod()
    del p["metadata"]["namespace"]
    assert errors(p) == [("metadata.namespace", "FieldValueRequired", "Required value")]


@pytest.mark.parametrize("labels, expected", [
    ({"app": "web", "example.com/tier": "front", "empty": ""}, []),
    ({"a/b/c": "x"}, [("metadata.labels", "FieldValueInvalid",
                       "Invalid value: \"a/b/c\": a qualified name must consist of alphanumeric characters, '-', "
                       "'_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or "
                       "'my.name',  or '123-abc', regex used for validation is "
                       "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' "
                       "(e.g. 'example.com/MyName')")]),
    ({"app": "v" * 64}, [("metadata.labels", "FieldValueInvalid",
                          f'Invalid value: "{"v" * 64}": must be no more than 63 characters')]),
    ({"/app": "x"}, [("metadata.labels", "FieldValueInvalid", 'Invalid value: "/app": prefix part must be non-empty')]),
])
def test_label_keys_are_qualified_names_and_values_at_most_63_characters(labels, expected):
    p = pod()
    p["metadata"]["labels"] = labels
    assert errors(p) == expected


def test_annotation_keys_are_qualified_names_whatever_their_case():
    p = pod()
    p["metadata"]["annotations"] = {"Example.COM/Note": "anything goes here: { }", "bad key": "x"}
    assert [e[1] for e in errors(p)] == ["FieldValueInvalid"] and "bad key" in errors(p)[0][2]


@pytest.mark.parametrize("field, value", [("name", "other"), ("namespace", "other"), ("uid", "u-2")])
def test_identity_metadata_is_immutable(field, value):
    old = stored(pod())
    new = changed(old, lambda p: p["metadata"].update({field: value}))
    assert (f"metadata.{field}", "FieldValueInvalid", f'Invalid value: "{value}": field is immutable') in errors(new, old)


def test_invalid_message_for_one_cause_is_upstreams():
    d = deployment()
    d["spec"]["template"]["metadata"]["labels"] = {"app": "x"}
    default(d)
    assert invalid_message("Deployment", "web", validate(d)) == (
        'Deployment.apps "web" is invalid: spec.template.metadata.labels: Invalid value: '
        'map[string]string{"app":"x"}: `selector` does not match template `labels`')


def test_invalid_message_for_several_causes_is_a_bracketed_list_without_repeats():
    causes = [{"reason": "FieldValueRequired", "message": "Required value", "field": "spec.a"},
              {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.b"},
              {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.a"}]
    assert invalid_message("Pod", "p", causes) == 'Pod "p" is invalid: [spec.a: Required value, spec.b: Required value]'


@pytest.mark.parametrize("kind, group, qualified", [
    ("Pod", None, "Pod"), ("ReplicaSet", None, "ReplicaSet.apps"),
    ("ClusterRole", None, "ClusterRole.rbac.authorization.k8s.io"), ("Scale", "autoscaling", "Scale.autoscaling"),
])
def test_invalid_message_qualifies_the_kind_with_its_group(kind, group, qualified):
    assert invalid_message(kind, "x", [], group=group) == f'{qualified} "x" is invalid'
