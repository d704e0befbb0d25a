"""TaintToleration: a node's NoSchedule and NoExecute taints keep away pods that do not
tolerate them.

Mirrors ``pkg/scheduler/framework/plugins/tainttoleration/taint_toleration.go`` (``Filter``,
``EventsToRegister``, ``isSchedulableAfterNodeChange``) with
``v1helper.FindMatchingUntoleratedTaint``.

Says no (UnschedulableAndUnresolvable) naming the first untolerated taint:
``node(s) had untolerated taint {key: value}``. A pod it refused is tried again when a node
is added or a node's taints change, and the pod tolerates what the node has now but did
not tolerate what it had before.

What real Kubernetes does differently: PreferNoSchedule taints are a score (fewer
untolerated ones is better); a pod's own update adding a toleration is an event the
plugin registers (``UpdatePodToleration``); kfs wakes a changed pod anyway.
"""
from kfs import meta
from kfs.scheduler.events import NODE, ActionType, ClusterEvent, ClusterEventWithHint
from kfs.scheduler.framework import Plugin, spec, unresolvable


class TaintToleration(Plugin):
    """TaintToleration: every NoSchedule or NoExecute taint of the node must be tolerated
    by one of the pod's tolerations; the first one that is not is the reason."""
    name = "TaintToleration"

    def filter(self, pod, node_info):
        for taint in spec(node_info.node).get("taints") or []:
            if taint.get("effect") in ("NoSchedule", "NoExecute") and \
                    not meta.tolerated(pod, taint):
                return unresolvable(f"node(s) had untolerated taint "
                                    f"{{{taint.get('key')}: {taint.get('value') or ''}}}")
        return None

    def events_to_register(self):
        return [ClusterEventWithHint(
            ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_TAINT),
            self.is_schedulable_after_node_change)]  # Plugin's: fits now, not before
