"""Evictions (``policy/v1``): a pod deleted only if its PodDisruptionBudget can spare it.

``kubectl drain node1`` does not delete the node's pods: it POSTs an Eviction to
``.../pods/<name>/eviction`` for each, and the API server decides (`evict`, as upstream's
``EvictionREST.Create``):

1. the Eviction names the pod of the URL (else 400); the request's ``?dryRun`` and the
   Eviction's ``deleteOptions.dryRun`` are one;
2. a pod that has finished, is still Pending or is already terminating is deleted at once,
   no budget asked: it serves nobody (a Pending pod with its resourceVersion as the delete's
   precondition, so that it cannot have started serving in between);
3. otherwise, the PodDisruptionBudgets of its namespace whose selector matches it: none,
   the pod is deleted; more than one, 500 (upstream does not guess which one counts);
4. a pod that is not Ready costs nothing when the budget is met anyway (currentHealthy >=
   desiredHealthy > 0) or its policy is ``unhealthyPodEvictionPolicy: AlwaysAllow``;
5. else **check and decrement**: the budget must describe its current spec
   (``status.observedGeneration``, else 429 "still being processed") and allow a disruption
   (``status.disruptionsAllowed > 0``, else **429 TooManyRequests**, "Cannot evict pod as it
   would violate the pod's disruption budget.", with a ``DisruptionBudget`` cause: kubectl
   drain says so, waits 5 s and asks again). Then ``disruptionsAllowed - 1`` and the pod's
   name and the time in ``status.disruptedPods``, written as a status update guarded by the
   budget's resourceVersion: of two evictions racing for the last disruption, one gets a
   conflict, reads the budget again and finds it spent;
6. the pod gets the condition ``DisruptionTarget`` (reason ``EvictionByEvictionAPI``) and is
   deleted with the Eviction's DeleteOptions, as any DELETE: gracefully, by its kubelet.

The disruption controller (``kfs/controllers/disruption.py``) leaves pods listed in
``disruptedPods`` out of ``currentHealthy`` until they are gone (or 2 minutes have passed),
so the budget it writes next already counts the evicted pod as down.

Mirrors pkg/registry/core/pod/storage/eviction.go (EvictionREST: Create, canIgnorePDB,
checkAndDecrement, getPodDisruptionBudgets, addConditionAndDeletePod) and
staging/src/k8s.io/api/policy/v1 (Eviction, DisruptionBudgetCause).

What real Kubernetes does differently: the same steps; its PodDisruptionBudgets are read
through a client of the API server itself, and policy/v1beta1 Evictions are decoded into
the same internal type (kfs accepts both versions' bodies: their fields are the same).
"""
import copy
import time

from kfs import meta, resources
from kfs.apiserver import errors
from kfs.apiserver.kinds import Kind

DISRUPTION_BUDGET_CAUSE = "DisruptionBudget"
TOO_MANY_REQUESTS = "Cannot evict pod as it would violate the pod's disruption budget."
MORE_THAN_ONE = ("This pod has more than one PodDisruptionBudget, which the eviction "
                 "subresource does not support.")
MAX_DISRUPTED_PODS = 2000  # MaxDisruptedPodSize: evictions the controller has not seen yet
RETRIES, RETRY_INTERVAL = 20, 0.5  # EvictionsRetry: on conflicts, 20 tries 0.5 s apart


class Eviction(Kind):
    api_version, kind = "policy/v1", "Eviction"
    also_accepts = ("policy/v1beta1",)  # AcceptsGroupVersion: kubectl 1.20 sends v1beta1
    name_rule = None


KIND = Eviction


def evict(registry, pods, namespace, name, eviction, dry_run):
    """POST pods/<name>/eviction: delete the pod if its budget allows (`pods`: the Resource)."""
    _check_target(eviction, namespace, name)
    options = delete_options(eviction, dry_run)
    pod = _delete_if_no_budget_counts(registry, pods, namespace, name, options)
    if pod is None:
        return
    budgets = matching_budgets(registry, pod)
    if len(budgets) > 1:
        raise errors.StatusError(500, "", MORE_THAN_ONE)
    pinned = False
    if budgets and unhealthy_may_go(pod, budgets[0]):
        pinned = True  # costs nothing, as long as the pod does not become Ready meanwhile
    elif budgets:
        spend_disruption(registry, budgets[0], meta.name(pod), bool(options.get("dryRun")))
    try:
        delete_pod(registry, pods, namespace, name,
                   _with_resource_version(options, pod) if pinned else options)
    except errors.StatusError as e:
        if pinned and e.reason == "Conflict" and not _resource_version_given(options):
            raise too_many_requests(f"The disruption budget {meta.name(budgets[0])} is still "
                                    "being processed by the server.", retry_after=10) from None
        raise


def _check_target(eviction, namespace, name):
    md = eviction.setdefault("metadata", {})
    if md.get("name") != name:
        raise errors.bad_request("name in URL does not match name in Eviction object")
    if md.get("namespace") and md["namespace"] != namespace:
        raise errors.bad_request("the namespace of the provided object does not match the "
                                 "namespace sent on the request")


def delete_options(eviction, dry_run):
    """The Eviction's DeleteOptions, with the request's dryRun merged in (propagateDryRun)."""
    options = copy.deepcopy(eviction.get("deleteOptions") or {})
    for typemeta in ("kind", "apiVersion"):
        options.pop(typemeta, None)
    for v in options.get("dryRun") or []:
        if v != "All":
            raise errors.bad_request(f'Invalid dryRun value "{v}": only "All" is supported')
    if dry_run and not options.get("dryRun"):
        options["dryRun"] = ["All"]
    return options


def can_ignore_budget(pod):
    """canIgnorePDB: finished, Pending or terminating pods are no disruption."""
    phase = (pod.get("status") or {}).get("phase")
    return phase in ("Succeeded", "Failed", "Pending") or bool(pod["metadata"].get("deletionTimestamp"))


def _must_pin(pod):
    """shouldEnforceResourceVersion: a pod that could still become Ready (a Pending one)."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


def _resource_version_given(options):
    return bool((options.get("preconditions") or {}).get("resourceVersion"))


def _with_resource_version(options, pod):
    out = copy.deepcopy(options)
    out.setdefault("preconditions", {})["resourceVersion"] = pod["metadata"]["resourceVersion"]
    return out


def _delete_if_no_budget_counts(registry, pods, namespace, name, options):
    """Delete a pod no budget protects (step 2): None when deleted, else the pod, to check."""
    for attempt in range(RETRIES):
        pod = registry.get(pods, namespace, name)
        if not can_ignore_budget(pod):
            return pod
        pin = _must_pin(pod) and not _resource_version_given(options)
        try:
            delete_pod(registry, pods, namespace, name,
                       _with_resource_version(options, pod) if pin else options)
            return None
        except errors.StatusError as e:
            if e.reason != "Conflict" or _resource_version_given(options) or attempt == RETRIES - 1:
                raise
        time.sleep(RETRY_INTERVAL)


def matching_budgets(registry, pod):
    """The PodDisruptionBudgets of the pod's namespace that select it (an empty selector
    selects every pod, a missing one none)."""
    pdbs = resources.lookup("poddisruptionbudgets")
    listed = registry.list(pdbs, meta.namespace(pod))["items"]
    return [{"apiVersion": pdbs.api_version, "kind": pdbs.kind, **b} for b in listed
            if meta.selects((b.get("spec") or {}).get("selector"), pod)]


def unhealthy_may_go(pod, pdb):
    """Step 4: an unready pod whose eviction cannot make things worse."""
    if meta.condition_true(pod, "Ready"):
        return False
    if (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy") == "AlwaysAllow":
        return True
    status = pdb.get("status") or {}
    desired = status.get("desiredHealthy", 0)
    return status.get("currentHealthy", 0) >= desired > 0


def too_many_requests(cause, retry_after=0):
    """429 with a DisruptionBudget cause (errors.NewTooManyRequests); `retry_after` seconds
    also go into a Retry-After header, which client-go obeys by itself."""
    details = {"causes": [{"reason": DISRUPTION_BUDGET_CAUSE, "message": cause}]}
    headers = {}
    if retry_after:
        details["retryAfterSeconds"] = retry_after
        headers["Retry-After"] = str(retry_after)
    return errors.StatusError(429, "TooManyRequests", TOO_MANY_REQUESTS, details, headers)


def _forbidden(pdb, why):
    name = meta.name(pdb)
    return errors.StatusError(403, "Forbidden", f'poddisruptionbudget.policy "{name}" is '
                              f"forbidden: {why}", {"name": name, "group": "policy",
                                                    "kind": "poddisruptionbudget"})


def check_and_decrement(pdb, pod_name, dry_run, now=None):
    """The budget after one more disruption (a copy), or a 429/403 StatusError."""
    md, status = pdb["metadata"], pdb.get("status") or {}
    if status.get("observedGeneration", 0) < md.get("generation", 0):
        raise too_many_requests(f"The disruption budget {meta.name(pdb)} is still being "
                                "processed by the server.", retry_after=10)
    allowed = status.get("disruptionsAllowed", 0)
    if allowed < 0:
        raise _forbidden(pdb, "pdb disruptions allowed is negative")
    if len(status.get("disruptedPods") or {}) > MAX_DISRUPTED_PODS:
        raise _forbidden(pdb, "DisruptedPods map too big - too many evictions not confirmed "
                              "by PDB controller")
    if allowed == 0:
        raise too_many_requests(f"The disruption budget {meta.name(pdb)} needs "
                                f"{status.get('desiredHealthy', 0)} healthy pods and has "
                                f"{status.get('currentHealthy', 0)} currently")
    new = copy.deepcopy(pdb)
    status = new.setdefault("status", {})
    status["disruptionsAllowed"] = allowed - 1
    if allowed == 1:
        meta.set_status_condition(status, "DisruptionAllowed", False, "InsufficientPods",
                                  observed_generation=status.get("observedGeneration", 0))
    if not dry_run:
        status.setdefault("disruptedPods", {})[pod_name] = now or meta.now()
    return new


def spend_disruption(registry, pdb, pod_name, dry_run):
    """Check and decrement, written guarded by the budget's resourceVersion; on a conflict
    (another eviction, or the controller, wrote it first) read it again and check again."""
    pdbs = resources.lookup("poddisruptionbudgets")
    for attempt in range(RETRIES):
        new = check_and_decrement(pdb, pod_name, dry_run)
        if dry_run:
            return
        try:
            registry.update(pdbs, meta.namespace(pdb), meta.name(pdb), new, subresource="status")
            return
        except errors.StatusError as e:
            if e.reason != "Conflict" or attempt == RETRIES - 1:
                raise
        time.sleep(RETRY_INTERVAL)
        pdb = registry.get(pdbs, meta.namespace(pdb), meta.name(pdb))


def delete_pod(registry, pods, namespace, name, options):
    """addConditionAndDeletePod: mark the pod DisruptionTarget, then DELETE it."""
    dry_run = bool(options.get("dryRun"))
    if not dry_run:
        marked = registry.update_with(pods, namespace, name,
                                      lambda pod: _mark_disruption_target(pods, pod, options))
        if _resource_version_given(options):  # we changed it: the precondition moves along
            options = copy.deepcopy(options)
            options["preconditions"]["resourceVersion"] = marked["metadata"]["resourceVersion"]
    registry.delete(pods, namespace, name, options, dry_run)


def _mark_disruption_target(pods, pod, options):
    md, pre = pod["metadata"], options.get("preconditions") or {}
    for field, label, why in (("uid", "UID", "deleted and then recreated"),
                              ("resourceVersion", "ResourceVersion", "modified")):
        if pre.get(field) and pre[field] != md.get(field):
            raise errors.conflict(pods, md.get("name"), f"the {label} in the precondition "
                                  f"({pre[field]}) does not match the {label} in record "
                                  f"({md.get(field)}). The object might have been {why}")
    meta.set_condition(pod.setdefault("status", {}), "DisruptionTarget", True,
                       reason="EvictionByEvictionAPI", message="Eviction API: evicting")
    return pod
