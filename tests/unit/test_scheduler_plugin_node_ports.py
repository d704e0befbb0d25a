"""NodePorts, table-driven: host ports taken on a node, and the events that free them."""
import pytest

from kfs.scheduler import events
from kfs.scheduler.events import QUEUE, QUEUE_SKIP
from kfs.scheduler.framework import UNSCHEDULABLE
from kfs.scheduler.plugins.node_ports import NodePorts
from tests.unit.scheduler_objects import OK, node, node_info, pod, requeue_hint, verdict

PORTS_TAKEN = (UNSCHEDULABLE, ["node(s) didn't have free ports for the requested pod ports"])


def port_pod(port, host_ip=None, protocol=None, node_name=None):
    p = pod(host_port=port, node_name=node_name)
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
    assert verdict(NodePorts().filter(wanted, node_info(node(), *existing))) == expected, what


@pytest.mark.parametrize("what, event, old, new, expected", [
    ("a bound pod holding the port deleted", events.ASSIGNED_POD_DELETE,
     port_pod(80, node_name="node1"), None, QUEUE),
    ("a bound pod holding another port deleted", events.ASSIGNED_POD_DELETE,
     port_pod(81, node_name="node1"), None, QUEUE_SKIP),
    ("a bound pod with no host port deleted", events.ASSIGNED_POD_DELETE,
     pod(node_name="node1"), None, QUEUE_SKIP),
    ("a pending pod deleted held no port", events.ASSIGNED_POD_DELETE, port_pod(80), None,
     QUEUE_SKIP),
    ("a new node is always worth a try (no hint)", events.NODE_ADD, None, node("node2"),
     QUEUE),
    ("a label change frees no port", events.NODE_LABEL_CHANGE, node(), node(), None),
])
def test_node_ports_wakes_a_pod_when_its_port_may_be_free(what, event, old, new, expected):
    assert requeue_hint(NodePorts(), event, port_pod(80), old, new) == expected, what
