"""What Deployments and ReplicaSets share: generations, status writes, /scale, selector and template rules (kfs/apiserver/kinds/apps.py)."""

import pytest

from kfs.apiserver.kinds.apps import from_scale, to_scale
from tests.unit.kind_objects import (
    NOW, changed, created,
    deployment, errors, stored, updated, workload)


@pytest.mark.parametrize("kind, change, subresource, generation", [
    ("Deployment", lambda d: d["spec"].update(replicas=5), None, 2),
    ("Deployment", lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="nginx:2"), None, 2),
    ("Deployment", lambda d: d["metadata"].update(labels={"team": "a"}), None, 1),
    ("Deployment", lambda d: d["metadata"].update(annotations={"note": "x"}), None, 2),
    ("ReplicaSet", lambda d: d["metadata"].update(annotations={"note": "x"}), None, 1),
    ("Deployment", lambda d: d.update(status={"observedGeneration": 1}), "status", 1),
    ("Deployment", lambda d: d["spec"].update(replicas=5), "status", 1),
    ("Deployment", lambda d: d["spec"].update(replicas=5), "scale", 2),
    ("ReplicaSet", lambda d: d["spec"].update(replicas=0), None, 2),
    ("Deployment", lambda d: d["metadata"].update(generation=40), None, 1),
])
def test_generation_moves_only_when_the_spec_changes(kind, change, subresource, generation):
    assert updated(created(workload(kind)), change, subresource)["metadata"]["generation"] == generation


def test_generation_moves_one_step_per_spec_change():
    d = created(workload())
    for replicas in (3, 4, 5):
        d = updated(d, lambda o: o["spec"].update(replicas=replicas))
    assert d["metadata"]["generation"] == 4


@pytest.mark.parametrize("kind", ["Deployment", "ReplicaSet"])
def test_a_status_write_keeps_a_workloads_spec_and_labels_but_takes_its_annotations(kind):
    old = created(workload(kind))
    old["metadata"]["labels"] = {"app": "web"}
    new = updated(old, lambda d: (d["spec"].update(replicas=9), d["metadata"].update(
        labels={"x": "y"}, annotations={"a": "b"}), d.update(status={"replicas": 2})), "status")
    assert (new["spec"], new["metadata"]["labels"]) == (old["spec"], old["metadata"]["labels"])
    assert new["metadata"]["annotations"] == {"a": "b"} and new["status"] == {"replicas": 2}


def test_a_scale_shows_desired_and_current_replicas_and_the_selector_as_a_string():
    d = created(workload())
    d["status"] = {"replicas": 1}
    assert to_scale(d) == {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": "web", "namespace": "default", "uid": d["metadata"]["uid"], "resourceVersion": "7",
                     "creationTimestamp": NOW},
        "spec": {"replicas": 2}, "status": {"replicas": 1, "selector": "app=web"}}


def test_a_scale_selector_prints_match_expressions_in_kubectls_syntax():
    rs = created(workload("ReplicaSet"))
    rs["spec"]["selector"] = {"matchLabels": {"app": "web"},
                              "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]}
    assert to_scale(rs)["status"]["selector"] == "app=web,tier in (a,b)"


def test_from_scale_changes_only_the_replicas_of_a_copy():
    d = created(workload())
    new = from_scale(d, {"spec": {"replicas": 7}})
    assert new["spec"]["replicas"] == 7 and d["spec"]["replicas"] == 2
    assert {**new, "spec": {**new["spec"], "replicas": 2}} == d


def test_from_scale_takes_the_scales_resource_version_as_the_precondition():
    d = created(workload())
    assert from_scale(d, {"metadata": {"resourceVersion": "3"}, "spec": {"replicas": 1}})["metadata"][
        "resourceVersion"] == "3"


@pytest.mark.parametrize("kind", ["Deployment", "ReplicaSet"])
def test_a_template_must_run_its_pods_with_restart_policy_always(kind):
    d = deployment()
    d["kind"] = kind
    d["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert errors(d) == [("spec.template.spec.restartPolicy", "FieldValueNotSupported",
                          'Unsupported value: "Never": supported values: "Always"')]


def test_the_selector_must_select_the_templates_labels():
    d = deployment()
    d["spec"]["template"]["metadata"]["labels"] = {"app": "x"}
    assert errors(d) == [("spec.template.metadata.labels", "FieldValueInvalid",
                          'Invalid value: map[string]string{"app":"x"}: `selector` does not match template `labels`')]


def test_a_missing_selector_is_required_and_so_selects_no_template():
    d = deployment()
    del d["spec"]["selector"]
    assert [e[0] for e in errors(d)] == ["spec.selector", "spec.template.metadata.labels"]


def test_template_labels_are_checked_at_upstreams_odd_path():
    d = deployment(selector={"matchLabels": {"app": "w"}})
    d["spec"]["template"]["metadata"]["labels"] = {"app": "w", "bad key": "x"}
    assert errors(d)[0][0] == "spec.template.labels"


def test_template_pod_spec_errors_are_under_spec_template_spec():
    d = deployment()
    del d["spec"]["template"]["spec"]["containers"][0]["image"]
    assert errors(d) == [("spec.template.spec.containers[0].image", "FieldValueRequired", "Required value")]


@pytest.mark.parametrize("kind", ["Deployment", "ReplicaSet"])
def test_a_workloads_selector_is_immutable_in_apps_v1(kind):
    old = deployment()
    old["kind"] = kind
    stored(old)

    def relabel(d):
        d["spec"]["selector"] = {"matchLabels": {"app": "web2"}}
        d["spec"]["template"]["metadata"]["labels"] = {"app": "web2"}
    assert errors(changed(old, relabel), old) == [(
        "spec.selector", "FieldValueInvalid",
        'Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web2"}, '
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable")]


def test_a_status_write_checks_the_status_not_the_spec():
    old = stored(deployment())
    new = changed(old, lambda d: (d["spec"].update(replicas=-5), d.update(status={"replicas": 1, "readyReplicas": 2})))
    assert errors(new, old, subresource="status") == [
        ("status.readyReplicas", "FieldValueInvalid", "Invalid value: 2: cannot be greater than status.replicas")]


@pytest.mark.parametrize("kind", ["Deployment", "ReplicaSet"])
def test_a_valid_workload_has_no_causes(kind):
    assert errors({**deployment(), "kind": kind}) == []
