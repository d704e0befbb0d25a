"""Helpers of the Deployment controller: template hash, revisions, surge arithmetic, conditions.

Mirrors ``pkg/controller/deployment/util/deployment_util.go`` and ``controller.ComputeHash``.

- **The pod-template hash.** A Deployment's ReplicaSets are named ``<deployment>-<hash>``,
  the hash a stable function of the pod template (FNV-1a 32 over the template, plus the
  collision count, written with the alphabet ``bcdfghjklmnpqrstvwxz2456789`` so it never
  spells a word). The label ``pod-template-hash=<hash>`` goes on the ReplicaSet's
  selector and template, so ReplicaSets of one Deployment never fight over pods.
- **Revisions.** Each ReplicaSet carries ``deployment.kubernetes.io/revision``; the newest
  template gets max(old revisions) + 1, also written on the Deployment. A template that
  comes back (``kubectl rollout undo``) takes a new revision and remembers the old one in
  ``revision-history``. ``desired-replicas`` and ``max-replicas`` record the Deployment's
  size when the ReplicaSet was last scaled, for proportional scaling.
- **Fenceposts.** maxSurge (rounded up) and maxUnavailable (rounded down) as ints or
  percentages of the replicas; if both come to 0, maxUnavailable is 1.

What real Kubernetes does differently: the hash is computed over a deep, type-aware dump
of the Go struct (``DeepHashObject``), so kfs hashes differ from upstream's for the same
template; defaults come from the API server's defaulting functions, not from here.
"""
import copy
import json
import math

from kfs import meta

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ROLLBACK_TO = "deprecated.deployment.rollback.to"
SKIP_COPY = {LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS,
             ROLLBACK_TO}
MAX_REV_HISTORY_CHARS = 2000

# Progressing / Available condition reasons (deployment_util.go)
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
FAILED_RS_CREATE = "ReplicaSetCreateError"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"

SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


# -- the template hash ----------------------------------------------------------------------

def fnv32a(data, h=0x811C9DC5):
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(text):
    return "".join(SAFE_ALPHABET[ord(ch) % len(SAFE_ALPHABET)] for ch in text)


def compute_hash(template, collision_count=None):
    canonical = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    h = fnv32a(canonical)
    if collision_count is not None:
        h = fnv32a(int(collision_count).to_bytes(4, "little") + bytes(4), h)
    return safe_encode(str(h))


def _without_hash(template):
    t = copy.deepcopy(template or {})
    md = t.setdefault("metadata", {})
    labels = dict(md.get("labels") or {})
    labels.pop(HASH_LABEL, None)
    if labels:
        md["labels"] = labels
    else:
        md.pop("labels", None)
    if not md:
        t.pop("metadata")
    return t


def equal_ignore_hash(t1, t2):
    return _without_hash(t1) == _without_hash(t2)


def find_new_replicaset(d, rs_list):
    """The ReplicaSet running d's current template (the oldest, if several), or None."""
    template = d["spec"].get("template")
    h = compute_hash(template, (d.get("status") or {}).get("collisionCount"))
    for rs in sorted(rs_list, key=by_creation):
        if equal_ignore_hash(rs["spec"].get("template"), template) or \
                meta.labels(rs).get(HASH_LABEL) == h == rs_template_hash(rs):
            return rs
    return None


def rs_template_hash(rs):
    return (((rs["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}).get(HASH_LABEL)


def find_old_replicasets(d, rs_list, new_rs=None):
    new_rs = new_rs if new_rs is not None else find_new_replicaset(d, rs_list)
    new_uid = new_rs["metadata"]["uid"] if new_rs else None
    return [rs for rs in rs_list if rs["metadata"]["uid"] != new_uid]


# -- sorting and counting -------------------------------------------------------------------

def by_creation(rs):
    return (rs["metadata"].get("creationTimestamp") or "", meta.name(rs))


def replicas(obj):
    r = obj["spec"].get("replicas")
    return 1 if r is None else r


def status_of(rs, field):
    return (rs.get("status") or {}).get(field) or 0


def active(rs_list):
    return [rs for rs in rs_list if rs is not None and replicas(rs) > 0]


def replica_count(rs_list):
    """Sum of spec.replicas (GetReplicaCountForReplicaSets)."""
    return sum(replicas(rs) for rs in rs_list if rs is not None)


def actual_replica_count(rs_list):
    return sum(status_of(rs, "replicas") for rs in rs_list if rs is not None)


def ready_replica_count(rs_list):
    return sum(status_of(rs, "readyReplicas") for rs in rs_list if rs is not None)


def available_replica_count(rs_list):
    return sum(status_of(rs, "availableReplicas") for rs in rs_list if rs is not None)


# -- revisions -------------------------------------------------------------------------------

def revision(obj):
    try:
        return int(meta.annotations(obj).get(REVISION, 0))
    except ValueError:
        return 0


def max_revision(rs_list):
    return max((revision(rs) for rs in rs_list), default=0)


def set_new_replicaset_annotations(d, rs, new_revision, exists):
    """Copy d's annotations to its new ReplicaSet, raise its revision (keeping the old one
    in revision-history), and on creation record the replica annotations. Changed?"""
    changed = copy_deployment_annotations(d, rs)
    ann = rs["metadata"].setdefault("annotations", {})
    old = ann.get(REVISION, "")
    try:
        old_int = int(old or 0)
    except ValueError:
        return False
    if old_int < int(new_revision):
        ann[REVISION] = str(new_revision)
        changed = True
        if old:
            history = [h for h in ann.get(REVISION_HISTORY, "").split(",") if h] + [old]
            while len(",".join(history)) > MAX_REV_HISTORY_CHARS:
                history.pop(0)
            ann[REVISION_HISTORY] = ",".join(history)
    if not exists and set_replicas_annotations(rs, replicas(d), replicas(d) + max_surge(d)):
        changed = True
    return changed


def copy_deployment_annotations(d, rs):
    ann = rs["metadata"].setdefault("annotations", {})
    changed = False
    for k, v in meta.annotations(d).items():
        if k in SKIP_COPY or ann.get(k) == v:
            continue
        ann[k] = v
        changed = True
    return changed


def set_replicas_annotations(rs, desired, max_replicas):
    ann = rs["metadata"].setdefault("annotations", {})
    wanted = {DESIRED_REPLICAS: str(desired), MAX_REPLICAS: str(max_replicas)}
    if all(ann.get(k) == v for k, v in wanted.items()):
        return False
    ann.update(wanted)
    return True


def replicas_annotations_need_update(rs, desired, max_replicas):
    ann = meta.annotations(rs)
    return ann.get(DESIRED_REPLICAS) != str(desired) or ann.get(MAX_REPLICAS) != str(max_replicas)


def desired_replicas_annotation(rs):
    try:
        return int(meta.annotations(rs)[DESIRED_REPLICAS])
    except (KeyError, ValueError):
        return None


def max_replicas_annotation(rs):
    try:
        return int(meta.annotations(rs)[MAX_REPLICAS])
    except (KeyError, ValueError):
        return None


# -- strategy arithmetic ----------------------------------------------------------------------

def strategy(d):
    s = d["spec"].get("strategy") or {}
    return s.get("type") or "RollingUpdate"


def is_rolling_update(d):
    return strategy(d) == "RollingUpdate"


def scaled_value(value, total, round_up):
    """An int, or a percentage of `total` ("25%"), rounded up or down."""
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not text.endswith("%"):
        return int(text)
    exact = int(text[:-1]) * total / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def resolve_fenceposts(max_surge, max_unavailable, desired):
    surge = scaled_value("25%" if max_surge is None else max_surge, desired, True)
    unavailable = scaled_value("25%" if max_unavailable is None else max_unavailable,
                               desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def _rolling(d):
    return (d["spec"].get("strategy") or {}).get("rollingUpdate") or {}


def max_surge(d):
    if not is_rolling_update(d):
        return 0
    ru = _rolling(d)
    return resolve_fenceposts(ru.get("maxSurge"), ru.get("maxUnavailable"), replicas(d))[0]


def max_unavailable(d):
    if not is_rolling_update(d) or replicas(d) == 0:
        return 0
    ru = _rolling(d)
    unavailable = resolve_fenceposts(ru.get("maxSurge"), ru.get("maxUnavailable"), replicas(d))[1]
    return min(unavailable, replicas(d))


def new_rs_new_replicas(d, all_rs, new_rs):
    """How big the new ReplicaSet may be now (NewRSNewReplicas)."""
    if not is_rolling_update(d):
        return replicas(d)
    surge = scaled_value(_rolling(d).get("maxSurge", "25%"), replicas(d), True)
    current = replica_count(all_rs)
    max_total = replicas(d) + surge
    if current >= max_total:
        return replicas(new_rs)
    return replicas(new_rs) + min(max_total - current, replicas(d) - replicas(new_rs))


def is_saturated(d, rs):
    return (rs is not None and desired_replicas_annotation(rs) == replicas(d)
            and replicas(rs) == replicas(d) and status_of(rs, "availableReplicas") == replicas(d))


def find_active_or_latest(new_rs, old_rs):
    if new_rs is None and not old_rs:
        return None
    newest_first = sorted(old_rs, key=by_creation, reverse=True)
    running = active(newest_first + [new_rs])
    if not running:
        return new_rs if new_rs is not None else newest_first[0]
    return running[0] if len(running) == 1 else None


def replicaset_fraction(rs, d):
    if replicas(d) == 0:
        return -replicas(rs)
    deployment_replicas = replicas(d) + max_surge(d)
    annotated = max_replicas_annotation(rs)
    if not annotated:
        annotated = (d.get("status") or {}).get("replicas") or deployment_replicas
    return math.floor(replicas(rs) * deployment_replicas / annotated + 0.5) - replicas(rs)


def proportion(rs, d, to_add, added):
    """How many replicas of `to_add` this ReplicaSet takes in a proportional scale."""
    if rs is None or replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = replicaset_fraction(rs, d)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


# -- conditions --------------------------------------------------------------------------------

def new_condition(type_, status, reason, message):
    at = meta.now()
    return {"type": type_, "status": status, "lastUpdateTime": at, "lastTransitionTime": at,
            "reason": reason, "message": message}


def get_condition(status, type_):
    return meta.get_condition(status, type_)


def set_condition(status, cond):
    """SetDeploymentCondition: same status and reason means nothing to change."""
    current = get_condition(status, cond["type"])
    if current and current.get("status") == cond["status"] and current.get("reason") == cond["reason"]:
        return
    if current and current.get("status") == cond["status"]:
        cond = {**cond, "lastTransitionTime": current.get("lastTransitionTime")}
    remove_condition(status, cond["type"])
    status.setdefault("conditions", []).append(cond)


def remove_condition(status, type_):
    status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != type_]


def has_progress_deadline(d):
    deadline = d["spec"].get("progressDeadlineSeconds", 600)
    return deadline is not None and deadline < 2**31 - 1


def progress_deadline(d):
    return d["spec"].get("progressDeadlineSeconds", 600)


def deployment_complete(d, status):
    r = replicas(d)
    return (status.get("updatedReplicas", 0) == r and status.get("replicas", 0) == r
            and status.get("availableReplicas", 0) == r
            and status.get("observedGeneration", 0) >= d["metadata"].get("generation", 1))


def deployment_progressing(d, new):
    old = d.get("status") or {}
    g = lambda s, k: s.get(k) or 0  # noqa: E731
    return (g(new, "updatedReplicas") > g(old, "updatedReplicas")
            or g(new, "replicas") - g(new, "updatedReplicas") < g(old, "replicas") - g(old, "updatedReplicas")
            or g(new, "readyReplicas") > g(old, "readyReplicas")
            or g(new, "availableReplicas") > g(old, "availableReplicas"))


def deployment_timed_out(d, status, now):
    if not has_progress_deadline(d):
        return False
    cond = get_condition(status, "Progressing")
    if cond is None or cond.get("reason") == NEW_RS_AVAILABLE:
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    return meta.parse_time(cond["lastUpdateTime"]).timestamp() + progress_deadline(d) < now
