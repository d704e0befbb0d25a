"""RoleBindings and ClusterRoleBindings: subject defaults, roleRef rules, the printed row (kfs/apiserver/kinds/rbac.py)."""

import pytest

from tests.unit.kind_objects import (
    cells, changed, column_names, defaulted, errors, named, rbac, stored)


@pytest.mark.parametrize("kind, api_group", [("User", "rbac.authorization.k8s.io"),
                                             ("Group", "rbac.authorization.k8s.io"), ("ServiceAccount", "")])
def test_binding_subjects_get_their_kinds_api_group(kind, api_group):
    b = defaulted({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                   "metadata": {"name": "b", "namespace": "default"},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
                   "subjects": [{"kind": kind, "name": "x"}]})
    assert b["subjects"][0]["apiGroup"] == api_group


def test_a_role_bindings_role_ref_is_immutable():
    old = stored(rbac("RoleBinding", roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "a"}))
    new = changed(old, lambda b: b["roleRef"].update(name="b"))
    assert errors(new, old) == [("roleRef", "FieldValueInvalid",
                                 'Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"Role", '
                                 'Name:"b"}: cannot change roleRef')]


def test_binding_row_lists_users_groups_and_service_accounts():
    b = named("readers", roleRef={"kind": "ClusterRole", "name": "view"}, subjects=[
        {"kind": "User", "name": "alice"}, {"kind": "User", "name": "bob"}, {"kind": "Group", "name": "devs"},
        {"kind": "ServiceAccount", "name": "default", "namespace": "team-a"}])
    assert cells("rolebindings", b) == ["readers", "ClusterRole/view", "5m", "alice, bob", "devs", "team-a/default"]


def test_a_valid_role_binding_has_no_causes():
    assert errors(rbac("RoleBinding", roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                                "name": "view"},
                       subjects=[{"kind": "User", "name": "alice"},
                                 {"kind": "ServiceAccount", "name": "default"}])) == []


@pytest.mark.parametrize("obj, field, message", [
    (rbac("ClusterRoleBinding", roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"}),
     "roleRef.kind", 'Unsupported value: "Role": supported values: "ClusterRole"'),
    (rbac("ClusterRoleBinding", roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "r"},
          subjects=[{"kind": "ServiceAccount", "name": "default"}]), "subjects[0].namespace", "Required value"),
])
def test_binding_errors_name_the_field_at_fault_as_upstream(obj, field, message):
    assert (field, message) in [(e[0], e[2]) for e in errors(obj)]


@pytest.mark.parametrize("plural", ["rolebindings", "clusterrolebindings"])
def test_bindings_have_upstreams_columns_with_wide_ones_at_priority_1(plural):
    assert column_names(plural) == (["Name", "Role", "Age"], ["Users", "Groups", "ServiceAccounts"])
