"""Registry strategies: what the API server keeps, drops and fills in on create and update.

A client writes a whole object, but not every field is the client's to write:

- on **create** the server fills the system fields (``uid``, ``creationTimestamp``, a name
  from ``generateName``), starts kinds that count generations (Deployments, ReplicaSets) at
  ``metadata.generation: 1``, then lets the kind prepare the rest (a Pod starts at
  ``status: {phase: Pending, qosClass: ...}``, see ``kinds/pod.py``);
- on an **update of the main resource** the status is the server's (kept from the stored
  object) and ``generation`` counts spec changes: it moves only when the spec changes
  (the kind decides what counts, see `Kind.spec_changed`), never on status or
  metadata-only writes;
- on an update through **/status** it is the other way round: the spec comes from the
  stored object and the generation never moves (the kind may keep more, e.g. labels).

This is how ``kubectl rollout status`` can tell a Deployment the controller has not seen
yet (``generation > status.observedGeneration``) from one it has.

Mirrors apiserver pkg/registry/rest/create.go and update.go (BeforeCreate, BeforeUpdate,
FillObjectMetaSystemFields, SimpleNameGenerator) and the shape of every
pkg/registry/*/strategy.go; the kind-specific parts are in ``kfs.apiserver.kinds``.

What real Kubernetes does differently: it also drops fields of disabled feature gates,
tracks managedFields for server-side apply and computes Pod generation (1.33+).
"""
import copy
import random

from kfs import meta

NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"   # SimpleNameGenerator: no vowels, no 0/1/3


def generate_name(prefix, rand=random):
    """SimpleNameGenerator: the prefix (cut to 58 characters) and 5 random characters."""
    return prefix[:58] + "".join(rand.choice(NAME_CHARS) for _ in range(5))


def before_create(kind, obj, now=None, rand=random):
    """BeforeCreate + the kind's PrepareForCreate, in place. `now` is an RFC 3339 time."""
    md = obj.setdefault("metadata", {})
    md.pop("deletionTimestamp", None)
    md.pop("deletionGracePeriodSeconds", None)
    if not kind.namespaced:
        md.pop("namespace", None)
    if md.get("generateName") and not md.get("name"):
        md["name"] = generate_name(md["generateName"], rand)
    md["uid"] = meta.new_uid()
    md["creationTimestamp"] = now or meta.now()
    if kind.generation:
        md["generation"] = 1
    kind.prepare_for_create(obj)


def before_update(kind, new, old, subresource=None):
    """BeforeUpdate + the kind's PrepareForUpdate (or its status strategy's), in place.

    `subresource` is None for the main resource, "status", "scale", or one of the kind's
    `status_subresources` (certificatesigningrequests/approval).
    """
    md, old_md = new.setdefault("metadata", {}), old.get("metadata") or {}
    for f in ("generation", "creationTimestamp", "deletionTimestamp"):
        if f in old_md:
            md[f] = old_md[f]
        else:
            md.pop(f, None)
    for f in ("uid", "deletionGracePeriodSeconds"):
        if f in old_md and not md.get(f):
            md[f] = old_md[f]
    if not kind.namespaced:
        md.pop("namespace", None)
    if subresource == "status":
        _keep(new, old, "spec")
        kind.prepare_for_status_update(new, old)
        return
    if subresource in kind.status_subresources:  # csr/approval: a part of the status
        _keep(new, old, "spec")
        kind.prepare_for_subresource_update(subresource, new, old)
        return
    if kind.has_status:
        _keep(new, old, "status")
    if kind.generation and kind.spec_changed(new, old):
        md["generation"] = old_md.get("generation", 0) + 1
    kind.prepare_for_update(new, old)


def _keep(new, old, field):
    if field in old:
        new[field] = copy.deepcopy(old[field])
    else:
        new.pop(field, None)


def keep_metadata(md, old_md, field):
    """A status write may not change this metadata field: take the stored one."""
    if field in old_md:
        md[field] = copy.deepcopy(old_md[field])
    else:
        md.pop(field, None)
