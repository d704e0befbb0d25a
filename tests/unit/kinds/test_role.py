"""Roles and ClusterRoles: rule validation, names, the default columns (kfs/apiserver/kinds/rbac.py)."""

import pytest

from tests.unit.kind_objects import (
    column_names, errors, rbac)


@pytest.mark.parametrize("role", [
    rbac("Role", rules=[{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]),
    rbac("ClusterRole", rules=[{"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]),
], ids=["Role", "ClusterRole"])
def test_a_valid_role_has_no_causes(role):
    assert errors(role) == []


@pytest.mark.parametrize("obj, field, message", [
    (rbac("Role", rules=[{"apiGroups": [""], "resources": ["pods"]}]), "rules[0].verbs",
     "Required value: verbs must contain at least one value"),
    (rbac("Role", rules=[{"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]), "rules[0].nonResourceURLs",
     'Invalid value: []string{"/healthz"}: namespaced rules cannot apply to non-resource URLs'),
])
def test_role_errors_name_the_field_at_fault_as_upstream(obj, field, message):
    assert (field, message) in [(e[0], e[2]) for e in errors(obj)]


def test_a_roles_name_is_a_path_segment():
    role = rbac("ClusterRole")
    role["metadata"]["name"] = "a/b"
    assert errors(role)[0] == ("metadata.name", "FieldValueInvalid", "Invalid value: \"a/b\": may not contain '/'")


def test_roles_have_no_printer_and_show_name_and_creation_time():
    assert column_names("roles") == (["Name", "Created At"], [])
