"""Bindings (pods/binding bodies): validation (kfs/apiserver/kinds/binding.py)."""

import pytest

from tests.unit.kind_objects import (
    errors)


def test_a_valid_binding_has_no_causes():
    assert errors({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p", "namespace": "default"},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": "node1"}}) == []


@pytest.mark.parametrize("target, field, message", [
    ({"kind": "Node"}, "target.name", "Required value"),
    ({"kind": "Pod", "name": "x"}, "target.kind", 'Unsupported value: "Pod": supported values: "Node", "<empty>"'),
])
def test_a_binding_targets_a_node_by_name(target, field, message):
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p", "namespace": "default"},
               "target": target}
    assert (field, message) in [(e[0], e[2]) for e in errors(binding)]
