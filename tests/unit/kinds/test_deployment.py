"""Deployments: defaults, strategy validation, the printed row (kfs/apiserver/kinds/deployment.py)."""
import copy

import pytest

from tests.unit.kind_objects import (
    cells, changed, column_names, defaulted, deployment, errors, named, stored)


def test_defaulting_twice_changes_nothing_more():
    once = defaulted(deployment())
    assert defaulted(copy.deepcopy(once)) == once


def test_a_templates_limits_do_not_become_requests():
    d = deployment()
    d["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1"}}
    assert "requests" not in defaulted(d)["spec"]["template"]["spec"]["containers"][0]["resources"]


@pytest.mark.parametrize("field, value", [
    ("replicas", 1),
    ("strategy", {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}),
    ("revisionHistoryLimit", 10),
    ("progressDeadlineSeconds", 600),
])
def test_a_deployment_gets_upstreams_default(field, value):
    assert defaulted(deployment())["spec"][field] == value


def test_a_recreate_deployment_gets_no_rolling_update_parameters():
    assert defaulted(deployment(strategy={"type": "Recreate"}))["spec"]["strategy"] == {"type": "Recreate"}


def test_a_partial_rolling_update_keeps_the_given_value():
    d = defaulted(deployment(strategy={"rollingUpdate": {"maxSurge": 1}}))
    assert d["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": "25%"}


def test_a_deployment_template_gets_pod_spec_defaults_but_not_the_pod_only_ones():
    spec = defaulted(deployment())["spec"]["template"]["spec"]
    assert spec["restartPolicy"] == "Always" and spec["containers"][0]["imagePullPolicy"] == "Always"
    assert "enableServiceLinks" not in spec and "priority" not in spec


@pytest.mark.parametrize("obj, field, reason, message", [
    (deployment(replicas=-1), "spec.replicas", "FieldValueInvalid",
     "Invalid value: -1: must be greater than or equal to 0"),
    (deployment(selector={}), "spec.selector", "FieldValueInvalid",
     "Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
     "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"),
    (deployment(selector={"matchExpressions": [{"key": "app", "operator": "Near", "values": ["x"]}]}),
     "spec.selector.matchExpressions[0].operator", "FieldValueInvalid",
     'Invalid value: "Near": not a valid selector operator'),
    (deployment(strategy={"type": "Canary"}), "spec.strategy", "FieldValueNotSupported",
     'Unsupported value: apps.DeploymentStrategy{Type:"Canary", '
     'RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}: supported values: "Recreate", "RollingUpdate"'),
    (deployment(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}),
     "spec.strategy.rollingUpdate.maxUnavailable", "FieldValueInvalid",
     "Invalid value: 0: may not be 0 when `maxSurge` is 0"),
    (deployment(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "0%", "maxUnavailable": "0%"}}),
     "spec.strategy.rollingUpdate.maxUnavailable", "FieldValueInvalid",
     "Invalid value: 0%: may not be 0 when `maxSurge` is 0"),
    (deployment(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "150%"}}),
     "spec.strategy.rollingUpdate.maxUnavailable", "FieldValueInvalid",
     "Invalid value: 150%: must not be greater than 100%"),
    (deployment(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "half"}}),
     "spec.strategy.rollingUpdate.maxSurge", "FieldValueInvalid",
     "Invalid value: half: a valid percent string must be a numeric string followed by an ending '%' "
     "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"),
    (deployment(strategy={"type": "Recreate", "rollingUpdate": {}}), "spec.strategy.rollingUpdate",
     "FieldValueForbidden", "Forbidden: may not be specified when strategy `type` is 'Recreate'"),
    (deployment(progressDeadlineSeconds=5, minReadySeconds=10), "spec.progressDeadlineSeconds",
     "FieldValueInvalid", "Invalid value: 5: must be greater than minReadySeconds"),
])
def test_deployment_errors_name_the_field_at_fault_as_upstream(obj, field, reason, message):
    assert (field, reason, message) in errors(obj)


def test_a_deployments_replicas_and_template_may_change():
    old = stored(deployment())
    new = changed(old, lambda d: (d["spec"].update(replicas=5),
                                  d["spec"]["template"]["spec"]["containers"][0].update(image="nginx:2")))
    assert errors(new, old) == []


TEMPLATE = {"spec": {"containers": [{"name": "web", "image": "nginx:1.25"}, {"name": "log", "image": "busybox"}]}}


def test_deployment_row():
    d = named("web", spec={"replicas": 5, "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE},
              status={"readyReplicas": 3, "updatedReplicas": 4, "availableReplicas": 3})
    assert cells("deployments", d) == ["web", "3/5", 4, 3, "5m", "web,log", "nginx:1.25,busybox", "app=web"]


def test_deployments_have_upstreams_columns_with_wide_ones_at_priority_1():
    assert column_names("deployments") == (["Name", "Ready", "Up-to-date", "Available", "Age"],
                                           ["Containers", "Images", "Selector"])
