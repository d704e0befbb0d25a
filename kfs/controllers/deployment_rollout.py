"""The Deployment controller's rollouts, scaling and status.

Mirrors ``pkg/controller/deployment/rolling.go``, ``recreate.go``, ``sync.go`` (scale,
cleanup, status) and ``progress.go``. Each function takes the controller ``dc`` (for its
writes: ``scale_replicaset``, ``write_status``, events) and the working copy ``d``.

**RollingUpdate** in one sync, upstream's order:

1. scale the new ReplicaSet up, as far as ``replicas + maxSurge`` total pods allow;
2. else scale old ReplicaSets down: first their unavailable pods (they cost nothing),
   then as many available ones as keep ``replicas - maxUnavailable`` available;
3. once complete, delete old ReplicaSets beyond ``revisionHistoryLimit``;
4. write the status and conditions.

One safety margin kfs adds: an old ReplicaSet's ``availableReplicas`` is counted as at
most its ``spec.replicas``, so a status the ReplicaSet controller has not refreshed yet
after a scale-down never lets a second scale-down take away pods twice.

What real Kubernetes does differently: the same steps, plus ``rollbackTo`` handling and
ReplicaFailure conditions copied from ReplicaSets.
"""
from kfs import meta
from kfs.controllers import controller_utils as cu
from kfs.controllers import deployment_util as du


# -- RollingUpdate (rolling.go) ----------------------------------------------------------------

def rollout_rolling(dc, d, rs_list):
    new_rs, old_rs = dc.all_replicasets_and_sync_revision(d, rs_list, create=True)
    all_rs = old_rs + [new_rs]
    if reconcile_new_replicaset(dc, all_rs, new_rs, d):
        return sync_rollout_status(dc, all_rs, new_rs, d)
    if reconcile_old_replicasets(dc, all_rs, du.active(old_rs), new_rs, d):
        return sync_rollout_status(dc, all_rs, new_rs, d)
    if du.deployment_complete(d, d.get("status") or {}):
        cleanup_deployment(dc, old_rs, d)
    return sync_rollout_status(dc, all_rs, new_rs, d)


def reconcile_new_replicaset(dc, all_rs, new_rs, d):
    if du.replicas(new_rs) == du.replicas(d):
        return False
    if du.replicas(new_rs) > du.replicas(d):
        return dc.scale_replicaset_and_record_event(new_rs, du.replicas(d), d)[0]
    count = du.new_rs_new_replicas(d, all_rs, new_rs)
    return dc.scale_replicaset_and_record_event(new_rs, count, d)[0]


def reconcile_old_replicasets(dc, all_rs, old_rs, new_rs, d):
    if du.replica_count(old_rs) == 0:
        return False
    min_available = du.replicas(d) - du.max_unavailable(d)
    new_unavailable = max(du.replicas(new_rs) - du.status_of(new_rs, "availableReplicas"), 0)
    max_scaled_down = du.replica_count(all_rs) - min_available - new_unavailable
    if max_scaled_down <= 0:
        return False
    old_rs, cleaned = cleanup_unhealthy_replicas(dc, old_rs, d, max_scaled_down)
    scaled = scale_down_old_replicasets_for_rolling_update(dc, old_rs + [new_rs], old_rs, d)
    return cleaned + scaled > 0


def cleanup_unhealthy_replicas(dc, old_rs, d, max_cleanup):
    """Scale old ReplicaSets down by their unavailable pods first: that costs nothing."""
    old_rs = sorted(old_rs, key=du.by_creation)
    total = 0
    for i, rs in enumerate(old_rs):
        if total >= max_cleanup:
            break
        unhealthy = du.replicas(rs) - du.status_of(rs, "availableReplicas")
        if du.replicas(rs) == 0 or unhealthy <= 0:
            continue
        count = min(max_cleanup - total, unhealthy)
        _, old_rs[i] = dc.scale_replicaset_and_record_event(rs, du.replicas(rs) - count, d)
        total += count
    return old_rs, total


def _available(rs):
    """Available pods of a ReplicaSet, never more than it is meant to have now."""
    return min(du.status_of(rs, "availableReplicas"), du.replicas(rs))


def scale_down_old_replicasets_for_rolling_update(dc, all_rs, old_rs, d):
    min_available = du.replicas(d) - du.max_unavailable(d)
    available = sum(_available(rs) for rs in all_rs if rs is not None)
    if available <= min_available:
        return 0
    to_scale_down, total = available - min_available, 0
    for rs in sorted(old_rs, key=du.by_creation):
        if total >= to_scale_down:
            break
        if du.replicas(rs) == 0:
            continue
        count = min(du.replicas(rs), to_scale_down - total)
        dc.scale_replicaset_and_record_event(rs, du.replicas(rs) - count, d)
        total += count
    return total


# -- Recreate (recreate.go) ---------------------------------------------------------------------

def rollout_recreate(dc, d, rs_list, pod_map):
    new_rs, old_rs = dc.all_replicasets_and_sync_revision(d, rs_list, create=False)
    all_rs = old_rs + [new_rs]
    scaled_down = False
    for rs in du.active(old_rs):
        scaled_down |= dc.scale_replicaset_and_record_event(rs, 0, d)[0]
    if scaled_down or old_pods_running(new_rs, old_rs, pod_map):
        return sync_rollout_status(dc, all_rs, new_rs, d)
    if new_rs is None:
        new_rs, old_rs = dc.all_replicasets_and_sync_revision(d, rs_list, create=True)
        all_rs = old_rs + [new_rs]
    dc.scale_replicaset_and_record_event(new_rs, du.replicas(d), d)
    if du.deployment_complete(d, d.get("status") or {}):
        cleanup_deployment(dc, old_rs, d)
    return sync_rollout_status(dc, all_rs, new_rs, d)


def old_pods_running(new_rs, old_rs, pod_map):
    if du.actual_replica_count(old_rs) > 0:
        return True
    new_uid = new_rs["metadata"]["uid"] if new_rs is not None else None
    return any((p.get("status") or {}).get("phase") not in ("Failed", "Succeeded")
               for uid, pods in pod_map.items() if uid != new_uid for p in pods)


# -- scaling without a rollout (sync.go) ----------------------------------------------------------

def sync(dc, d, rs_list):
    """A scaling event or a paused Deployment: scale, clean up, refresh the status."""
    new_rs, old_rs = dc.all_replicasets_and_sync_revision(d, rs_list, create=False)
    scale(dc, d, new_rs, old_rs)
    if d["spec"].get("paused"):
        cleanup_deployment(dc, old_rs, d)
    return sync_deployment_status(dc, old_rs + [new_rs], new_rs, d)


def scale(dc, d, new_rs, old_rs):
    target = du.find_active_or_latest(new_rs, old_rs)
    if target is not None:
        if du.replicas(target) != du.replicas(d):
            dc.scale_replicaset_and_record_event(target, du.replicas(d), d)
        return
    if du.is_saturated(d, new_rs):
        for rs in du.active(old_rs):
            dc.scale_replicaset_and_record_event(rs, 0, d)
        return
    if not du.is_rolling_update(d):
        return
    all_rs = du.active(old_rs + [new_rs])
    allowed = du.replicas(d) + du.max_surge(d) if du.replicas(d) > 0 else 0
    to_add = allowed - du.replica_count(all_rs)
    if to_add > 0:    # larger first; among equals, newer first when growing
        all_rs.sort(key=lambda rs: (-du.replicas(rs), _neg_time(rs)))
    elif to_add < 0:  # ... older first when shrinking
        all_rs.sort(key=lambda rs: (-du.replicas(rs), du.by_creation(rs)))
    sizes, added = {}, 0
    for rs in all_rs:
        share = du.proportion(rs, d, to_add, added) if to_add else 0
        sizes[meta.name(rs)] = du.replicas(rs) + share
        added += share
    operation = "up" if to_add > 0 else "down"
    for i, rs in enumerate(all_rs):
        if i == 0 and to_add:
            sizes[meta.name(rs)] = max(sizes[meta.name(rs)] + to_add - added, 0)
        dc.scale_replicaset(rs, sizes[meta.name(rs)], d, operation)


def _neg_time(rs):
    ts = rs["metadata"].get("creationTimestamp")
    return -meta.parse_time(ts).timestamp() if ts else 0


def cleanup_deployment(dc, old_rs, d):
    """Delete the oldest old ReplicaSets beyond revisionHistoryLimit (if scaled to 0)."""
    limit = d["spec"].get("revisionHistoryLimit", 10)
    if limit is None:
        return
    alive = [rs for rs in old_rs if not cu.being_deleted(rs)]
    diff = len(alive) - limit
    if diff <= 0:
        return
    alive.sort(key=lambda rs: (du.revision(rs), du.by_creation(rs)))
    for rs in alive[:diff]:
        if (du.status_of(rs, "replicas") or du.replicas(rs)
                or rs["metadata"].get("generation", 1) > du.status_of(rs, "observedGeneration")):
            continue
        try:
            dc.client.delete("replicasets", meta.name(rs), meta.namespace(rs),
                             uid=rs["metadata"]["uid"])
        except Exception as e:
            if getattr(e, "code", None) != 404:
                raise


# -- status and progress (sync.go, progress.go) -------------------------------------------------

def calculate_status(all_rs, new_rs, d):
    available = du.available_replica_count(all_rs)
    old = d.get("status") or {}
    status = {
        "observedGeneration": d["metadata"].get("generation", 1),
        "replicas": du.actual_replica_count(all_rs),
        "updatedReplicas": du.actual_replica_count([new_rs]),
        "readyReplicas": du.ready_replica_count(all_rs),
        "availableReplicas": available,
        "unavailableReplicas": max(du.replica_count(all_rs) - available, 0),
        "conditions": [dict(c) for c in old.get("conditions") or []],
    }
    if old.get("collisionCount") is not None:
        status["collisionCount"] = old["collisionCount"]
    if available >= du.replicas(d) - du.max_unavailable(d):
        cond = du.new_condition("Available", "True", du.MIN_AVAILABLE,
                                "Deployment has minimum availability.")
    else:
        cond = du.new_condition("Available", "False", du.MIN_UNAVAILABLE,
                                "Deployment does not have minimum availability.")
    du.set_condition(status, cond)
    return status


def sync_deployment_status(dc, all_rs, new_rs, d):
    status = calculate_status(all_rs, new_rs, d)
    if not cu.semantic_equal(d.get("status") or {}, status):
        d["status"] = status
        dc.write_status(d)
    return None


def sync_status_only(dc, d, rs_list):
    new_rs, old_rs = dc.all_replicasets_and_sync_revision(d, rs_list, create=False)
    return sync_deployment_status(dc, old_rs + [new_rs], new_rs, d)


def sync_rollout_status(dc, all_rs, new_rs, d):
    """Status plus the Progressing condition; returns seconds until the deadline check."""
    status = calculate_status(all_rs, new_rs, d)
    current = du.get_condition(d.get("status") or {}, "Progressing")
    complete = (status["replicas"] == status["updatedReplicas"] and current is not None
                and current.get("reason") == du.NEW_RS_AVAILABLE)
    name = f'ReplicaSet "{meta.name(new_rs)}"' if new_rs else f'Deployment "{meta.name(d)}"'
    if du.has_progress_deadline(d) and not complete:
        if du.deployment_complete(d, status):
            du.set_condition(status, du.new_condition(
                "Progressing", "True", du.NEW_RS_AVAILABLE, f"{name} has successfully progressed."))
        elif du.deployment_progressing(d, status):
            cond = du.new_condition("Progressing", "True", du.RS_UPDATED, f"{name} is progressing.")
            if current is not None and current.get("status") == "True":
                cond["lastTransitionTime"] = current.get("lastTransitionTime")
            du.remove_condition(status, "Progressing")
            du.set_condition(status, cond)
        elif du.deployment_timed_out(d, status, dc.clock()):
            du.set_condition(status, du.new_condition(
                "Progressing", "False", du.TIMED_OUT, f"{name} has timed out progressing."))
    if cu.semantic_equal(d.get("status") or {}, status):
        return requeue_stuck_deployment(dc, d, status)
    d["status"] = status
    dc.write_status(d)
    return None


def requeue_stuck_deployment(dc, d, status):
    """Seconds until this rollout's progress deadline, to check it then (or None)."""
    current = du.get_condition(d.get("status") or {}, "Progressing")
    if not du.has_progress_deadline(d) or current is None:
        return None
    if du.deployment_complete(d, status) or current.get("reason") == du.TIMED_OUT:
        return None
    if not current.get("lastUpdateTime"):
        return None
    deadline = meta.parse_time(current["lastUpdateTime"]).timestamp() + du.progress_deadline(d)
    return max(deadline - dc.clock(), 0) + 1
