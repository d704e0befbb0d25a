"""The scheduler's plugins: one small named object per file, and upstream's default order.

Mirrors ``pkg/scheduler/framework/plugins`` (one package per plugin: nodeunschedulable,
nodename, tainttoleration, nodeaffinity, nodeports, noderesources, selectorspread) and
the default profile of ``apis/config/v1/default_plugins.go``. Each plugin is a
``framework.Plugin``: a ``name``, its ``filter`` and/or ``score`` (and ``normalize``),
and ``events_to_register()``: the cluster events that could make a pod it rejected
schedulable, each with a queueing hint (see ``events``). A filter's reason strings are
upstream's, word for word, because ``kubectl describe pod`` shows them to people who
search the web for them.

Filters, in the order they run (the first "no" decides a node's reason and which plugin
the pod waits on):

| plugin            | says no when                                      | code          |
|-------------------|---------------------------------------------------|---------------|
| NodeUnschedulable | the node is cordoned (spec.unschedulable)         | unresolvable  |
| NodeName          | the pod names another node (spec.nodeName)        | unresolvable  |
| TaintToleration   | a NoSchedule/NoExecute taint the pod does not     | unresolvable  |
|                   | tolerate                                          |               |
| NodeReady         | the node is not Ready (kfs: see node_ready)       | unresolvable  |
| NodeAffinity      | nodeSelector or required node affinity do not     | unresolvable  |
|                   | match                                             |               |
| NodePorts         | a host port the pod wants is taken                | unschedulable |
| NodeResourcesFit  | too little cpu/memory left, or too many pods      | unschedulable |

A pod no node fits waits until a cluster event that a plugin which rejected it registered,
and whose hint says the event may help (``SchedulingQueue``):

| plugin            | events it registers                                  |
|-------------------|------------------------------------------------------|
| NodeUnschedulable | a node added, a node uncordoned                      |
| NodeName          | a node added                                         |
| TaintToleration   | a node added, a node's taints changed                |
| NodeReady         | a node added, a node's conditions or taints changed  |
| NodeAffinity      | a node added, a node's labels changed                |
| NodePorts         | a node added, a bound pod deleted                    |
| NodeResourcesFit  | a node added, a node's allocatable changed, a bound  |
|                   | pod deleted                                          |

Scores: NodeResourcesLeastAllocated (weight 1: prefer emptier nodes) and SelectorSpread
(weight 2: prefer nodes with fewer pods of the same owner). An attendee adds their own
with ``kfs scheduler --score-plugin file.py:NAME[:weight]`` (``loader``).

What real Kubernetes does differently: more plugins (InterPodAffinity, PodTopologySpread,
the volume plugins, ImageLocality, BalancedAllocation, the TaintToleration and
NodeAffinity scores, DefaultPreemption, SchedulingGates, PrioritySort, DefaultBinder),
each registered by name in ``registry.go`` and enabled per profile; PreFilter steps
compute per-pod data once instead of once per node.
"""
from kfs.scheduler.plugins.least_allocated import NodeResourcesLeastAllocated
from kfs.scheduler.plugins.loader import PluginError, load_score_plugin, split_spec
from kfs.scheduler.plugins.node_affinity import NodeAffinity
from kfs.scheduler.plugins.node_name import NodeName
from kfs.scheduler.plugins.node_ports import NodePorts
from kfs.scheduler.plugins.node_ready import NodeReady
from kfs.scheduler.plugins.node_resources_fit import NodeResourcesFit
from kfs.scheduler.plugins.node_unschedulable import NodeUnschedulable
from kfs.scheduler.plugins.selector_spread import SelectorSpread
from kfs.scheduler.plugins.taint_toleration import TaintToleration

__all__ = ["FILTERS", "PluginError", "default_scores", "load_score_plugin", "split_spec"]

FILTERS = [NodeUnschedulable(), NodeName(), TaintToleration(), NodeReady(), NodeAffinity(),
           NodePorts(), NodeResourcesFit()]


def default_scores():
    """The built-in score plugins, with their default weights (fresh objects each call)."""
    return [NodeResourcesLeastAllocated(), SelectorSpread()]
