"""Bindings (pods/binding bodies): validation (kfs/apiserver/kinds/binding.py)."""

import pytest

from kfs import resources
from kfs.apiserver import errors as api_errors, kinds

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



def test_a_binding_is_the_change_it_makes_to_its_pod_and_a_bad_one_is_a_422():
    pods = kinds.for_resource(resources.lookup("pods"))
    change = pods.subresource_change("binding", "p", {
        "apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"},
        "target": {"kind": "Node", "name": "node1"}})
    bound = change({"metadata": {"name": "p"}, "spec": {}})
    assert bound["spec"]["nodeName"] == "node1"
    with pytest.raises(api_errors.StatusError) as bad:
        pods.subresource_change("binding", "p", {"apiVersion": "v1", "kind": "Binding",
                                                 "metadata": {"name": "p"}, "target": {}})
    assert bad.value.code == 422 and "target.name" in bad.value.message
    assert pods.subresource_change("eviction", "p", {}) is None  # not a plain update
