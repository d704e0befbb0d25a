"""NodeAffinity: the node's labels must match the pod's nodeSelector and required affinity.

Mirrors ``pkg/scheduler/framework/plugins/nodeaffinity/node_affinity.go`` (``Filter``,
``EventsToRegister``, ``isSchedulableAfterNodeChange``) and the matching rules of
``k8s.io/component-helpers/scheduling/corev1/nodeaffinity`` (``NodeSelectorRequirement``
operators In, NotIn, Exists, DoesNotExist, Gt, Lt; ``matchFields`` on metadata.name).

Says no (UnschedulableAndUnresolvable, ``node(s) didn't match Pod's node
affinity/selector``) when a nodeSelector pair is missing, or no term of
requiredDuringSchedulingIgnoredDuringExecution matches (terms are ORed, the expressions in
one term ANDed). A pod it refused is tried again when a node is added or a node's labels
change, and the node matches now and did not before.

What real Kubernetes does differently: PreFilter narrows the nodes to those a matchFields
term names; a profile may add an affinity of its own (``addedAffinity``); preferred
affinity is a score.
"""
from kfs import meta
from kfs.scheduler.events import NODE, ActionType, ClusterEvent, ClusterEventWithHint
from kfs.scheduler.framework import Plugin, spec, unresolvable

REASON = "node(s) didn't match Pod's node affinity/selector"


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


class NodeAffinity(Plugin):
    """NodeAffinity: the node's labels must have every nodeSelector pair, and match one of
    the terms of requiredDuringSchedulingIgnoredDuringExecution (terms are ORed)."""
    name = "NodeAffinity"

    def filter(self, pod, node_info):
        labels = meta.labels(node_info.node)
        for k, v in (spec(pod).get("nodeSelector") or {}).items():
            if labels.get(k) != v:
                return unresolvable(REASON)
        required = (((spec(pod).get("affinity") or {}).get("nodeAffinity") or {})
                    .get("requiredDuringSchedulingIgnoredDuringExecution"))
        if required is not None and not any(node_selector_term_matches(t, node_info.node)
                                            for t in required.get("nodeSelectorTerms") or []):
            return unresolvable(REASON)
        return None

    def events_to_register(self):
        return [ClusterEventWithHint(
            ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL),
            self.is_schedulable_after_node_change)]  # Plugin's: fits now, not before
