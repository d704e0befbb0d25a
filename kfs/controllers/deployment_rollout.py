"""One sync of one Deployment: its rollout, scaling and status.

Mirrors the ``deploymentController`` methods that ``syncDeployment`` calls, in
``pkg/controller/deployment/rolling.go``, ``recreate.go``, ``sync.go`` (the new ReplicaSet
and revisions, scale, cleanup, status) and ``progress.go``. Upstream passes the Deployment
and its ReplicaSets from method to method; here a ``Rollout`` is made for each sync and
holds them: ``d``, the working copy of the Deployment (refreshed after every status
write), and ``replica_sets``, copies of the ReplicaSets it claimed (the new one refreshed
when this sync updates it, so later steps see the update).

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
import copy
import logging
import time

from kfs import meta
from kfs.client import ApiError
from kfs.controllers import controller_utils as cu
from kfs.controllers import deployment_util as du

log = logging.getLogger("kfs.controllers.deployment")


class Rollout:
    """The steps of one sync of Deployment `d` over its ReplicaSets and their pods.

    `pod_map`: ReplicaSet uid -> its pods (for Recreate); `rs_cache`: the ReplicaSet
    informer (to tell our own ReplicaSet, seen late, from a hash collision); `clock`: wall
    time, for progress deadlines.
    """

    def __init__(self, client, d, replica_sets, pod_map, recorder=None, clock=time.time,
                 rs_cache=None):
        self.client, self.d, self.replica_sets = client, d, list(replica_sets)
        self.pod_map, self.recorder, self.clock, self.rs_cache = (pod_map, recorder, clock,
                                                                   rs_cache)

    def event(self, obj, type_, reason, message):
        if self.recorder is not None:
            self.recorder.event(obj, type_, reason, message)

    # -- RollingUpdate (rolling.go) ------------------------------------------------------------

    def rollout_rolling(self):
        new_rs, old_rs = self.all_replicasets_and_sync_revision(create=True)
        all_rs = old_rs + [new_rs]
        if self.reconcile_new_replicaset(all_rs, new_rs):
            return self.sync_rollout_status(all_rs, new_rs)
        if self.reconcile_old_replicasets(all_rs, du.active(old_rs), new_rs):
            return self.sync_rollout_status(all_rs, new_rs)
        if du.deployment_complete(self.d, self.d.get("status") or {}):
            self.cleanup_deployment(old_rs)
        return self.sync_rollout_status(all_rs, new_rs)

    def reconcile_new_replicaset(self, all_rs, new_rs):
        wanted = du.replicas(self.d)
        if du.replicas(new_rs) == wanted:
            return False
        if du.replicas(new_rs) > wanted:
            return self.scale_replicaset_and_record_event(new_rs, wanted)[0]
        count = du.new_rs_new_replicas(self.d, all_rs, new_rs)
        return self.scale_replicaset_and_record_event(new_rs, count)[0]

    def reconcile_old_replicasets(self, all_rs, old_rs, new_rs):
        if du.replica_count(old_rs) == 0:
            return False
        min_available = du.replicas(self.d) - du.max_unavailable(self.d)
        new_unavailable = max(du.replicas(new_rs) - du.status_of(new_rs, "availableReplicas"), 0)
        max_scaled_down = du.replica_count(all_rs) - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        old_rs, cleaned = self.cleanup_unhealthy_replicas(old_rs, max_scaled_down)
        scaled = self.scale_down_old_replicasets_for_rolling_update(old_rs + [new_rs], old_rs)
        return cleaned + scaled > 0

    def cleanup_unhealthy_replicas(self, old_rs, max_cleanup):
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
            _, old_rs[i] = self.scale_replicaset_and_record_event(rs, du.replicas(rs) - count)
            total += count
        return old_rs, total

    def scale_down_old_replicasets_for_rolling_update(self, all_rs, old_rs):
        min_available = du.replicas(self.d) - du.max_unavailable(self.d)
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
            self.scale_replicaset_and_record_event(rs, du.replicas(rs) - count)
            total += count
        return total

    # -- Recreate (recreate.go) -----------------------------------------------------------------

    def rollout_recreate(self):
        new_rs, old_rs = self.all_replicasets_and_sync_revision(create=False)
        all_rs = old_rs + [new_rs]
        if self.scale_down_old_replicasets_for_recreate(du.active(old_rs)) or \
                old_pods_running(new_rs, old_rs, self.pod_map):
            return self.sync_rollout_status(all_rs, new_rs)
        if new_rs is None:
            new_rs, old_rs = self.all_replicasets_and_sync_revision(create=True)
            all_rs = old_rs + [new_rs]
        self.scale_replicaset_and_record_event(new_rs, du.replicas(self.d))
        if du.deployment_complete(self.d, self.d.get("status") or {}):
            self.cleanup_deployment(old_rs)
        return self.sync_rollout_status(all_rs, new_rs)

    def scale_down_old_replicasets_for_recreate(self, old_rs):
        scaled = False
        for rs in old_rs:
            scaled |= self.scale_replicaset_and_record_event(rs, 0)[0]
        return scaled

    # -- the new ReplicaSet and revisions (sync.go) ---------------------------------------------

    def all_replicasets_and_sync_revision(self, create):
        """(new ReplicaSet or None, old ReplicaSets); creates the new one if asked."""
        old_rs = du.find_old_replicasets(self.d, self.replica_sets)
        return self.new_replicaset(old_rs, create), old_rs

    def new_replicaset(self, old_rs, create):
        existing = du.find_new_replicaset(self.d, self.replica_sets)
        new_revision = du.max_revision(old_rs) + 1
        if existing is not None:
            rs = self.sync_existing_new_replicaset(existing, new_revision)
            uid = rs["metadata"]["uid"]  # later steps of this sync see the update
            self.replica_sets = [rs if r["metadata"]["uid"] == uid else r
                                 for r in self.replica_sets]
            return rs
        if not create:
            return None
        return self.create_new_replicaset(old_rs, new_revision)

    def sync_existing_new_replicaset(self, existing, new_revision):
        rs = copy.deepcopy(existing)
        changed = du.set_new_replicaset_annotations(self.d, rs, new_revision, exists=True)
        min_ready = self.d["spec"].get("minReadySeconds", 0)
        if changed or rs["spec"].get("minReadySeconds", 0) != min_ready:
            rs["spec"]["minReadySeconds"] = min_ready
            return self.client.replace(rs)
        revision_changed = self.set_deployment_revision(meta.annotations(rs).get(du.REVISION))
        status = self.d.setdefault("status", {})
        status_changed = False
        if du.has_progress_deadline(self.d) and du.get_condition(status, "Progressing") is None:
            du.set_condition(status, du.new_condition(
                "Progressing", "True", du.FOUND_NEW_RS, f'Found new replica set "{meta.name(rs)}"'))
            status_changed = True
        if revision_changed or status_changed:
            self.write_status()
        return rs

    def create_new_replicaset(self, old_rs, new_revision):
        d = self.d
        template = copy.deepcopy(d["spec"]["template"])
        h = du.compute_hash(d["spec"]["template"], d.setdefault("status", {}).get("collisionCount"))
        template.setdefault("metadata", {}).setdefault("labels", {})[du.HASH_LABEL] = h
        selector = copy.deepcopy(d["spec"]["selector"])
        selector.setdefault("matchLabels", {})[du.HASH_LABEL] = h
        rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
              "metadata": {"name": f"{meta.name(d)}-{h}", "namespace": meta.namespace(d),
                           "labels": dict(template["metadata"]["labels"]),
                           "ownerReferences": [meta.owner_reference(d)]},
              "spec": {"replicas": 0, "minReadySeconds": d["spec"].get("minReadySeconds", 0),
                       "selector": selector, "template": template}}
        rs["spec"]["replicas"] = du.new_rs_new_replicas(d, old_rs + [rs], rs)
        du.set_new_replicaset_annotations(d, rs, new_revision, exists=False)
        try:
            created, already = self.client.create(rs), False
        except ApiError as e:
            if e.code != 409:
                msg = f'Failed to create new replica set "{meta.name(rs)}": {e}'
                du.set_condition(d["status"], du.new_condition("Progressing", "False",
                                                               du.FAILED_RS_CREATE, msg))
                self.event(d, "Warning", du.FAILED_RS_CREATE, msg)
                self._quiet_status_write()
                raise
            created, already = self.existing_or_collision(rs, e), True
        if not already and du.replicas(created) > 0:
            self.event(d, "Normal", "ScalingReplicaSet", f"Scaled up replica set "
                       f"{meta.name(created)} from 0 to {du.replicas(created)}")
        revision_changed = self.set_deployment_revision(str(new_revision))
        if not already and du.has_progress_deadline(d):
            du.set_condition(d["status"], du.new_condition(
                "Progressing", "True", du.NEW_RS_CREATED,
                f'Created new replica set "{meta.name(created)}"'))
        if revision_changed or not already:
            self.write_status()
        return created

    def existing_or_collision(self, rs, error):
        """AlreadyExists: our own ReplicaSet seen late by the cache, or a hash collision."""
        existing = self.rs_cache.get(meta.key(rs)) if self.rs_cache is not None else None
        if existing is None:
            existing = self.client.get("replicasets", meta.name(rs), meta.namespace(rs))
        if cu.is_controlled_by(existing, self.d) and du.equal_ignore_hash(
                self.d["spec"]["template"], existing["spec"].get("template")):
            return copy.deepcopy(existing)
        status = self.d.setdefault("status", {})
        status["collisionCount"] = (status.get("collisionCount") or 0) + 1
        self._quiet_status_write()
        raise error

    def set_deployment_revision(self, rev):
        if rev is None or meta.annotations(self.d).get(du.REVISION) == rev:
            return False
        self.d["metadata"].setdefault("annotations", {})[du.REVISION] = rev
        return True

    # -- paused and scaling (sync.go) -----------------------------------------------------------

    def check_paused_conditions(self):
        if not du.has_progress_deadline(self.d):
            return
        status = self.d.setdefault("status", {})
        cond = du.get_condition(status, "Progressing")
        if cond and cond.get("reason") == du.TIMED_OUT:
            return
        paused = self.d["spec"].get("paused")
        paused_noted = bool(cond) and cond.get("reason") == du.PAUSED
        if paused and not paused_noted:
            du.set_condition(status, du.new_condition("Progressing", "Unknown", du.PAUSED,
                                                      "Deployment is paused"))
        elif not paused and paused_noted:
            du.set_condition(status, du.new_condition("Progressing", "Unknown", du.RESUMED,
                                                      "Deployment is resumed"))
        else:
            return
        self.write_status()

    def is_scaling_event(self):
        new_rs, old_rs = self.all_replicasets_and_sync_revision(create=False)
        for rs in du.active(old_rs + [new_rs]):
            desired = du.desired_replicas_annotation(rs)
            if desired is not None and desired != du.replicas(self.d):
                return True
        return False

    def sync(self):
        """A scaling event or a paused Deployment: scale, clean up, refresh the status."""
        new_rs, old_rs = self.all_replicasets_and_sync_revision(create=False)
        self.scale(new_rs, old_rs)
        if self.d["spec"].get("paused"):
            self.cleanup_deployment(old_rs)
        return self.sync_deployment_status(old_rs + [new_rs], new_rs)

    def scale(self, new_rs, old_rs):
        d = self.d
        target = du.find_active_or_latest(new_rs, old_rs)
        if target is not None:
            if du.replicas(target) != du.replicas(d):
                self.scale_replicaset_and_record_event(target, du.replicas(d))
            return
        if du.is_saturated(d, new_rs):
            for rs in du.active(old_rs):
                self.scale_replicaset_and_record_event(rs, 0)
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
            self.scale_replicaset(rs, sizes[meta.name(rs)], operation)

    def cleanup_deployment(self, old_rs):
        """Delete the oldest old ReplicaSets beyond revisionHistoryLimit (if scaled to 0)."""
        limit = self.d["spec"].get("revisionHistoryLimit", 10)
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
                self.client.delete("replicasets", meta.name(rs), meta.namespace(rs),
                                   uid=rs["metadata"]["uid"])
            except ApiError as e:
                if not e.not_found:
                    raise

    # -- writes ---------------------------------------------------------------------------------

    def scale_replicaset_and_record_event(self, rs, new_scale):
        if du.replicas(rs) == new_scale:
            return False, rs
        return self.scale_replicaset(rs, new_scale,
                                     "up" if du.replicas(rs) < new_scale else "down")

    def scale_replicaset(self, rs, new_scale, operation):
        size_changes = du.replicas(rs) != new_scale
        desired = du.replicas(self.d)
        max_replicas = desired + du.max_surge(self.d)
        if not size_changes and not du.replicas_annotations_need_update(rs, desired,
                                                                        max_replicas):
            return False, rs
        old = du.replicas(rs)
        rs = copy.deepcopy(rs)
        rs["spec"]["replicas"] = new_scale
        du.set_replicas_annotations(rs, desired, max_replicas)
        rs = self.client.replace(rs)  # carries the resourceVersion: a stale cache gets a 409
        if size_changes:
            self.event(self.d, "Normal", "ScalingReplicaSet",
                       f"Scaled {operation} replica set {meta.name(rs)} from {old} to {new_scale}")
        return size_changes, rs

    def write_status(self):
        """Persist d's status, and its revision annotation with it: as upstream, through
        the status subresource, which keeps the annotations we send but, unlike an update of
        the Deployment itself, does not count them as a new generation. `d` becomes the
        server's latest version of itself."""
        try:
            self.d = self.client.update_status(self.d)
        except ApiError as e:
            if not e.not_found:  # deleted meanwhile: nothing to report on
                raise

    def _quiet_status_write(self):
        try:
            self.write_status()
        except ApiError as e:
            log.info("%s: status update failed: %s", meta.key(self.d), e)

    # -- status and progress (sync.go, progress.go) ---------------------------------------------

    def sync_deployment_status(self, all_rs, new_rs):
        status = calculate_status(all_rs, new_rs, self.d)
        if not cu.semantic_equal(self.d.get("status") or {}, status):
            self.d["status"] = status
            self.write_status()
        return None

    def sync_status_only(self):
        new_rs, old_rs = self.all_replicasets_and_sync_revision(create=False)
        return self.sync_deployment_status(old_rs + [new_rs], new_rs)

    def sync_rollout_status(self, all_rs, new_rs):
        """Status plus the Progressing condition; returns seconds until the deadline check."""
        d = self.d
        status = calculate_status(all_rs, new_rs, d)
        current = du.get_condition(d.get("status") or {}, "Progressing")
        complete = (status["replicas"] == status["updatedReplicas"] and current is not None
                    and current.get("reason") == du.NEW_RS_AVAILABLE)
        name = f'ReplicaSet "{meta.name(new_rs)}"' if new_rs else f'Deployment "{meta.name(d)}"'
        if du.has_progress_deadline(d) and not complete:
            if du.deployment_complete(d, status):
                du.set_condition(status, du.new_condition(
                    "Progressing", "True", du.NEW_RS_AVAILABLE,
                    f"{name} has successfully progressed."))
            elif du.deployment_progressing(d, status):
                cond = du.new_condition("Progressing", "True", du.RS_UPDATED,
                                        f"{name} is progressing.")
                if current is not None and current.get("status") == "True":
                    cond["lastTransitionTime"] = current.get("lastTransitionTime")
                du.remove_condition(status, "Progressing")
                du.set_condition(status, cond)
            elif du.deployment_timed_out(d, status, self.clock()):
                du.set_condition(status, du.new_condition(
                    "Progressing", "False", du.TIMED_OUT, f"{name} has timed out progressing."))
        if cu.semantic_equal(d.get("status") or {}, status):
            return self.requeue_stuck_deployment(status)
        d["status"] = status
        self.write_status()
        return None

    def requeue_stuck_deployment(self, status):
        """Seconds until this rollout's progress deadline, to check it then (or None)."""
        d = self.d
        current = du.get_condition(d.get("status") or {}, "Progressing")
        if not du.has_progress_deadline(d) or current is None:
            return None
        if du.deployment_complete(d, status) or current.get("reason") == du.TIMED_OUT:
            return None
        if not current.get("lastUpdateTime"):
            return None
        deadline = meta.parse_time(current["lastUpdateTime"]).timestamp() + du.progress_deadline(d)
        return max(deadline - self.clock(), 0) + 1


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


def old_pods_running(new_rs, old_rs, pod_map):
    if du.actual_replica_count(old_rs) > 0:
        return True
    new_uid = new_rs["metadata"]["uid"] if new_rs is not None else None
    return any((p.get("status") or {}).get("phase") not in ("Failed", "Succeeded")
               for uid, pods in pod_map.items() if uid != new_uid for p in pods)


def _available(rs):
    """Available pods of a ReplicaSet, never more than it is meant to have now."""
    return min(du.status_of(rs, "availableReplicas"), du.replicas(rs))


def _neg_time(rs):
    ts = rs["metadata"].get("creationTimestamp")
    return -meta.parse_time(ts).timestamp() if ts else 0
