"""Cluster events: what changed in the cluster, as the scheduling queue hears of it.

Mirrors ``pkg/scheduler/framework/types.go`` (``ActionType``, ``ClusterEvent``,
``ClusterEventWithHint``, ``QueueingHint``) and ``events.go``
(``NodeSchedulingPropertiesChange`` and its ``extractNode...Change`` helpers), shrunk to
the events kfs's plugins care about.

A pod no node could take waits in the queue until the cluster changes. Every plugin that
can say no lists the changes that could make it say yes (``Plugin.events_to_register``):
a ``ClusterEvent`` -- a resource (``Node``, ``Pod``) and kinds of change (``ActionType``
flags: ``ADD``, ``DELETE``, ``UPDATE_NODE_LABEL``, ...) -- each with a **queueing hint**,
a function ``hint(pod, old, new)`` that looks at the changed object and answers ``QUEUE``
(this may help the pod: try it again) or ``QUEUE_SKIP`` (it cannot). The scheduler turns
each informer event into ClusterEvents: a node update is one event per aspect that
changed (``node_scheduling_properties_change``), so a heartbeat is no event at all and a
new label is ``NodeLabelChange``.

What real Kubernetes does differently: more resources are events (PersistentVolumes,
StorageClasses, ResourceClaims, CSINodes, ...), and so are a node's annotations and a
pod's own updates (labels, tolerations, a scale-down, its scheduling gates removed); a
hint also returns an error, read as Queue.
"""
import enum
from dataclasses import dataclass, field

from kfs import meta

NODE, POD, WILDCARD = "Node", "Pod", "*"


class ActionType(enum.Flag):
    """What happened to an object. Flags, so that a plugin registers several at once."""
    ADD = enum.auto()
    DELETE = enum.auto()
    UPDATE_NODE_ALLOCATABLE = enum.auto()
    UPDATE_NODE_LABEL = enum.auto()
    UPDATE_NODE_TAINT = enum.auto()
    UPDATE_NODE_CONDITION = enum.auto()
    UPDATE = UPDATE_NODE_ALLOCATABLE | UPDATE_NODE_LABEL | UPDATE_NODE_TAINT | \
        UPDATE_NODE_CONDITION
    ALL = ADD | DELETE | UPDATE


@dataclass(frozen=True)
class ClusterEvent:
    """A resource and what happened to it; ``label`` names it in logs (not compared)."""
    resource: str
    action: ActionType
    label: str = field(default="", compare=False)

    def is_wildcard(self):
        return self.resource == WILDCARD and self.action == ActionType.ALL

    def match(self, event):
        """A registration matches an event of its resource (or any, for ``*``) that has
        one of its actions."""
        return self.is_wildcard() or (self.resource in (WILDCARD, event.resource)
                                      and bool(self.action & event.action))


# QueueingHint: may this event make the pod schedulable?
QUEUE_SKIP, QUEUE = "QueueSkip", "Queue"


def queue_always(pod, old, new):
    """The hint of a registration that names none: always worth another try."""
    return QUEUE


@dataclass(frozen=True)
class ClusterEventWithHint:
    event: ClusterEvent
    hint: object = queue_always  # (pod waiting, old object, new object) -> QUEUE, QUEUE_SKIP


# what a plugin that names no events is asked about: every event, with no hint
WILDCARD_REGISTRATION = ClusterEventWithHint(ClusterEvent(WILDCARD, ActionType.ALL))


# -- the events the scheduler sends the queue (upstream's event labels) -----------------

NODE_ADD = ClusterEvent(NODE, ActionType.ADD, "NodeAdd")
NODE_ALLOCATABLE_CHANGE = ClusterEvent(NODE, ActionType.UPDATE_NODE_ALLOCATABLE,
                                       "NodeAllocatableChange")
NODE_LABEL_CHANGE = ClusterEvent(NODE, ActionType.UPDATE_NODE_LABEL, "NodeLabelChange")
NODE_TAINT_CHANGE = ClusterEvent(NODE, ActionType.UPDATE_NODE_TAINT, "NodeTaintChange")
NODE_CONDITION_CHANGE = ClusterEvent(NODE, ActionType.UPDATE_NODE_CONDITION,
                                     "NodeConditionChange")
# an uncordon is a taint change to the plugins, as upstream has no action of its own for it
NODE_SPEC_UNSCHEDULABLE_CHANGE = ClusterEvent(NODE, ActionType.UPDATE_NODE_TAINT,
                                              "NodeSpecUnschedulableChange")
ASSIGNED_POD_DELETE = ClusterEvent(POD, ActionType.DELETE, "AssignedPodDelete")


def _conditions(node):
    """Each condition's status, without heartbeat and transition times."""
    return {c.get("type"): c.get("status")
            for c in (node.get("status") or {}).get("conditions") or []}


def node_scheduling_properties_change(new, old):
    """The events a node update makes, one per aspect that changed; none for a heartbeat.

    Cordoning (spec.unschedulable becoming true) is no event: it cannot help a pod.
    """
    spec_old, spec_new = old.get("spec") or {}, new.get("spec") or {}
    changes = [
        (spec_old.get("unschedulable") and not spec_new.get("unschedulable"),
         NODE_SPEC_UNSCHEDULABLE_CHANGE),
        (((old.get("status") or {}).get("allocatable") or {})
         != ((new.get("status") or {}).get("allocatable") or {}), NODE_ALLOCATABLE_CHANGE),
        (meta.labels(old) != meta.labels(new), NODE_LABEL_CHANGE),
        ((spec_old.get("taints") or []) != (spec_new.get("taints") or []), NODE_TAINT_CHANGE),
        (_conditions(old) != _conditions(new), NODE_CONDITION_CHANGE),
    ]
    return [event for changed, event in changes if changed]
