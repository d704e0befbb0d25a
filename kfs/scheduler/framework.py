"""The scheduling framework: what a node looks like to a plugin, and filter -> score -> pick.

Mirrors ``pkg/scheduler/framework`` (``types.go``: ``NodeInfo``, ``Resource``, ``FitError``;
``interface.go``: the ``Status`` codes and the ``Plugin`` interfaces; ``runtime/framework.go``:
``RunFilterPlugins``, ``RunScorePlugins``, the queueing hints of ``scheduler.go``'s
``buildQueueingHintMap``) and the decision half of ``pkg/scheduler/schedule_one.go``
(``schedulePod``: ``findNodesThatFitPod``, ``prioritizeNodes``, ``selectHost``), shrunk.

A **plugin** is a small named object (``Plugin``). A filter plugin has
``filter(pod, node_info)``, which returns ``None`` when the pod may run on the node, or a
``Status`` saying why not; a score plugin has ``score(pod, node_info)``, returning 0..100
for a node that passed every filter, a ``weight``, and optionally ``normalize(scores)``
rescaling all nodes' scores to 0..100 (as upstream's ``NormalizeScore``). The node with
the highest weighted sum wins; ties are broken at random (``select_host``). A plugin that
can say no also lists the cluster events that could make it say yes to a pod it refused
(``events_to_register``, see ``events``); ``Framework.queueing_hints`` gathers them for
the scheduling queue.

When no node passes, ``FitError.message`` says why in upstream's words: a histogram of
the filters' reasons across nodes, then what preemption would have said::

    0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint
    {node.kubernetes.io/unreachable: }. preemption: 0/3 nodes are available:
    1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.

What real Kubernetes does differently: plugins implement more extension points (PreFilter,
PostFilter, PreScore, Reserve, Permit, PreBind, Bind, PostBind besides Filter, Score and
EnqueueExtensions) and are configured per profile in KubeSchedulerConfiguration, weights
included; filters and scores
run in parallel (16 goroutines); PostFilter really preempts lower-priority pods (kfs pods have no
priority, so it would never find a victim, and kfs only writes what it would have said).
"""
import random
from dataclasses import dataclass, field

from kfs import meta
from kfs.scheduler.events import QUEUE, QUEUE_SKIP, WILDCARD_REGISTRATION

MAX_NODE_SCORE = 100
# Scoring counts a container without requests as asking for this much (upstream
# schedutil.DefaultMilliCPURequest / DefaultMemoryRequest), so that empty nodes attract
# request-less pods and they spread instead of piling onto one node.
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024

# Status codes (framework.Code). Preemption could make room on an Unschedulable node by
# evicting pods; on an UnschedulableAndUnresolvable node it could not (a taint, a label).
UNSCHEDULABLE = "Unschedulable"
UNRESOLVABLE = "UnschedulableAndUnresolvable"

NO_NODES_AVAILABLE = "no nodes available to schedule pods"


@dataclass
class Status:
    """Why a filter said no: a code and upstream's reason strings."""
    code: str
    reasons: list
    plugin: str = ""

    @property
    def message(self):
        return ", ".join(self.reasons)


def unschedulable(*reasons):
    return Status(UNSCHEDULABLE, list(reasons))


def unresolvable(*reasons):
    return Status(UNRESOLVABLE, list(reasons))


# -- what pods ask for and nodes offer ---------------------------------------------------

def spec(obj):
    return obj.get("spec") or {}


@dataclass
class Resource:
    """Amounts of the resources the scheduler counts: millicores, bytes, a pod count."""
    milli_cpu: int = 0
    memory: int = 0
    pods: int = 0

    def add(self, other, sign=1):
        self.milli_cpu += sign * other.milli_cpu
        self.memory += sign * other.memory
        self.pods += sign * other.pods


def _milli(q):
    return round(meta.parse_quantity(q) * 1000)


def _bytes(q):
    return int(meta.parse_quantity(q))


def container_requests(container):
    """A container's requests; a limit stands in for a missing request (API defaulting)."""
    res = container.get("resources") or {}
    return {**(res.get("limits") or {}), **(res.get("requests") or {})}


_requests_memo = {}  # (uid, resourceVersion, non_zero) -> Resource: a pod's spec is fixed


def pod_requests(pod, non_zero=False):
    """What a pod asks for (upstream resourcehelper.PodRequests): the sum over its
    containers, at least the largest init container, plus the pod's overhead.

    `non_zero` counts a container without a cpu or memory request as asking for the
    scoring defaults (100m, 200Mi), as upstream's NonZeroRequested does.
    """
    md = pod.get("metadata") or {}
    memo = (md.get("uid"), md.get("resourceVersion"), non_zero)
    if memo[0] and memo in _requests_memo:
        return _requests_memo[memo]
    total = _pod_requests(pod, non_zero)
    if memo[0]:
        if len(_requests_memo) > 20000:
            _requests_memo.clear()
        _requests_memo[memo] = total
    return total


def _pod_requests(pod, non_zero):
    spec = pod.get("spec") or {}
    total = Resource()
    for c in spec.get("containers") or []:
        req = container_requests(c)
        cpu, mem = req.get("cpu"), req.get("memory")
        total.milli_cpu += _milli(cpu) if cpu is not None else (
            DEFAULT_MILLI_CPU_REQUEST if non_zero else 0)
        total.memory += _bytes(mem) if mem is not None else (
            DEFAULT_MEMORY_REQUEST if non_zero else 0)
    for c in spec.get("initContainers") or []:
        req = container_requests(c)
        total.milli_cpu = max(total.milli_cpu, _milli(req.get("cpu", 0)))
        total.memory = max(total.memory, _bytes(req.get("memory", 0)))
    overhead = spec.get("overhead") or {}
    total.milli_cpu += _milli(overhead.get("cpu", 0))
    total.memory += _bytes(overhead.get("memory", 0))
    total.pods = 1
    return total


def node_allocatable(node):
    alloc = (node.get("status") or {}).get("allocatable") or {}
    return Resource(_milli(alloc.get("cpu", 0)), _bytes(alloc.get("memory", 0)),
                    int(meta.parse_quantity(alloc.get("pods", 0))))


def host_ports(pod):
    """The (hostIP, protocol, hostPort) triples a pod's containers want on its node."""
    out = []
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("hostPort"):
                out.append((p.get("hostIP") or "0.0.0.0", p.get("protocol") or "TCP",
                            int(p["hostPort"])))
    return out


def pod_uid(pod):
    return pod["metadata"].get("uid") or meta.key(pod)


# -- a node as plugins see it ------------------------------------------------------------

class NodeInfo:
    """A node and the pods the scheduler counts on it (bound, or assumed on their way).

    ``requested`` sums the pods' requests (what NodeResourcesFit checks against
    ``allocatable``); ``non_zero_requested`` the same with the scoring defaults;
    ``used_ports`` the host ports taken.
    """

    def __init__(self, node=None):
        self.node, self.name = None, None
        self.pods = {}  # uid -> pod
        self.owners = {}  # (namespace, controller uid) -> pods of that owner here
        self.requested, self.non_zero_requested = Resource(), Resource()
        self.allocatable = Resource()
        self.used_ports = {}  # (hostIP, protocol, port) -> count
        if node is not None:
            self.set_node(node)

    def set_node(self, node):
        self.node, self.name = node, meta.name(node)
        self.allocatable = node_allocatable(node)

    def add_pod(self, pod):
        uid = pod_uid(pod)
        if uid in self.pods:
            self.remove_pod(self.pods[uid])
        self.pods[uid] = pod
        self._count(pod, 1)

    def remove_pod(self, pod):
        old = self.pods.pop(pod_uid(pod), None)
        if old is not None:
            self._count(old, -1)

    def _count(self, pod, sign):
        self.requested.add(pod_requests(pod), sign)
        self.non_zero_requested.add(pod_requests(pod, non_zero=True), sign)
        for port in host_ports(pod):
            self.used_ports[port] = self.used_ports.get(port, 0) + sign
            if self.used_ports[port] <= 0:
                del self.used_ports[port]
        owner = meta.controller_of(pod)
        if owner and not pod["metadata"].get("deletionTimestamp"):
            k = (meta.namespace(pod), owner.get("uid"))
            self.owners[k] = self.owners.get(k, 0) + sign
            if self.owners[k] <= 0:
                del self.owners[k]

    def __repr__(self):
        return (f"NodeInfo({self.name}, pods={len(self.pods)}, "
                f"cpu={self.requested.milli_cpu}m/{self.allocatable.milli_cpu}m, "
                f"memory={self.requested.memory}/{self.allocatable.memory})")


# -- plugins and the pipeline ------------------------------------------------------------

class Plugin:
    """A scheduler plugin: a name, and the extension points it implements as methods.

    ``filter(pod, node_info)`` -> None or a Status (a filter plugin); ``score(pod,
    node_info)`` -> 0..100 with ``weight`` and optionally ``normalize({node: score})``
    (a score plugin); ``events_to_register()`` -> the ``ClusterEventWithHint`` s that may
    make a pod this plugin rejected schedulable (upstream's ``EnqueueExtensions``), most
    node filters with the hint ``is_schedulable_after_node_change`` below.
    """
    name = ""
    weight = 1
    normalize = None

    def events_to_register(self):
        """A plugin that does not say is asked about every event, as upstream does."""
        return [WILDCARD_REGISTRATION]

    def is_schedulable_after_node_change(self, pod, old, new):
        """The queueing hint of a filter that reads only the Node object: QUEUE when the
        filter lets the pod onto the new node and did not onto the old one (or there was
        none: the node is new). A change that keeps the answer as it was cannot help."""
        def fits(node):
            return self.filter(pod, NodeInfo(node)) is None
        return QUEUE if fits(new) and (old is None or not fits(old)) else QUEUE_SKIP

    def __repr__(self):
        return f"<plugin {self.name}>"


class ScorePlugin(Plugin):
    """A score function as a plugin: how the loader wraps an attendee's plugin or function."""

    def __init__(self, name, score, weight=1, normalize=None):
        self.name, self.score, self.weight, self.normalize = name, score, weight, normalize

    def events_to_register(self):
        return []  # scores never reject a pod


class FitError(Exception):
    """No node fits the pod; ``message`` is upstream's FitError.Error() text."""

    def __init__(self, pod, num_all_nodes, statuses):
        self.pod, self.num_all_nodes, self.statuses = pod, num_all_nodes, statuses
        super().__init__(self.message)

    @property
    def unschedulable_plugins(self):
        """The filters that rejected the pod on some node (upstream's
        ``Diagnosis.UnschedulablePlugins``): the queue asks only them about events."""
        return {status.plugin for status in self.statuses.values()}

    @property
    def message(self):
        return (f"{histogram(self.num_all_nodes, self.statuses)} "
                f"{preemption_message(self.pod, self.num_all_nodes, self.statuses)}")


def histogram(num_all_nodes, statuses):
    """``0/N nodes are available: <count reason, ...>.``: reasons sorted as strings."""
    counts = {}
    for status in statuses.values():
        for reason in status.reasons:
            counts[reason] = counts.get(reason, 0) + 1
    text = f"0/{num_all_nodes} nodes are available:"
    if counts:
        text += " " + ", ".join(sorted(f"{n} {r}" for r, n in counts.items())) + "."
    return text


def preemption_message(pod, num_all_nodes, statuses):
    """What upstream's DefaultPreemption PostFilter says when it cannot help.

    It would evict lower-priority pods from nodes where that could help (Unschedulable),
    never where it could not (UnschedulableAndUnresolvable). kfs pods all have the same
    priority, so there is never a victim: every node gets one of two answers.
    """
    if (pod.get("spec") or {}).get("preemptionPolicy") == "Never":
        return "preemption: not eligible due to preemptionPolicy=Never."
    verdicts = {
        n: Status(s.code, ["Preemption is not helpful for scheduling" if s.code == UNRESOLVABLE
                           else "No preemption victims found for incoming pod"])
        for n, s in statuses.items()}
    return "preemption: " + histogram(num_all_nodes, verdicts)


@dataclass
class ScheduleResult:
    suggested_host: str
    evaluated_nodes: int
    feasible_nodes: int
    scores: dict = field(default_factory=dict)  # node -> total weighted score


class InvalidScore(Exception):
    """A score plugin returned something outside 0..100."""


class PluginFailed(Exception):
    """A plugin raised: the pod is retried after backoff, the scheduler lives on."""


class NoNodesAvailable(Exception):
    """The cluster has no nodes at all."""


MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5


def num_feasible_nodes_to_find(num_all_nodes, percentage=0):
    """How many feasible nodes are enough to stop filtering (upstream's
    ``numFeasibleNodesToFind``): every node of a cluster under 100; else `percentage` of
    them (0: adaptive, 50 % minus 1 % per 125 nodes, at least 5 %), and at least 100."""
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    if percentage == 0:
        percentage = max(50 - num_all_nodes // 125, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    return max(num_all_nodes * percentage // 100, MIN_FEASIBLE_NODES_TO_FIND)


class Framework:
    """One scheduling profile: its filter plugins, in order, and its score plugins.

    In a cluster of 100 nodes or more, filtering stops once enough nodes fit
    (``percentage_of_nodes_to_score``, KubeSchedulerConfiguration's
    ``percentageOfNodesToScore``; 0 is upstream's adaptive default), and the next pod's
    search starts where this one's stopped (``next_start_node_index``), so every node is
    examined as often as the others.
    """

    def __init__(self, filters, scores, rng=None, percentage_of_nodes_to_score=0):
        self.filters = list(filters)   # [Plugin with filter()]
        self.scores = list(scores)     # [Plugin with score() and weight]
        self.rng = rng or random.Random()
        self.percentage_of_nodes_to_score = percentage_of_nodes_to_score
        self.next_start_node_index = 0

    def queueing_hints(self):
        """{registered ClusterEvent: [(plugin name, hint)]} of the plugins that can reject
        a pod: what the scheduling queue asks when the cluster changes (upstream's
        ``queueingHintMap``, built by ``buildQueueingHintMap``)."""
        hints = {}
        for plugin in self.filters:
            for registration in plugin.events_to_register():
                hints.setdefault(registration.event, []).append((plugin.name,
                                                                 registration.hint))
        return hints

    def run_filter_plugins(self, pod, node_info):
        """The first filter that says no, with its name; None if every filter passes."""
        for plugin in self.filters:
            try:
                status = plugin.filter(pod, node_info)
            except Exception as e:
                raise PluginFailed(f"running {plugin.name!r} filter plugin: "
                                   f"{type(e).__name__}: {e}") from e
            if status is not None:
                status.plugin = plugin.name
                return status
        return None

    def find_nodes_that_fit(self, pod, node_infos):
        """(feasible NodeInfos, {node name: Status} of the others examined), examining the
        nodes from ``next_start_node_index`` on, round the list, until enough fit."""
        feasible, statuses = [], {}
        n = len(node_infos)
        enough = num_feasible_nodes_to_find(n, self.percentage_of_nodes_to_score)
        for i in range(n):
            ni = node_infos[(self.next_start_node_index + i) % n]
            status = self.run_filter_plugins(pod, ni)
            if status is None:
                feasible.append(ni)
                if len(feasible) >= enough:
                    break
            else:
                statuses[ni.name] = status
        if n:
            self.next_start_node_index = (self.next_start_node_index + len(feasible)
                                          + len(statuses)) % n
        return feasible, statuses

    def run_score_plugins(self, pod, node_infos):
        """{plugin name: {node name: weighted score}}, each normalised to 0..100 first."""
        out = {}
        for plugin in self.scores:
            try:
                raw = {ni.name: plugin.score(pod, ni) for ni in node_infos}
                if plugin.normalize:
                    raw = plugin.normalize(raw)
            except Exception as e:
                raise PluginFailed(f"plugin {plugin.name!r} failed with: {type(e).__name__}: "
                                   f"{e}") from e
            for node, s in raw.items():
                if not isinstance(s, (int, float)) or not 0 <= s <= MAX_NODE_SCORE:
                    raise InvalidScore(f"plugin {plugin.name!r} returns an invalid score {s!r}"
                                       f", it should in the range of [0, {MAX_NODE_SCORE}] "
                                       f"after normalizing")
            out[plugin.name] = {node: int(s) * plugin.weight for node, s in raw.items()}
        return out

    def prioritize_nodes(self, pod, node_infos):
        per_plugin = self.run_score_plugins(pod, node_infos)
        return {ni.name: sum(p[ni.name] for p in per_plugin.values()) for ni in node_infos}

    def select_host(self, totals):
        """The best-scored node; among equals each has the same chance (reservoir sampling)."""
        best, seen = None, 0
        for node, score in totals.items():
            if best is None or score > totals[best]:
                best, seen = node, 1
            elif score == totals[best]:
                seen += 1
                if self.rng.randrange(seen) == 0:
                    best = node
        return best

    def schedule_pod(self, pod, node_infos):
        """Filter, score, pick: a ScheduleResult, or FitError if no node fits."""
        node_infos = [ni for ni in node_infos if ni.node is not None]
        if not node_infos:
            raise NoNodesAvailable(NO_NODES_AVAILABLE)
        feasible, statuses = self.find_nodes_that_fit(pod, node_infos)
        if not feasible:
            raise FitError(pod, len(node_infos), statuses)
        evaluated = len(feasible) + len(statuses)
        if len(feasible) == 1:  # nothing to compare: upstream skips scoring too
            return ScheduleResult(feasible[0].name, evaluated, 1)
        totals = self.prioritize_nodes(pod, feasible)
        return ScheduleResult(self.select_host(totals), evaluated, len(feasible), totals)

    def explain(self, pod, node_infos):
        """Every node's verdict, plugin by plugin: what a notebook shows of one decision.

        Returns rows {node, filters: {plugin: "ok" or reason}, scores: {plugin: weighted},
        total}; unlike schedule_pod every filter runs, so each one's answer is visible.
        """
        rows = []
        for ni in node_infos:
            verdicts = {}
            for plugin in self.filters:
                status = plugin.filter(pod, ni)
                verdicts[plugin.name] = "ok" if status is None else status.message
            rows.append({"node": ni.name, "filters": verdicts, "scores": {}, "total": None})
        feasible = [ni for ni, row in zip(node_infos, rows)
                    if all(v == "ok" for v in row["filters"].values())]
        if feasible:
            per_plugin = self.run_score_plugins(pod, feasible)
            for row in rows:
                if row["node"] in {ni.name for ni in feasible}:
                    row["scores"] = {p: s[row["node"]] for p, s in per_plugin.items()}
                    row["total"] = sum(row["scores"].values())
        return rows


def explain_table(rows, filters, scores):
    """Framework.explain's rows as text: one line per plugin, one column per node."""
    nodes = [r["node"] for r in rows]
    lines = [("plugin", *nodes)]
    for p in filters:
        lines.append((f"{p.name} (filter)", *(r["filters"][p.name] for r in rows)))
    for p in scores:
        lines.append((f"{p.name} (score x{p.weight})",
                      *(str(r["scores"][p.name]) if r["scores"] else "-" for r in rows)))
    lines.append(("total", *(str(r["total"]) if r["total"] is not None else "-" for r in rows)))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(lines[0]))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip()
                     for line in lines)
