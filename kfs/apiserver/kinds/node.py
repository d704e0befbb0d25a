"""Nodes (``v1``, stored under ``/registry/minions``): the machines pods run on.

A kubelet registers its Node and posts its status; the node lifecycle controller and
``kubectl cordon``/``taint`` change its spec. Defaults ``allocatable`` to ``capacity``;
validation of taints and podCIDRs (which, once set, never change); field selector
``spec.unschedulable``; printed as ``STATUS ROLES AGE VERSION`` (``Ready,SchedulingDisabled``,
roles from ``node-role.kubernetes.io/<role>`` labels).

Mirrors pkg/apis/core/v1/defaults.go (SetDefaults_NodeStatus), pkg/registry/core/node
(strategy.go: PrepareForCreate drops configSource; NodeToSelectableFields),
pkg/apis/core/validation (ValidateNode, ValidateNodeUpdate) and printNode.

What real Kubernetes does differently: the NodeRestriction admission plugin limits each
kubelet to its own Node; Nodes have ``proxy`` subresources and many more checks (resource
names, config source, addresses).
"""
from kfs import meta
from kfs.apiserver.kinds import Kind
from kfs.apiserver.tables import AGE, NAME, age, col
from kfs.apiserver.validation.fields import (
    _each, forbidden, invalid, is_cidr, label_value, not_supported, qualified_name, required)

ROLE_PREFIX = "node-role.kubernetes.io/"
TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"]
COLUMNS = [NAME, col("Status", description="The status of the node"),
           col("Roles", description="The roles of the node"), AGE,
           col("Version", description="Kubelet Version reported by the node."),
           col("Internal-IP", description="List of addresses reachable to the node.", priority=1),
           col("External-IP", description="List of addresses reachable to the node.", priority=1),
           col("OS-Image", description="OS Image reported by the node from /etc/os-release.", priority=1),
           col("Kernel-Version", description="Kernel Version reported by the node from 'uname -r'.", priority=1),
           col("Container-Runtime", description="ContainerRuntime Version reported by the node through "
               "runtime remote API.", priority=1)]


def validate_node(node):
    spec, errs = node.get("spec") or {}, []
    for i, cidr in enumerate(spec.get("podCIDRs") or []):
        if not is_cidr(cidr):
            errs.append(invalid(f"spec.podCIDRs[{i}]", cidr, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"))
    for i, t in enumerate(spec.get("taints") or []):
        p = f"spec.taints[{i}]"
        errs += _each(qualified_name(t.get("key", "")), f"{p}.key", t.get("key", ""))
        errs += _each(label_value(t["value"]), f"{p}.value", t["value"]) if t.get("value") else []
        if not t.get("effect"):
            errs.append(required(f"{p}.effect"))
        elif t["effect"] not in TAINT_EFFECTS:
            errs.append(not_supported(f"{p}.effect", t["effect"], TAINT_EFFECTS))
    return errs


def print_node(node, now):
    spec, status = node.get("spec") or {}, node.get("status") or {}
    ready = meta.get_condition(status, "Ready")
    states = [] if ready is None else ["Ready" if ready.get("status") == "True" else "NotReady"]
    states = states or ["Unknown"]
    if spec.get("unschedulable"):
        states.append("SchedulingDisabled")
    info = status.get("nodeInfo") or {}
    return [meta.name(node), ",".join(states), ",".join(node_roles(node)) or "<none>", age(node, now),
            info.get("kubeletVersion", ""), _address(status, "InternalIP"), _address(status, "ExternalIP"),
            info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
            info.get("containerRuntimeVersion") or "<unknown>"]


def node_roles(node):
    """findNodeRoles: ``node-role.kubernetes.io/<role>`` labels and a ``kubernetes.io/role`` value."""
    roles = set()
    for k, v in meta.labels(node).items():
        if k.startswith(ROLE_PREFIX) and k != ROLE_PREFIX:
            roles.add(k[len(ROLE_PREFIX):])
        elif k == "kubernetes.io/role" and v:
            roles.add(v)
    return sorted(roles)


def _address(status, type_):
    return next((a.get("address") for a in status.get("addresses") or [] if a.get("type") == type_), "<none>")


class Node(Kind):
    api_version, kind = "v1", "Node"
    columns = COLUMNS
    field_selectors = {"spec.unschedulable": None}
    field_defaults = {"spec.unschedulable": "false"}

    def default(self, node):
        status = node.get("status")
        if status and status.get("capacity") and not status.get("allocatable"):
            status["allocatable"] = dict(status["capacity"])

    def prepare_for_create(self, node):
        node.setdefault("spec", {}).pop("configSource", None)

    def validate(self, node):
        return validate_node(node)

    def validate_update(self, new, old):
        old_cidrs, cidrs = (old.get("spec") or {}).get("podCIDRs"), (new.get("spec") or {}).get("podCIDRs")
        if old_cidrs and cidrs != old_cidrs:
            return [forbidden("spec.podCIDRs", 'node updates may not change podCIDR except from "" to valid')]
        return []

    def print_row(self, node, now):
        return print_node(node, now)


KIND = Node
