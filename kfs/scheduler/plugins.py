"""The scheduler's plugins: each a tiny function that says no to a node, or ranks it.

Mirrors ``pkg/scheduler/framework/plugins/*`` (nodeunschedulable, nodename,
tainttoleration, nodeaffinity, nodeports, noderesources, selectorspread) and upstream's
default plugin order (``apis/config/v1/default_plugins.go``). Each filter returns ``None``
(the pod may go there) or a ``Status`` whose reason string is upstream's, word for word,
because ``kubectl describe pod`` shows them to people who search the web for them.

Filters, in the order they run (the first "no" decides a node's reason):

| plugin             | says no when                                              | code         |
|--------------------|-----------------------------------------------------------|--------------|
| NodeUnschedulable  | the node is cordoned (spec.unschedulable)                 | unresolvable |
| NodeName           | the pod names another node (spec.nodeName)                | unresolvable |
| TaintToleration    | a NoSchedule/NoExecute taint the pod does not tolerate    | unresolvable |
| NodeReady          | the node is not Ready (kfs: see node_ready)               | unresolvable |
| NodeAffinity       | nodeSelector or required node affinity do not match       | unresolvable |
| NodePorts          | a host port the pod wants is taken                        | unschedulable|
| NodeResourcesFit   | too little cpu/memory left, or too many pods              | unschedulable|

Scores: NodeResourcesLeastAllocated (weight 1: prefer emptier nodes) and SelectorSpread
(weight 2: prefer nodes with fewer pods of the same owner). An attendee adds their own
with ``kfs scheduler --score-plugin file.py:function[:weight]`` (``load_score_plugin``).

What real Kubernetes does differently: NodeReady is not a plugin there: the node
lifecycle controller taints a node that is not Ready (``node.kubernetes.io/not-ready``,
``.../unreachable``) and TaintToleration does the rest; kfs checks the condition itself so
the scheduler stage works before the controller manager runs, with the same message.
Upstream also has InterPodAffinity, PodTopologySpread, volume plugins, ImageLocality,
BalancedAllocation, TaintToleration and NodeAffinity scores, and PreFilter steps that
compute per-pod data once instead of once per node.
"""
import importlib.util
import os

from kfs import meta
from kfs.scheduler.framework import (MAX_NODE_SCORE, ScorePlugin, host_ports, pod_requests,
                                     unresolvable, unschedulable)

TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"


def _spec(obj):
    return obj.get("spec") or {}


# -- filters ------------------------------------------------------------------------------

def node_unschedulable(pod, node_info):
    """NodeUnschedulable: a cordoned node (``kubectl cordon``) takes no new pods, unless
    the pod tolerates the ``node.kubernetes.io/unschedulable:NoSchedule`` taint."""
    if not _spec(node_info.node).get("unschedulable"):
        return None
    if meta.tolerated(pod, {"key": TAINT_UNSCHEDULABLE, "effect": "NoSchedule"}):
        return None
    return unresolvable("node(s) were unschedulable")


def node_name(pod, node_info):
    """NodeName: a pod that names a node (spec.nodeName) fits that node only."""
    wanted = _spec(pod).get("nodeName")
    if wanted and wanted != node_info.name:
        return unresolvable("node(s) didn't match the requested node name")
    return None


def taint_toleration(pod, node_info):
    """TaintToleration: every NoSchedule or NoExecute taint of the node must be tolerated
    by one of the pod's tolerations; the first one that is not is the reason."""
    for taint in _spec(node_info.node).get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not meta.tolerated(pod, taint):
            return unresolvable(f"node(s) had untolerated taint "
                                f"{{{taint.get('key')}: {taint.get('value') or ''}}}")
    return None


def node_ready(pod, node_info):
    """NodeReady (kfs): a node whose Ready condition is not True takes no new pods.

    It reads the condition as the node lifecycle controller would taint the node:
    Ready=Unknown (the kubelet stopped reporting) as ``node.kubernetes.io/unreachable``,
    Ready=False or no Ready condition yet as ``node.kubernetes.io/not-ready``, with effect
    NoSchedule; a pod tolerating that taint may still go there, and a node that already
    carries the taint is left to TaintToleration.
    """
    ready = meta.get_condition(node_info.node.get("status"), "Ready")
    if ready and ready.get("status") == "True":
        return None
    key = TAINT_UNREACHABLE if ready and ready.get("status") == "Unknown" else TAINT_NOT_READY
    taint = {"key": key, "effect": "NoSchedule"}
    if any(t.get("key") == key for t in _spec(node_info.node).get("taints") or []):
        return None
    if meta.tolerated(pod, taint):
        return None
    return unresolvable(f"node(s) had untolerated taint {{{key}: }}")


def _requirement_matches(req, values_of):
    """One NodeSelectorRequirement: In, NotIn, Exists, DoesNotExist, Gt, Lt."""
    key, op, values = req.get("key"), req.get("operator"), req.get("values") or []
    present, value = key in values_of, values_of.get(key)
    if op == "In":
        return present and value in values
    if op == "NotIn":
        return not present or value not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt"):
        try:
            have, want = int(value), int(values[0])
        except (TypeError, ValueError, IndexError):
            return False
        return have > want if op == "Gt" else have < want
    return False


def node_selector_term_matches(term, node):
    """A NodeSelectorTerm: all its matchExpressions (labels) and matchFields
    (metadata.name) hold; a term with neither matches no node."""
    exprs, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    if not exprs and not fields:
        return False
    labels = meta.labels(node)
    return (all(_requirement_matches(r, labels) for r in exprs)
            and all(_requirement_matches(r, {"metadata.name": meta.name(node)}) for r in fields))


def node_affinity(pod, node_info):
    """NodeAffinity: the node's labels must have every nodeSelector pair, and match one of
    the terms of requiredDuringSchedulingIgnoredDuringExecution (terms are ORed)."""
    labels = meta.labels(node_info.node)
    for k, v in (_spec(pod).get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return unresolvable("node(s) didn't match Pod's node affinity/selector")
    required = (((_spec(pod).get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if required is not None and not any(node_selector_term_matches(t, node_info.node)
                                        for t in required.get("nodeSelectorTerms") or []):
        return unresolvable("node(s) didn't match Pod's node affinity/selector")
    return None


def _ports_conflict(a, b):
    """Same protocol and port, and the same hostIP or either one is 0.0.0.0."""
    return a[1:] == b[1:] and (a[0] == b[0] or "0.0.0.0" in (a[0], b[0]))


def node_ports(pod, node_info):
    """NodePorts: each hostPort the pod's containers want must be free on the node."""
    for wanted in host_ports(pod):
        if any(_ports_conflict(wanted, used) for used in node_info.used_ports):
            return unschedulable("node(s) didn't have free ports for the requested pod ports")
    return None


def node_resources_fit(pod, node_info):
    """NodeResourcesFit: the pod's cpu and memory requests must fit in the node's
    allocatable minus what its pods already request, and one more pod must be allowed.
    Each shortage is its own reason: a node can be short of both cpu and memory."""
    req, used, alloc = pod_requests(pod), node_info.requested, node_info.allocatable
    reasons = []
    if len(node_info.pods) + 1 > alloc.pods:
        reasons.append("Too many pods")
    if req.milli_cpu > 0 and req.milli_cpu > alloc.milli_cpu - used.milli_cpu:
        reasons.append("Insufficient cpu")
    if req.memory > 0 and req.memory > alloc.memory - used.memory:
        reasons.append("Insufficient memory")
    return unschedulable(*reasons) if reasons else None


# -- scores ---------------------------------------------------------------------------------

def least_requested_score(requested, capacity):
    if capacity == 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_NODE_SCORE // capacity


def least_allocated(pod, node_info):
    """NodeResourcesLeastAllocated: the share of cpu and memory left free once the pod is
    there, 0..100, cpu and memory weighted equally (request-less containers count as
    100m and 200Mi, so empty nodes win)."""
    req, used = pod_requests(pod, non_zero=True), node_info.non_zero_requested
    alloc = node_info.allocatable
    scores = []
    if alloc.milli_cpu:  # a resource the node does not report is left out, as upstream
        scores.append(least_requested_score(used.milli_cpu + req.milli_cpu, alloc.milli_cpu))
    if alloc.memory:
        scores.append(least_requested_score(used.memory + req.memory, alloc.memory))
    return sum(scores) // len(scores) if scores else 0


def selector_spread(pod, node_info):
    """SelectorSpread: how many pods of the same owner (the same controller, e.g. the
    ReplicaSet) already run on the node. Fewer is better: see spread_normalize."""
    owner = meta.controller_of(pod)
    if owner is None:
        return 0
    # node_info.owners counts the node's (not terminating) pods per (namespace, owner uid)
    return node_info.owners.get((meta.namespace(pod), owner.get("uid")), 0)


def spread_normalize(counts):
    """The node with the most siblings gets 0, a node with none 100, linearly between."""
    most = max(counts.values(), default=0)
    if most == 0:
        return {n: MAX_NODE_SCORE for n in counts}
    return {n: int(MAX_NODE_SCORE * (most - c) / most) for n, c in counts.items()}


FILTERS = [
    ("NodeUnschedulable", node_unschedulable),
    ("NodeName", node_name),
    ("TaintToleration", taint_toleration),
    ("NodeReady", node_ready),
    ("NodeAffinity", node_affinity),
    ("NodePorts", node_ports),
    ("NodeResourcesFit", node_resources_fit),
]


def default_scores():
    return [ScorePlugin("NodeResourcesLeastAllocated", least_allocated, weight=1),
            ScorePlugin("SelectorSpread", selector_spread, weight=2, normalize=spread_normalize)]


# -- an attendee's score plugin ------------------------------------------------------------

class PluginError(ValueError):
    """A --score-plugin that cannot be used; the message says what to fix."""


def split_spec(spec):
    """``FILE.py:FUNCTION[:WEIGHT]`` -> (file, function, weight)."""
    parts = spec.rsplit(":", 2)
    if len(parts) == 3 and not parts[2].strip().isdigit():
        parts = [f"{parts[0]}:{parts[1]}", parts[2]]  # a ":" in the path, and no weight
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise PluginError(f"--score-plugin {spec!r}: expected FILE.py:FUNCTION[:WEIGHT]")
    return parts[0], parts[1], int(parts[2]) if len(parts) == 3 else 1


def load_score_plugin(spec):
    """``path/to/file.py:function[:weight]`` -> a ScorePlugin named after the function.

    The function is called as ``function(pod, node_info)`` for every node that passed the
    filters and must return a number from 0 to 100 (higher is better). The weight (default
    1) multiplies it before it is added to the built-in scores.
    """
    path, func, weight = split_spec(spec)
    if not 1 <= weight <= 100:
        raise PluginError(f"--score-plugin {spec!r}: the weight must be 1..100")
    if not os.path.isfile(path):
        raise PluginError(f"--score-plugin {spec!r}: no file {path!r}")
    module_name = f"kfs_score_plugin_{os.path.splitext(os.path.basename(path))[0]}"
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as e:
        raise PluginError(f"--score-plugin {spec!r}: {path} does not load: "
                          f"{type(e).__name__}: {e}") from None
    fn = getattr(module, func, None)
    if not callable(fn):
        raise PluginError(f"--score-plugin {spec!r}: {path} defines no function {func!r}")
    return ScorePlugin(func, fn, weight=weight)
