"""Validation: is this object acceptable, and if not, what exactly is wrong with it?

A kind's rules (``kfs.apiserver.kinds``, its `validate*` methods) return the causes of a
422, in the wire format of a Status's ``details.causes``::

    {"reason": "FieldValueRequired", "message": "Required value",
     "field": "spec.template.spec.containers[0].image"}

and `invalid_message` writes the Status message kubectl prints, word for word as upstream::

    Deployment.apps "web" is invalid: spec.template.metadata.labels: Invalid value:
    map[string]string{"app":"x"}: `selector` does not match template `labels`

The API server validates after defaulting and the registry strategy, as upstream does, so
fields those fill in are not re-required. This package is the shared vocabulary: ``fields``
(errors, names, labels, selectors, IPs, metadata) and ``pods`` (the PodSpec, which Pods,
Deployments and ReplicaSets share); the rules of each kind are in its module.

Mirrors pkg/apis/core/validation (ValidatePodSpec and the helpers) and apimachinery's
pkg/api/validation (ValidateObjectMeta(Update)), util/validation (names, labels).

What real Kubernetes does differently: it validates typed internal objects (a string where
an integer belongs fails decoding with a 400 before validation), with every field of
every kind and feature-gated variants; admission plugins and the storage layer add checks
(NodePort allocation, resource quotas, namespace lifecycle).
"""
from kfs.apiserver.validation.fields import (  # noqa: F401  (the public vocabulary)
    Go, duplicate, forbidden, go_repr, invalid, invalid_message, not_found, not_supported,
    required, validate_object_meta, validate_object_meta_update)
