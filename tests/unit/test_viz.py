import networkx as nx

from kfs import viz
from kfs.lab.lab import Lab


def test_layout_puts_children_under_their_parent_and_siblings_side_by_side():
    g = nx.DiGraph([("net", "a"), ("net", "b"), ("a", "a1"), ("a", "a2")])
    pos = viz.layout(g)
    assert pos["net"][1] > pos["a"][1] > pos["a1"][1]
    assert pos["a1"][0] < pos["a"][0] < pos["a2"][0] < pos["b"][0]


def test_graph_of_a_lab_has_the_network_and_each_machine_with_its_address(tmp_path):
    lab = Lab(name="kfs", subnet="192.168.56.0/24", home=tmp_path)
    lab.state["nodes"] = 2
    g = viz.graph(lab)
    assert set(g.successors("network")) == {"cp", "node1", "node2"}
    assert "192.168.56.11" in g.nodes["node1"]["label"]
    assert "192.168.56.1" in g.nodes["network"]["label"]


def test_topology_returns_a_figure_with_one_box_per_node(tmp_path):
    lab = Lab(name="kfs", subnet="192.168.56.0/24", home=tmp_path)
    lab.state["nodes"] = 1
    fig = viz.topology(lab)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert len(texts) == 3 and any("cp" in t for t in texts)


def test_pods_hang_under_their_node_and_unscheduled_ones_under_the_network(tmp_path):
    lab = Lab(name="kfs", subnet="192.168.56.0/24", home=tmp_path)
    lab.state["nodes"] = 2
    pods = [{"metadata": {"name": "web-1", "namespace": "default"}, "spec": {"nodeName": "node1"},
             "status": {"phase": "Running", "podIP": "172.17.0.2"}},
            {"metadata": {"name": "web-2", "namespace": "default"}, "spec": {},
             "status": {"phase": "Pending"}}]
    g = viz.graph(lab, pods=pods)
    assert list(g.predecessors("pod/default/web-1")) == ["node1"]
    assert "172.17.0.2" in g.nodes["pod/default/web-1"]["label"]
    assert list(g.predecessors("pod/default/web-2")) == ["network"]
    assert g.nodes["pod/default/web-2"]["kind"] == "pod-pending"


def test_a_pod_being_deleted_is_drawn_as_terminating(tmp_path):
    lab = Lab(name="kfs", subnet="192.168.56.0/24", home=tmp_path)
    lab.state["nodes"] = 1
    pod = {"metadata": {"name": "web-1", "namespace": "default", "deletionTimestamp": "t"},
           "spec": {"nodeName": "node1"}, "status": {"phase": "Running"}}
    g = viz.graph(lab, pods=[pod])
    assert "Terminating" in g.nodes["pod/default/web-1"]["label"]
