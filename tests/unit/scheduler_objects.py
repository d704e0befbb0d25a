"""Nodes and pods in wire format for the scheduler's unit tests."""
import itertools

from kfs.scheduler.events import QUEUE, QUEUE_SKIP
from kfs.scheduler.framework import NodeInfo

_uids = itertools.count(1)


def node(name="node1", cpu="2", memory="4Gi", pods=110, labels=None, taints=None,
         ready="True", unschedulable=False):
    conditions = [] if ready is None else [{"type": "Ready", "status": ready}]
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "uid": f"node-{name}",
                         "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
            "spec": {**({"taints": taints} if taints else {}),
                     **({"unschedulable": True} if unschedulable else {})},
            "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": str(pods)},
                       "capacity": {"cpu": cpu, "memory": memory, "pods": str(pods)},
                       "conditions": conditions}}


def pod(name="web", cpu=None, memory=None, node_name=None, node_selector=None,
        tolerations=None, affinity=None, host_port=None, owner=None, namespace="default",
        scheduler_name=None, labels=None, uid=None):
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    container = {"name": "c", "image": "kfs/echo:1",
                 **({"resources": {"requests": requests}} if requests else {}),
                 **({"ports": [{"containerPort": 8080, "hostPort": host_port}]}
                    if host_port else {})}
    spec = {"containers": [container]}
    for k, v in (("nodeName", node_name), ("nodeSelector", node_selector),
                 ("tolerations", tolerations), ("affinity", affinity),
                 ("schedulerName", scheduler_name)):
        if v is not None:
            spec[k] = v
    md = {"name": name, "namespace": namespace, "uid": uid or f"uid-{next(_uids)}",
          "labels": labels or {"app": "web"}}
    if owner:
        md["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": owner,
                                  "uid": f"rs-{owner}", "controller": True}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec,
            "status": {"phase": "Pending"}}


def node_info(n=None, *pods):
    ni = NodeInfo(n if n is not None else node())
    for p in pods:
        ni.add_pod({**p, "spec": {**p["spec"], "nodeName": ni.name}})
    return ni


def affinity(*terms):
    """Required node affinity with the given nodeSelectorTerms."""
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
                             {"nodeSelectorTerms": list(terms)}}}


def expr(key, op, *values):
    return {"key": key, "operator": op, **({"values": list(values)} if values else {})}


OK = None  # a filter's verdict: the pod may go there


def verdict(status):
    """None for "fits", else (code, [reasons]) for a table row to compare with."""
    return None if status is None else (status.code, status.reasons)


def requeue_hint(plugin, event, pod, old=None, new=None):
    """What `plugin` answers when `event` happens to a pod it rejected: QUEUE if one of its
    registrations matching the event says so, QUEUE_SKIP if they all skip, None if it
    registered no such event (the queue never asks it)."""
    answers = [r.hint(pod, old, new) for r in plugin.events_to_register() if r.event.match(event)]
    if not answers:
        return None
    return QUEUE if QUEUE in answers else QUEUE_SKIP
