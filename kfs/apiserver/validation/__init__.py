"""Validation: is this object acceptable, and if not, what exactly is wrong with it?

`validate(obj, old=None, subresource=None)` returns the causes of a 422, in the wire
format of a Status's ``details.causes``::

    {"reason": "FieldValueRequired", "message": "Required value",
     "field": "spec.template.spec.containers[0].image"}

and `invalid_message` writes the Status message kubectl prints, word for word as upstream::

    Deployment.apps "web" is invalid: spec.template.metadata.labels: Invalid value:
    map[string]string{"app":"x"}: `selector` does not match template `labels`

The API server runs it after defaulting (`kfs.apiserver.defaults`) and the registry
strategy (`kfs.apiserver.strategy`), as upstream does, so fields those fill in are not
re-required here. The rules live in three modules: `fields` (errors, names, labels,
metadata), `pods` (PodSpec and what a Pod update may change), `kinds` (everything else).

Mirrors the ``Validate``/``ValidateUpdate`` of each kind's registry strategy
(pkg/registry/*/strategy.go), which call pkg/apis/*/validation and
apimachinery's ValidateObjectMeta(Update).

What real Kubernetes does differently: it validates typed internal objects (a string where
an integer belongs fails decoding with a 400 before validation), with every field of
every kind and feature-gated variants; admission plugins and the storage layer add checks
(NodePort allocation, resource quotas, namespace lifecycle).
"""
from kfs.apiserver.validation.fields import (  # noqa: F401  (the public vocabulary)
    Go, duplicate, forbidden, go_repr, invalid, invalid_message, not_found, not_supported,
    required, validate_object_meta, validate_object_meta_update)
from kfs.apiserver.validation.kinds import KIND_RULES, STATUS_RULES, UPDATE_RULES


def validate(obj, old=None, subresource=None):
    """The causes why `obj` may not be stored: an empty list if it may.

    `old` is the stored object on an update. `subresource` is "status" for a write through
    /status (only metadata and the status rules apply) or "scale" (as a main update).
    Kinds kfs does not know validate clean.
    """
    key = (obj.get("apiVersion"), obj.get("kind"))
    if key not in KIND_RULES:
        return []
    name_fn, namespaced, check = KIND_RULES[key]
    md = obj.get("metadata") or {}
    if old is None:
        errs = validate_object_meta(md, namespaced, name_fn) if name_fn else []
        return errs + check(obj)
    errs = validate_object_meta_update(md, old.get("metadata") or {})
    if subresource == "status":
        return errs + STATUS_RULES.get(key, _none)(obj, old)
    return errs + check(obj) + UPDATE_RULES.get(key, _none)(obj, old)


def _none(obj, old):
    return []
