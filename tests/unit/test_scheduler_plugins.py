"""Each scheduler plugin, table-driven: a pod, a node, and the plugin's verdict."""
import pytest

from kfs.scheduler import plugins
from kfs.scheduler.framework import UNRESOLVABLE, UNSCHEDULABLE
from tests.unit.scheduler_objects import affinity, expr, node, node_info, pod

OK = None


def verdict(status):
    """None for "fits", else (code, [reasons]) for a table row to compare with."""
    return None if status is None else (status.code, status.reasons)


UNSCHEDULABLE_NODE = (UNRESOLVABLE, ["node(s) were unschedulable"])


@pytest.mark.parametrize("what, p, n, expected", [
    ("a schedulable node takes the pod", pod(), node(), OK),
    ("a cordoned node refuses it", pod(), node(unschedulable=True), UNSCHEDULABLE_NODE),
    ("unless the pod tolerates the unschedulable taint",
     pod(tolerations=[{"key": "node.kubernetes.io/unschedulable", "operator": "Exists",
                       "effect": "NoSchedule"}]), node(unschedulable=True), OK),
    ("a toleration of everything counts too", pod(tolerations=[{"operator": "Exists"}]),
     node(unschedulable=True), OK),
])
def test_node_unschedulable(what, p, n, expected):
    assert verdict(plugins.node_unschedulable(p, node_info(n))) == expected, what


@pytest.mark.parametrize("what, p, expected", [
    ("a pod naming no node fits any node", pod(), OK),
    ("a pod naming this node fits it", pod(node_name="node1"), OK),
    ("a pod naming another node does not",
     pod(node_name="node2"), (UNRESOLVABLE, ["node(s) didn't match the requested node name"])),
])
def test_node_name(what, p, expected):
    assert verdict(plugins.node_name(p, node_info(node("node1")))) == expected, what


GPU = {"key": "gpu", "value": "true", "effect": "NoSchedule"}
UNREACHABLE = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}
PREFER = {"key": "slow", "value": "yes", "effect": "PreferNoSchedule"}


@pytest.mark.parametrize("what, tolerations, taints, expected", [
    ("no taints, no tolerations needed", None, None, OK),
    ("an untolerated NoSchedule taint is named with its value", None, [GPU],
     (UNRESOLVABLE, ["node(s) had untolerated taint {gpu: true}"])),
    ("an untolerated NoExecute taint with no value", None, [UNREACHABLE],
     (UNRESOLVABLE, ["node(s) had untolerated taint {node.kubernetes.io/unreachable: }"])),
    ("PreferNoSchedule never filters", None, [PREFER], OK),
    ("Equal with the same value tolerates",
     [{"key": "gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}], [GPU], OK),
    ("operator defaults to Equal", [{"key": "gpu", "value": "true"}], [GPU], OK),
    ("Equal with another value does not",
     [{"key": "gpu", "operator": "Equal", "value": "false"}], [GPU],
     (UNRESOLVABLE, ["node(s) had untolerated taint {gpu: true}"])),
    ("Exists on the key tolerates any value", [{"key": "gpu", "operator": "Exists"}], [GPU], OK),
    ("another effect does not tolerate",
     [{"key": "gpu", "operator": "Exists", "effect": "NoExecute"}], [GPU],
     (UNRESOLVABLE, ["node(s) had untolerated taint {gpu: true}"])),
    ("the first untolerated taint is the reason",
     [{"key": "gpu", "operator": "Exists"}], [GPU, UNREACHABLE],
     (UNRESOLVABLE, ["node(s) had untolerated taint {node.kubernetes.io/unreachable: }"])),
])
def test_taint_toleration(what, tolerations, taints, expected):
    p = pod(tolerations=tolerations)
    assert verdict(plugins.taint_toleration(p, node_info(node(taints=taints)))) == expected, what


NOT_READY = (UNRESOLVABLE, ["node(s) had untolerated taint {node.kubernetes.io/not-ready: }"])
UNREACHABLE_MSG = (UNRESOLVABLE,
                   ["node(s) had untolerated taint {node.kubernetes.io/unreachable: }"])


@pytest.mark.parametrize("what, ready, tolerations, taints, expected", [
    ("a Ready node takes pods", "True", None, None, OK),
    ("Ready=False reads as the not-ready taint", "False", None, None, NOT_READY),
    ("no Ready condition yet reads as not-ready", None, None, None, NOT_READY),
    ("Ready=Unknown (kubelet silent) reads as unreachable", "Unknown", None, None,
     UNREACHABLE_MSG),
    ("a pod tolerating unreachable may still go",
     "Unknown", [{"key": "node.kubernetes.io/unreachable", "operator": "Exists"}], None, OK),
    ("a NoExecute-only toleration does not tolerate the NoSchedule reading",
     "Unknown", [{"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                  "effect": "NoExecute", "tolerationSeconds": 300}], None, UNREACHABLE_MSG),
    ("a node the controller already tainted is left to TaintToleration", "Unknown", None,
     [{"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"}], OK),
])
def test_node_ready(what, ready, tolerations, taints, expected):
    ni = node_info(node(ready=ready, taints=taints))
    assert verdict(plugins.node_ready(pod(tolerations=tolerations), ni)) == expected, what


AFFINITY_MISS = (UNRESOLVABLE, ["node(s) didn't match Pod's node affinity/selector"])
LABELS = {"disk": "ssd", "zone": "a", "cores": "8"}


@pytest.mark.parametrize("what, selector, aff, expected", [
    ("no selector, no affinity", None, None, OK),
    ("nodeSelector matching every pair", {"disk": "ssd", "zone": "a"}, None, OK),
    ("nodeSelector with one pair wrong", {"disk": "ssd", "zone": "b"}, None, AFFINITY_MISS),
    ("nodeSelector on a missing label", {"gpu": "yes"}, None, AFFINITY_MISS),
    ("In", None, affinity({"matchExpressions": [expr("disk", "In", "hdd", "ssd")]}), OK),
    ("In missing the value", None, affinity({"matchExpressions": [expr("disk", "In", "hdd")]}),
     AFFINITY_MISS),
    ("NotIn", None, affinity({"matchExpressions": [expr("disk", "NotIn", "hdd")]}), OK),
    ("NotIn with the value", None, affinity({"matchExpressions": [expr("disk", "NotIn", "ssd")]}),
     AFFINITY_MISS),
    ("NotIn on an absent label holds", None,
     affinity({"matchExpressions": [expr("gpu", "NotIn", "yes")]}), OK),
    ("Exists", None, affinity({"matchExpressions": [expr("zone", "Exists")]}), OK),
    ("Exists on an absent label", None, affinity({"matchExpressions": [expr("gpu", "Exists")]}),
     AFFINITY_MISS),
    ("DoesNotExist", None, affinity({"matchExpressions": [expr("gpu", "DoesNotExist")]}), OK),
    ("DoesNotExist on a present label", None,
     affinity({"matchExpressions": [expr("zone", "DoesNotExist")]}), AFFINITY_MISS),
    ("Gt compares integers", None, affinity({"matchExpressions": [expr("cores", "Gt", "4")]}),
     OK),
    ("Gt fails when not greater", None,
     affinity({"matchExpressions": [expr("cores", "Gt", "8")]}), AFFINITY_MISS),
    ("Lt compares integers", None, affinity({"matchExpressions": [expr("cores", "Lt", "16")]}),
     OK),
    ("Lt on a non-integer label never matches", None,
     affinity({"matchExpressions": [expr("zone", "Lt", "16")]}), AFFINITY_MISS),
    ("expressions in one term are ANDed", None,
     affinity({"matchExpressions": [expr("disk", "In", "ssd"), expr("zone", "In", "b")]}),
     AFFINITY_MISS),
    ("terms are ORed", None,
     affinity({"matchExpressions": [expr("zone", "In", "b")]},
              {"matchExpressions": [expr("disk", "In", "ssd")]}), OK),
    ("matchFields on metadata.name", None,
     affinity({"matchFields": [expr("metadata.name", "In", "node1")]}), OK),
    ("matchFields naming another node", None,
     affinity({"matchFields": [expr("metadata.name", "In", "node2")]}), AFFINITY_MISS),
    ("an empty term matches nothing", None, affinity({}), AFFINITY_MISS),
    ("selector and affinity must both hold", {"disk": "hdd"},
     affinity({"matchExpressions": [expr("zone", "Exists")]}), AFFINITY_MISS),
])
def test_node_affinity(what, selector, aff, expected):
    p = pod(node_selector=selector, affinity=aff)
    assert verdict(plugins.node_affinity(p, node_info(node(labels=LABELS)))) == expected, what


PORTS_TAKEN = (UNSCHEDULABLE, ["node(s) didn't have free ports for the requested pod ports"])


def port_pod(port, host_ip=None, protocol=None):
    p = pod(host_port=port)
    if host_ip or protocol:
        p["spec"]["containers"][0]["ports"][0].update(
            {k: v for k, v in (("hostIP", host_ip), ("protocol", protocol)) if v})
    return p


@pytest.mark.parametrize("what, existing, wanted, expected", [
    ("no host port, no conflict", [port_pod(80)], pod(), OK),
    ("a free host port", [port_pod(80)], port_pod(81), OK),
    ("a taken host port", [port_pod(80)], port_pod(80), PORTS_TAKEN),
    ("another protocol on the same port", [port_pod(80)], port_pod(80, protocol="UDP"), OK),
    ("different host IPs do not conflict", [port_pod(80, "10.0.0.1")],
     port_pod(80, "10.0.0.2"), OK),
    ("0.0.0.0 conflicts with any host IP", [port_pod(80, "10.0.0.1")], port_pod(80),
     PORTS_TAKEN),
])
def test_node_ports(what, existing, wanted, expected):
    assert verdict(plugins.node_ports(wanted, node_info(node(), *existing))) == expected, what


@pytest.mark.parametrize("what, existing, wanted, n, expected", [
    ("fits in an empty node", [], pod(cpu="1", memory="1Gi"), node(), OK),
    ("fits exactly", [pod(cpu="1")], pod(cpu="1"), node(cpu="2"), OK),
    ("cpu left is too little", [pod(cpu="1500m")], pod(cpu="600m"), node(cpu="2"),
     (UNSCHEDULABLE, ["Insufficient cpu"])),
    ("memory too", [pod(memory="3Gi")], pod(memory="2Gi"), node(memory="4Gi"),
     (UNSCHEDULABLE, ["Insufficient memory"])),
    ("both at once are two reasons", [], pod(cpu="3", memory="5Gi"), node(),
     (UNSCHEDULABLE, ["Insufficient cpu", "Insufficient memory"])),
    ("a pod asking for nothing always fits the resources", [pod(cpu="2")], pod(), node(cpu="2"),
     OK),
    ("the pod count is a limit too", [pod(), pod()], pod(), node(pods=2),
     (UNSCHEDULABLE, ["Too many pods"])),
])
def test_node_resources_fit(what, existing, wanted, n, expected):
    assert verdict(plugins.node_resources_fit(wanted, node_info(n, *existing))) == expected, what


def test_a_limit_without_a_request_counts_as_the_request():
    p = pod()
    p["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "3"}}
    assert verdict(plugins.node_resources_fit(p, node_info(node(cpu="2")))) == (
        UNSCHEDULABLE, ["Insufficient cpu"])


def test_init_containers_count_by_the_largest_not_the_sum():
    p = pod(cpu="500m")
    p["spec"]["initContainers"] = [{"name": "i1", "resources": {"requests": {"cpu": "1500m"}}},
                                   {"name": "i2", "resources": {"requests": {"cpu": "1"}}}]
    assert plugins.node_resources_fit(p, node_info(node(cpu="1500m"))) is None
    assert plugins.node_resources_fit(p, node_info(node(cpu="1400m"))) is not None


@pytest.mark.parametrize("what, existing, wanted, n, expected", [
    ("an empty node scores high", [], pod(cpu="1", memory="1Gi"), node(cpu="4", memory="4Gi"),
     75),  # cpu (4-1)/4 = 75, memory (4-1)/4 = 75
    ("cpu and memory average", [], pod(cpu="2", memory="1Gi"), node(cpu="4", memory="4Gi"),
     62),  # (50 + 75) / 2, integer division as upstream
    ("a busier node scores lower", [pod(cpu="2", memory="2Gi")], pod(cpu="1", memory="1Gi"),
     node(cpu="4", memory="4Gi"), 25),
    ("request-less pods count 100m and 200Mi", [], pod(), node(cpu="1", memory="1000Mi"),
     85),  # cpu 90, memory 80
    ("over capacity scores 0", [], pod(cpu="8", memory="8Gi"), node(cpu="4", memory="4Gi"), 0),
])
def test_least_allocated(what, existing, wanted, n, expected):
    assert plugins.least_allocated(wanted, node_info(n, *existing)) == expected, what


@pytest.mark.parametrize("what, existing, wanted, expected", [
    ("no siblings on the node", [pod("a", owner="other")], pod("x", owner="web"), 0),
    ("counts pods of the same controller", [pod("a", owner="web"), pod("b", owner="web"),
                                            pod("c", owner="db")], pod("x", owner="web"), 2),
    ("other namespaces do not count", [pod("a", owner="web", namespace="other")],
     pod("x", owner="web"), 0),
    ("a pod without a controller spreads nothing", [pod("a")], pod("x"), 0),
])
def test_selector_spread(what, existing, wanted, expected):
    assert plugins.selector_spread(wanted, node_info(node(), *existing)) == expected, what


@pytest.mark.parametrize("counts, expected", [
    ({"n1": 0, "n2": 0}, {"n1": 100, "n2": 100}),
    ({"n1": 2, "n2": 0}, {"n1": 0, "n2": 100}),
    ({"n1": 3, "n2": 1, "n3": 0}, {"n1": 0, "n2": 66, "n3": 100}),
])
def test_spread_normalize_gives_the_most_crowded_node_zero(counts, expected):
    assert plugins.spread_normalize(counts) == expected


def test_filters_run_in_upstreams_default_order():
    assert [name for name, _ in plugins.FILTERS] == [
        "NodeUnschedulable", "NodeName", "TaintToleration", "NodeReady", "NodeAffinity",
        "NodePorts", "NodeResourcesFit"]


def test_every_plugin_has_a_docstring_naming_it():
    for name, fn in plugins.FILTERS:
        assert fn.__doc__ and fn.__doc__.startswith(name), name
    for p in plugins.default_scores():
        assert p.score.__doc__.startswith(p.name)
