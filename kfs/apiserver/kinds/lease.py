"""Leases (``coordination.k8s.io/v1``): heartbeats and locks, renewed by their holder.

Each kubelet renews ``kube-node-lease/<node>`` (how the node lifecycle controller knows the
node lives); the scheduler and controller manager hold theirs in ``kube-system``. A PUT of a
missing Lease creates it. Validation: a positive duration, non-negative transitions.
Printed as ``NAME HOLDER AGE``.

Mirrors pkg/registry/coordination/lease/strategy.go (AllowCreateOnUpdate),
pkg/apis/coordination/validation (ValidateLease) and printLease.

What real Kubernetes does differently: the ``strategy`` and ``preferredHolder`` fields of
coordinated leader election (1.31+), feature-gated.
"""
from kfs import meta
from kfs.apiserver.kinds import Kind
from kfs.apiserver.tables import AGE, NAME, age, col
from kfs.apiserver.validation.fields import IS_NEGATIVE, invalid

COLUMNS = [NAME, col("Holder", description="holderIdentity contains the identity of the holder of a "
                     "current lease."), AGE]


class Lease(Kind):
    api_version, kind = "coordination.k8s.io/v1", "Lease"
    columns = COLUMNS
    create_on_update = True

    def validate(self, lease):
        spec, errs = lease.get("spec") or {}, []
        if spec.get("leaseDurationSeconds") is not None and spec["leaseDurationSeconds"] <= 0:
            errs.append(invalid("spec.leaseDurationSeconds", spec["leaseDurationSeconds"], "must be greater than 0"))
        if spec.get("leaseTransitions") is not None and spec["leaseTransitions"] < 0:
            errs.append(invalid("spec.leaseTransitions", spec["leaseTransitions"], IS_NEGATIVE))
        return errs

    def print_row(self, lease, now):
        return [meta.name(lease), (lease.get("spec") or {}).get("holderIdentity", ""), age(lease, now)]


KIND = Lease
