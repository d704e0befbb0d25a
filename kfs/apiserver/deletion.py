"""What a DELETE does before anything is removed: grace periods, finalizers, propagation.

A DELETE does not always delete. Three things can hold an object back:

- **graceful deletion** (pods bound to a node): the API server only sets
  ``metadata.deletionTimestamp`` (now + the grace period, by default the pod's
  ``terminationGracePeriodSeconds``, 30) and ``deletionGracePeriodSeconds``. The kubelet
  sees it, stops the containers, and then deletes the pod for real with
  ``gracePeriodSeconds: 0``. A pod no node runs (or that has finished) goes at once. The
  kind decides the grace period (`Kind.delete_grace_period`, ``kinds/pod.py``);
- **finalizers**: while ``metadata.finalizers`` is not empty, the object is only marked
  (deletionTimestamp set, grace 0); whoever owns a finalizer removes it when done, and the
  update that removes the last one deletes the object;
- **propagation**: ``propagationPolicy: Foreground`` adds the ``foregroundDeletion``
  finalizer (the garbage collector deletes the dependents first, then removes it),
  ``Orphan`` adds ``orphan`` (the garbage collector strips the dependents' owner
  references, then removes it); ``Background``, the default, adds nothing: the object
  goes now and the garbage collector deletes the dependents afterwards.

Mirrors ``apiserver/pkg/registry/rest/delete.go`` (BeforeDelete),
``registry/generic/registry/store.go`` (deletionFinalizersForGarbageCollection,
shouldOrphanDependents, shouldDeleteDependents, markAsDeleting).

What real Kubernetes does differently: the same rules, plus a per-kind default policy
(some old API versions orphan by default) and the ``deletionGracePeriodSeconds`` of an
object with finalizers also honoured for custom grace-period kinds.
"""
from datetime import datetime, timedelta, timezone

from kfs.apiserver import errors

ORPHAN, FOREGROUND = "orphan", "foregroundDeletion"
POLICIES = ("Foreground", "Background", "Orphan")


def _time(seconds_from_now=0):
    t = datetime.now(timezone.utc) + timedelta(seconds=seconds_from_now)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def check_options(options):
    policy = options.get("propagationPolicy")
    if policy is not None and policy not in POLICIES:
        raise errors.bad_request(f'propagationPolicy: Unsupported value: "{policy}": supported '
                                 'values: "Foreground", "Background", "Orphan"')
    if policy is not None and options.get("orphanDependents") is not None:
        raise errors.bad_request("orphanDependents and propagationPolicy cannot both be set")
    grace = options.get("gracePeriodSeconds")
    if grace is not None and (not isinstance(grace, int) or isinstance(grace, bool)):
        raise errors.bad_request("gracePeriodSeconds must be an integer")


def check_preconditions(resource, name, obj, options):
    """409 when DeleteOptions.preconditions (uid, resourceVersion) do not hold."""
    pre = options.get("preconditions") or {}
    md = obj["metadata"]
    for field, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
        if pre.get(field) and pre[field] != md.get(field):
            raise errors.conflict(resource, name, f"Precondition failed: {label} in "
                                  f"precondition: {pre[field]}, {label} in object meta: "
                                  f"{md.get(field)}")


def before_delete(obj, options, grace_period):
    """Mutate `obj` for a graceful deletion of `grace_period` seconds (0: none; what the
    kind asks for this DELETE). Returns (graceful, pending):

    graceful: `obj` now carries a deletionTimestamp in the future (write it, do not delete);
    pending: a graceful deletion is already under way and this DELETE changes nothing.
    """
    md = obj["metadata"]
    if md.get("deletionTimestamp"):
        current = md.get("deletionGracePeriodSeconds")
        if not current:
            return False, False
        period = options.get("gracePeriodSeconds")
        if period is None or period >= current:
            return False, True
        if period <= 0:
            return False, False
        md["deletionTimestamp"], md["deletionGracePeriodSeconds"] = _time(period), period
        return True, False
    if not grace_period:
        return False, False
    md["deletionTimestamp"] = _time(grace_period)
    md["deletionGracePeriodSeconds"] = grace_period
    return True, False


def _policy(obj, options):
    """"orphan", "foreground" or None (background) for this DELETE."""
    if options.get("orphanDependents") is not None:
        return "orphan" if options["orphanDependents"] else None
    policy = options.get("propagationPolicy")
    if policy:
        return {"Orphan": "orphan", "Foreground": "foreground"}.get(policy)
    for f in obj["metadata"].get("finalizers") or []:
        if f == ORPHAN:
            return "orphan"
        if f == FOREGROUND:
            return "foreground"
    return None


def gc_finalizers(obj, options):
    """deletionFinalizersForGarbageCollection: the finalizers after this DELETE, or None
    if they do not change."""
    old = list(obj["metadata"].get("finalizers") or [])
    new = [f for f in old if f not in (ORPHAN, FOREGROUND)]
    policy = _policy(obj, options)
    if policy == "orphan":
        new.append(ORPHAN)
    elif policy == "foreground":
        new.append(FOREGROUND)
    return None if set(new) == set(old) else new


def mark_deleting(obj):
    """markAsDeleting: an object with finalizers is deleted "now", with grace 0."""
    md = obj["metadata"]
    if not md.get("deletionTimestamp"):
        md["deletionTimestamp"], md["deletionGracePeriodSeconds"] = _time(), 0


def should_delete_during_update(obj):
    """The update removed the last finalizer of an object being deleted: delete it now."""
    md = obj.get("metadata") or {}
    return bool(md.get("deletionTimestamp")) and not md.get("finalizers") \
        and not md.get("deletionGracePeriodSeconds")
