"""Namespaces: defaults, finalizers, names, the printed row, NamespaceLifecycle (kfs/apiserver/kinds/namespace.py)."""

import pytest

from tests.unit.kind_objects import (
    LABEL_MSG, cells, column_names, created,
    defaulted, errors, named, updated)


def test_a_namespace_is_active_and_labelled_with_its_name():
    ns = defaulted({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}})
    assert ns["status"] == {"phase": "Active"}
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team-a"}


def test_a_new_namespace_gets_the_kubernetes_finalizer():
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}}
    assert created(ns)["spec"] == {"finalizers": ["kubernetes"]}


def test_a_namespace_update_keeps_its_finalizers():
    old = created({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}})
    assert updated(old, lambda n: n["spec"].update(finalizers=[]))["spec"]["finalizers"] == ["kubernetes"]


def test_namespace_row():
    assert cells("namespaces", named("team-a", status={"phase": "Active"})) == ["team-a", "Active", "5m"]


def test_a_valid_namespace_has_no_causes():
    assert errors({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}) == []


@pytest.mark.parametrize("name, message", [
    ("a.b", 'Invalid value: "a.b": must not contain dots'),
    ("A", f'Invalid value: "A": {LABEL_MSG}'),
])
def test_a_namespaces_name_is_a_dns_label(name, message):
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    assert errors(ns)[0] == ("metadata.name", "FieldValueInvalid", message)


def test_namespaces_have_upstreams_columns():
    assert column_names("namespaces") == (["Name", "Status", "Age"], [])
