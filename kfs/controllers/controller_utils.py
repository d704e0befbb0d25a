"""What every controller of the manager shares: expectations, claiming, pod helpers.

Mirrors ``pkg/controller/controller_utils.go`` (expectations, ``FilterActivePods``,
``ActivePodsWithRanks``, ``slowStartBatch``, ``GetPodFromTemplate``) and
``pkg/controller/controller_ref_manager.go`` (adopting orphans, releasing what no longer
matches, ``RecheckDeletionTimestamp``), shrunk.

**Expectations.** A controller acts on its cache, and its cache lags behind its own
writes: right after creating 3 pods, the cache may still show none. Without a memory of
what it just did, the next sync would create 3 more. So before writing, a controller
records what it expects to see ("3 creations, these 2 deletions"); each informer event
lowers the count; until the count reaches zero (or the record is 5 minutes old: an event
was lost), the controller does not create or delete again.

What real Kubernetes does differently: expectations are keyed by the controller's
UID-tracking store with a TTL cache; adoption uses a strategic merge patch on
``ownerReferences`` with a UID precondition; the ranking also weighs pod-deletion-cost
against the number of related pods per node with logarithmic buckets.
"""
import copy
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from kfs import meta

EXPECTATIONS_TIMEOUT = 300.0
SLOW_START_INITIAL_BATCH = 1


class Expectations:
    """Pending creations and deletions per controller key (thread-safe)."""

    def __init__(self, timeout=EXPECTATIONS_TIMEOUT, clock=time.monotonic):
        self.timeout, self.clock = timeout, clock
        self.records = {}  # key -> {"add": n, "del": set of pod keys, "at": time}
        self.lock = threading.Lock()

    def _record(self, key):
        return self.records.setdefault(key, {"add": 0, "del": set(), "at": self.clock()})

    def expect_creations(self, key, n):
        with self.lock:
            self.records[key] = {"add": n, "del": set(), "at": self.clock()}

    def expect_deletions(self, key, pod_keys):
        with self.lock:
            self.records[key] = {"add": 0, "del": set(pod_keys), "at": self.clock()}

    def creation_observed(self, key):
        with self.lock:
            if key in self.records:
                self.records[key]["add"] -= 1

    def deletion_observed(self, key, pod_key):
        with self.lock:
            if key in self.records:
                self.records[key]["del"].discard(pod_key)

    def satisfied(self, key):
        """True when nothing is pending for `key`, or the record is too old to trust."""
        with self.lock:
            r = self.records.get(key)
            if r is None:
                return True
            fulfilled = r["add"] <= 0 and not r["del"]
            return fulfilled or self.clock() - r["at"] > self.timeout

    def pending(self, key):
        with self.lock:
            r = self.records.get(key) or {"add": 0, "del": ()}
            return max(r["add"], 0), len(r["del"])

    def delete(self, key):
        with self.lock:
            self.records.pop(key, None)


# -- owner references: adopt and release (controller_ref_manager.go) -------------------------

def is_controlled_by(obj, owner):
    ref = meta.controller_of(obj)
    return bool(ref) and ref.get("uid") == owner["metadata"].get("uid")


def claim(owner, objects, selector, adopt, release, can_adopt=lambda: True):
    """The objects `owner` should manage: those it controls that still match `selector`,
    plus orphans that match (adopted). Controlled objects that stopped matching are
    released. `adopt(obj)`/`release(obj)` write to the API server; a 404 there means the
    object is gone and it is left out. Objects controlled by someone else are ignored.
    """
    claimed, adoption_checked = [], False
    for obj in objects:
        ref = meta.controller_of(obj)
        matching = meta.selects(selector, obj)
        if ref is not None:
            if ref.get("uid") != owner["metadata"]["uid"]:
                continue
            if matching:
                claimed.append(obj)
            elif not being_deleted(owner):
                _quietly(release, obj)
            continue
        if not matching or being_deleted(owner) or being_deleted(obj):
            continue
        if not adoption_checked:  # upstream's RecheckDeletionTimestamp, once per sync
            if not can_adopt():
                return claimed
            adoption_checked = True
        adopted = _quietly(adopt, obj)
        if adopted is not None:
            claimed.append(adopted)
    return claimed


def owner_still_adoptable(client, resource, owner):
    """Re-read `owner` from the API server, not the cache: may it still adopt? Not if it is
    gone, replaced by another object of its name, or being deleted (upstream's
    ``RecheckDeletionTimestamp``: a cache may not show the deletion yet, and an owner being
    deleted must not take on new dependents the garbage collector would then miss)."""
    from kfs.client import ApiError
    try:
        fresh = client.get(resource, meta.name(owner), meta.namespace(owner))
    except ApiError as e:
        if e.not_found:
            return False
        raise
    return fresh["metadata"]["uid"] == owner["metadata"]["uid"] and not being_deleted(fresh)


def _quietly(write, obj):
    from kfs.client import ApiError
    try:
        return write(obj)
    except ApiError as e:
        if e.not_found:
            return None
        raise


def with_controller_ref(obj, owner):
    """A copy of `obj` with `owner` added as its controller (kind, name, uid)."""
    obj = copy.deepcopy(obj)
    refs = obj["metadata"].setdefault("ownerReferences", [])
    refs.append(meta.owner_reference(owner))
    return obj


def without_owner(obj, uid):
    obj = copy.deepcopy(obj)
    refs = [r for r in obj["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
    obj["metadata"]["ownerReferences"] = refs
    return obj


def being_deleted(obj):
    return bool(obj.get("metadata", {}).get("deletionTimestamp"))


# -- pods ---------------------------------------------------------------------------------

def is_pod_active(pod):
    """Not finished and not being deleted: a pod that counts towards the replicas."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not being_deleted(pod)


def filter_active_pods(pods):
    return [p for p in pods if is_pod_active(p)]


def is_pod_ready(pod):
    return meta.condition_true(pod, "Ready")


def ready_since(pod):
    """Seconds since epoch when the pod became Ready, or None."""
    c = meta.get_condition(pod.get("status"), "Ready")
    if not c or c.get("status") != "True" or not c.get("lastTransitionTime"):
        return None
    return meta.parse_time(c["lastTransitionTime"]).timestamp()


def is_pod_available(pod, min_ready_seconds=0, now=None):
    """Ready, and Ready for at least `min_ready_seconds` (upstream IsPodAvailable)."""
    if not is_pod_ready(pod):
        return False
    if not min_ready_seconds:
        return True
    since = ready_since(pod)
    return since is not None and since + min_ready_seconds <= (now or time.time())


def _epoch(text):
    return meta.parse_time(text).timestamp() if text else None


def deletion_rank(pod, related_on_node):
    """Sort key: pods to delete first sort first (ActivePodsWithRanks.Less).

    Unassigned before assigned; Pending, Unknown, Running; not ready before ready; lower
    deletion cost; more sibling pods on the same node (spreads what remains); ready for
    less time; more restarts; newer before older.
    """
    status = pod.get("status") or {}
    phase = {"Pending": 0, "Unknown": 1, "Running": 2}.get(status.get("phase"), 0)
    cost = int(meta.annotations(pod).get("controller.kubernetes.io/pod-deletion-cost", 0))
    ready_at = ready_since(pod)
    restarts = sum(c.get("restartCount", 0) for c in status.get("containerStatuses") or [])
    created = _epoch(pod["metadata"].get("creationTimestamp"))
    return (bool(pod["spec"].get("nodeName")), phase, is_pod_ready(pod), cost,
            -related_on_node, -(ready_at or float("inf")), -restarts,
            -(created if created is not None else float("inf")))


def pods_to_delete(pods, related, count):
    """The `count` pods to delete, ranked as upstream does (`related`: all active pods of
    the owner, used to count siblings per node)."""
    per_node = {}
    for p in related:
        node = p["spec"].get("nodeName")
        per_node[node] = per_node.get(node, 0) + 1
    ranked = sorted(pods, key=lambda p: deletion_rank(p, per_node.get(p["spec"].get("nodeName"), 0)))
    return ranked[:count]


def pod_from_template(template, owner):
    """A new pod for `owner` from its pod template: generateName "<owner>-", controller ref."""
    md = (template or {}).get("metadata") or {}
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"generateName": f"{meta.name(owner)}-",
                        "namespace": meta.namespace(owner),
                        "labels": dict(md.get("labels") or {}),
                        "ownerReferences": [meta.owner_reference(owner)]},
           "spec": copy.deepcopy((template or {}).get("spec") or {})}
    if md.get("annotations"):
        pod["metadata"]["annotations"] = dict(md["annotations"])
    if md.get("finalizers"):
        pod["metadata"]["finalizers"] = list(md["finalizers"])
    return pod


def slow_start_batch(count, fn, initial_batch=SLOW_START_INITIAL_BATCH, max_workers=16):
    """Call `fn()` `count` times in batches of 1, 2, 4, ... run concurrently; stop after the
    first batch with a failure. Returns (successes, first error or None).

    A controller that cannot create pods (quota, a missing image pull secret, a broken
    admission webhook) thus fails once, not `count` times.
    """
    done, batch = 0, min(count, initial_batch)
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        while batch > 0:
            futures = [pool.submit(fn) for _ in range(batch)]
            errors = [f.exception() for f in futures if f.exception() is not None]
            done += batch - len(errors)
            if errors:
                return done, errors[0]
            count -= batch
            batch = min(2 * batch, count)
    return done, None


def semantic_equal(a, b):
    """Equal once empty values (0, "", None, [], {}) are left out, as a server storing
    the object may leave them out: comparing raw dicts would rewrite statuses forever."""
    return _prune(a) == _prune(b)


def _prune(value):
    if isinstance(value, dict):
        pruned = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (0, "", None, [], {})}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value
