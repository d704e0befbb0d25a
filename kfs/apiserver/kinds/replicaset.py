"""ReplicaSets (``apps/v1``): a count of pods from a template, kept by the ReplicaSet controller.

Defaults ``replicas: 1`` and the pod-template defaults; the rest (selector and template
rules, generations, /status, /scale, the wide columns) is what every workload shares, in
``kinds/apps.py``. Field selector: ``status.replicas``.

Mirrors pkg/apis/apps/v1/defaults.go (SetDefaults_ReplicaSet), pkg/registry/apps/replicaset
(strategy.go, storage/storage.go), pkg/apis/apps/validation (ValidateReplicaSetSpec) and
printReplicaSet.

What real Kubernetes does differently: ``status.replicas`` is its only extra field
selector too; upstream also serves the long-deprecated extensions/v1beta1 ReplicaSets.
"""
from kfs import meta
from kfs.apiserver.kinds.apps import (TEMPLATE_WIDE, Workload, containers_images, selector_text,
                                      validate_selector_and_template)
from kfs.apiserver.kinds.pod import default_template
from kfs.apiserver.tables import AGE, NAME, age, col
from kfs.apiserver.validation.fields import non_negative

COLUMNS = [NAME, col("Desired", "integer", "Replicas is the number of desired replicas."),
           col("Current", "integer", "Replicas is the most recently observed number of replicas."),
           col("Ready", "integer", "The number of ready replicas for this replica set."), AGE,
           *TEMPLATE_WIDE]


def validate_replicaset_spec(spec, path="spec"):
    return (non_negative(spec.get("replicas", 0), f"{path}.replicas")
            + non_negative(spec.get("minReadySeconds", 0), f"{path}.minReadySeconds")
            + validate_selector_and_template(spec, path))


class ReplicaSet(Workload):
    api_version, kind = "apps/v1", "ReplicaSet"
    columns = COLUMNS
    field_selectors = {"status.replicas": None}

    def default(self, rs):
        rs.setdefault("spec", {}).setdefault("replicas", 1)
        default_template(rs)

    def validate(self, rs):
        return validate_replicaset_spec(rs.get("spec") or {})

    def print_row(self, rs, now):
        spec, status = rs.get("spec") or {}, rs.get("status") or {}
        names, images = containers_images(spec.get("template"))
        return [meta.name(rs), spec.get("replicas", 0), status.get("replicas", 0),
                status.get("readyReplicas", 0), age(rs, now), names, images,
                selector_text(spec.get("selector")) or "<none>"]


KIND = ReplicaSet
