"""PodDisruptionBudgets: no defaults, the status a create starts from, validation of the
spec and of status writes, the printed row (kfs/apiserver/kinds/poddisruptionbudget.py)."""
import copy

import pytest

from kfs import resources
from tests.unit.kind_objects import (
    cells, column_names, created, defaulted, errors, named, updated)


def pdb(**spec):
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec}}


def test_pdb_is_the_short_name_kubectl_finds_in_group_policy():
    r = resources.lookup("pdb")
    assert (r.group, r.version, r.plural, r.namespaced) == ("policy", "v1", "poddisruptionbudgets", True)
    assert "status" in r.subresources


def test_nothing_is_defaulted_not_even_the_unhealthy_pod_eviction_policy():
    budget = pdb(minAvailable=2)
    assert defaulted(copy.deepcopy(budget)) == budget


def test_a_new_budget_allows_no_disruption_until_the_controller_has_counted():
    stored = created(pdb(minAvailable=2))
    assert stored["status"] == {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0,
                                "expectedPods": 0}
    assert stored["metadata"]["generation"] == 1


def test_a_spec_change_moves_the_generation_and_a_status_write_keeps_the_spec():
    stored = created(pdb(minAvailable=2))
    changed = updated(stored, lambda p: p["spec"].update(minAvailable=3))
    assert changed["metadata"]["generation"] == 2
    assert changed["status"] == stored["status"]  # the status is the controller's
    status = updated(stored, lambda p: (p["spec"].update(minAvailable=9),
                                        p["status"].update(disruptionsAllowed=1)), "status")
    assert status["spec"]["minAvailable"] == 2 and status["status"]["disruptionsAllowed"] == 1
    assert status["metadata"]["generation"] == 1


@pytest.mark.parametrize("spec", [
    {"minAvailable": 2}, {"minAvailable": "50%"}, {"maxUnavailable": 1}, {"maxUnavailable": "100%"},
    {"minAvailable": 0}, {}, {"minAvailable": 1, "unhealthyPodEvictionPolicy": "AlwaysAllow"},
    {"maxUnavailable": 1, "unhealthyPodEvictionPolicy": "IfHealthyBudget"},
])
def test_valid_budgets_have_no_causes(spec):
    assert errors(pdb(**spec)) == []


@pytest.mark.parametrize("spec, field, message", [
    ({"minAvailable": 1, "maxUnavailable": 1}, "spec",
     "Invalid value: policy.PodDisruptionBudgetSpec{...}: minAvailable and maxUnavailable cannot be both set"),
    ({"minAvailable": -1}, "spec.minAvailable", "Invalid value: -1: must be greater than or equal to 0"),
    ({"maxUnavailable": "50"}, "spec.maxUnavailable",
     "Invalid value: 50: a valid percent string must be a numeric string followed by an ending '%' "
     "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"),
    ({"minAvailable": "150%"}, "spec.minAvailable", "Invalid value: 150%: must not be greater than 100%"),
    ({"minAvailable": True}, "spec.minAvailable",
     "Invalid value: true: must be an integer or percentage (e.g '5%')"),
    ({"minAvailable": 1, "unhealthyPodEvictionPolicy": "Never"}, "spec.unhealthyPodEvictionPolicy",
     'Unsupported value: "Never": supported values: "AlwaysAllow", "IfHealthyBudget"'),
    ({"minAvailable": 1, "selector": {"matchExpressions": [{"key": "app", "operator": "In"}]}},
     "spec.selector.matchExpressions[0].values", "Required value: must be specified when `operator` is 'In' or 'NotIn'"),
])
def test_invalid_budgets_name_the_field(spec, field, message):
    assert (field, message) in [(e[0], e[2]) for e in errors(pdb(**spec))]


def _status_write(**status):
    stored = created(pdb(minAvailable=1))
    new = copy.deepcopy(stored)
    new["status"].update(status)
    return [(e[0], e[2]) for e in errors(new, stored, "status")]


def test_a_status_write_of_the_controller_is_valid():
    assert _status_write(disruptionsAllowed=1, currentHealthy=3, desiredHealthy=2, expectedPods=3,
                         observedGeneration=1, disruptedPods={"web-1": "2024-01-01T00:00:00Z"},
                         conditions=[{"type": "DisruptionAllowed", "status": "True", "reason": "SufficientPods",
                                      "message": "", "observedGeneration": 1,
                                      "lastTransitionTime": "2024-01-01T00:00:00Z"}]) == []


@pytest.mark.parametrize("status, field, message", [
    ({"disruptionsAllowed": -1}, "status.disruptionsAllowed", "Invalid value: -1: must be greater than or equal to 0"),
    ({"currentHealthy": -2}, "status.currentHealthy", "Invalid value: -2: must be greater than or equal to 0"),
    ({"conditions": [{"type": "DisruptionAllowed", "status": "Yes", "reason": "R",
                      "lastTransitionTime": "2024-01-01T00:00:00Z"}]},
     "status.conditions[0].status", 'Unsupported value: "Yes": supported values: "False", "True", "Unknown"'),
    ({"conditions": [{"type": "DisruptionAllowed", "status": "True",
                      "lastTransitionTime": "2024-01-01T00:00:00Z"}]},
     "status.conditions[0].reason", "Required value: must be set"),
    ({"conditions": [{"type": "DisruptionAllowed", "status": "True", "reason": "Sufficient pods",
                      "lastTransitionTime": "2024-01-01T00:00:00Z"}]},
     "status.conditions[0].reason",
     "Invalid value: \"Sufficient pods\": a condition reason must start with alphabetic character, optionally "
     "followed by a string of alphanumeric characters or '_,:', and must end with an alphanumeric character or "
     "'_' (e.g. 'my_name',  or 'MY_NAME',  or 'MyName',  or 'ReasonA,ReasonB',  or 'ReasonA:ReasonB', regex "
     "used for validation is '[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?')"),
    ({"conditions": [{"type": "DisruptionAllowed", "status": "True", "reason": "R"}]},
     "status.conditions[0].lastTransitionTime", "Required value: must be set"),
])
def test_invalid_status_writes_name_the_field(status, field, message):
    assert (field, message) in _status_write(**status)


@pytest.mark.parametrize("spec, row", [
    ({"minAvailable": 2}, ["web", "2", "N/A", 1, "5m"]),
    ({"maxUnavailable": "25%"}, ["web", "N/A", "25%", 1, "5m"]),
])
def test_the_row_prints_the_budget_and_the_allowed_disruptions(spec, row):
    assert cells("poddisruptionbudgets", named("web", spec=spec, status={"disruptionsAllowed": 1})) == row


def test_pdbs_have_upstreams_columns():
    assert column_names("pdb") == (["Name", "Min Available", "Max Unavailable", "Allowed Disruptions", "Age"],
                                   [])
