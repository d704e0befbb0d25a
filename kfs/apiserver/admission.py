"""Admission: what happens to an object between decoding and storage.

Every create and update passes the same gates, in upstream's order:

1. **decode** (``kfs.apiserver.schema``): unknown fields dropped or refused, wrong JSON
   types refused (400);
2. **defaults** (the kind's `default`, ``kfs.apiserver.kinds``): ``restartPolicy: Always``,
   ``replicas: 1`` ...;
3. **strategy** (``kfs.apiserver.strategy`` and the kind's `prepare_for_*`): system fields
   (uid, creationTimestamp, a name from generateName), status kept or taken,
   ``generation`` bumped on spec changes;
4. **validation** (the kind's `validate*`, with ``kfs.apiserver.validation``): 422
   Invalid with one cause per field.

Mirrors the create/update paths of ``apiserver/pkg/registry/generic/registry/store.go``
(``rest.BeforeCreate``, ``rest.BeforeUpdate``) and the admission chain's place in
``endpoints/handlers/create.go``.

What real Kubernetes does differently: admission plugins (mutating webhooks, then
validating ones, ~20 compiled-in plugins such as NamespaceLifecycle, LimitRanger,
ServiceAccount, ResourceQuota, NodeRestriction) run around the strategy; kfs has only
NamespaceLifecycle (``kinds/namespace.py``), which the registry runs on every create.
"""
from kfs.apiserver import errors, kinds, schema, strategy, validation


def decode(obj, resource_kind, api_version, field_validation):
    """Clean a decoded body in place; returns warnings. 400 on wrong types, or on unknown
    fields when ``fieldValidation=Strict``."""
    if not isinstance(obj, dict):
        raise errors.bad_request("the body of the request must be a JSON object")
    try:
        unknown = schema.decode(obj, api_version, resource_kind,
                                kinds.lookup(api_version, resource_kind).schema_type)
    except schema.DecodeError as e:
        raise errors.bad_request(f'{resource_kind} in version "{api_version.split("/")[-1]}" '
                                 f"cannot be handled as a {resource_kind}: {e}") from None
    if not unknown:
        return []
    messages = [f'unknown field "{f}"' for f in unknown]
    if field_validation == "Strict":
        raise errors.bad_request("strict decoding error: " + ", ".join(messages))
    return messages if field_validation in (None, "", "Warn") else []


def _check(kind, obj, old=None, subresource=None):
    causes = kind.causes(obj, old, subresource)
    if causes:
        md = obj.get("metadata") or {}
        name = md.get("name") or md.get("generateName") or ""
        group = kind.resource.group if kind.resource else None
        raise errors.StatusError(
            422, "Invalid", validation.invalid_message(kind.kind, name, causes, group),
            {k: v for k, v in (("name", name), ("group", group), ("kind", kind.kind),
                               ("causes", causes)) if v})


def admit_create(kind, obj):
    """Defaults, system fields, validation: `obj` (in place) is ready to store."""
    kind.default(obj)
    strategy.before_create(kind, obj)
    _check(kind, obj)


def admit_update(kind, new, old, subresource=None):
    """The same for an update of `old` to `new` (through `subresource`)."""
    kind.default(new)
    strategy.before_update(kind, new, old, subresource)
    _check(kind, new, old, subresource)
