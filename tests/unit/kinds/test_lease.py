"""Leases: no defaults, validation, the printed row (kfs/apiserver/kinds/lease.py)."""
import copy


from tests.unit.kind_objects import (
    cells, column_names, defaulted, errors, named)


def test_kinds_without_defaults_are_left_alone():
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l"}, "spec": {}}
    assert defaulted(copy.deepcopy(lease)) == lease


def test_lease_row():
    assert cells("leases", named("node1", spec={"holderIdentity": "node1"})) == ["node1", "node1", "5m"]


def test_a_valid_lease_has_no_causes():
    assert errors({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                   "metadata": {"name": "node1", "namespace": "kube-node-lease"},
                   "spec": {"holderIdentity": "node1", "leaseDurationSeconds": 40}}) == []


def test_a_leases_duration_is_positive():
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l", "namespace": "default"},
             "spec": {"leaseDurationSeconds": 0}}
    assert ("spec.leaseDurationSeconds", "Invalid value: 0: must be greater than 0") in [
        (e[0], e[2]) for e in errors(lease)]


def test_leases_have_upstreams_columns():
    assert column_names("leases") == (["Name", "Holder", "Age"], [])
