"""Scales (``autoscaling/v1``): the replica count of a Deployment or ReplicaSet, as
``kubectl scale`` (and the HPA) read and write it through ``.../scale``. Not stored: the
workload kinds (``kinds/apps.py``) convert to and from it.

Mirrors pkg/apis/autoscaling/validation (ValidateScale).

What real Kubernetes does differently: the same Scale serves StatefulSets,
ReplicationControllers and custom resources with a scale subresource.
"""
from kfs.apiserver.kinds import Kind
from kfs.apiserver.validation.fields import non_negative


class Scale(Kind):
    api_version, kind = "autoscaling/v1", "Scale"

    def validate(self, scale):
        return non_negative((scale.get("spec") or {}).get("replicas", 0), "spec.replicas")


KIND = Scale
