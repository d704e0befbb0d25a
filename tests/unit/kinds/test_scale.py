"""Scales (deployments/scale bodies): validation (kfs/apiserver/kinds/scale.py)."""


from tests.unit.kind_objects import (
    errors)


def test_a_valid_scale_has_no_causes():
    assert errors({"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "web", "namespace": "default"},
                   "spec": {"replicas": 3}}) == []


def test_a_scales_replicas_are_not_negative():
    scale = {"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "web", "namespace": "default"},
             "spec": {"replicas": -2}}
    assert ("spec.replicas", "Invalid value: -2: must be greater than or equal to 0") in [
        (e[0], e[2]) for e in errors(scale)]
