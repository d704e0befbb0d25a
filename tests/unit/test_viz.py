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


# -- the picture's geometry: measured boxes, none over another --------------------------

FINAL_STAGE_ON_CP = ["etcd", "apiserver", "scheduler", "controller-manager", "proxy",
                     "flanneld", "dns", "cloud-controller-manager", "kubelet"]


def busy_lab(tmp_path, nodes=3, pods=12, pending=1):
    """A lab of `nodes` nodes at the final stage: every component on cp, flannel's bridges,
    `pods` pods spread over the nodes with upstream-length names, `pending` unscheduled."""
    lab = Lab(name="kfs", subnet="192.168.56.0/24", home=tmp_path)
    lab.state.update(nodes=nodes, stage="flannel")
    facts = {m.name: (f"docker0 10.244.{100 + i}.1/24",
                      FINAL_STAGE_ON_CP if m.name == "cp" else ["flanneld", "kubelet", "proxy"])
             for i, m in enumerate(lab.machines)}
    objs = [{"metadata": {"name": f"echo-5d8f9c7b6d-x{i:04d}", "namespace": "default"},
             "spec": {"nodeName": f"node{i % nodes + 1}"},
             "status": {"phase": "Running", "podIP": f"10.244.{101 + i % nodes}.{100 + i}"}}
            for i in range(pods)]
    objs += [{"metadata": {"name": f"waiting-for-a-node-{i}", "namespace": "default"},
              "spec": {}, "status": {"phase": "Pending"}} for i in range(pending)]
    nodes_ = [{"metadata": {"name": f"node{i}"},
               "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
              for i in range(1, nodes + 1)]
    return viz.graph(lab, pods=objs, nodes=nodes_, facts=facts)


def drawn_boxes(fig):
    """[(label, box of its text, box drawn around it)] in pixels, as the renderer drew them."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return [(t.get_text(), t.get_window_extent(renderer),
             t.get_bbox_patch().get_window_extent(renderer)) for t in fig.axes[0].texts]


def test_no_box_overlaps_another_at_3_nodes_and_12_pods_with_every_component_on_cp(tmp_path):
    fig = viz.draw(busy_lab(tmp_path), title="3 nodes, 12 pods")
    boxes = drawn_boxes(fig)
    assert len(boxes) == 1 + 4 + 12 + 1
    renderer = fig.canvas.get_renderer()
    title = fig.texts[0].get_window_extent(renderer)
    for i, (label, _, box) in enumerate(boxes):
        assert not box.overlaps(title), label
        for other, _, other_box in boxes[i + 1:]:
            assert not box.overlaps(other_box), f"{label!r} overlaps {other!r}"


def test_each_box_holds_its_whole_text_and_lies_inside_the_figure(tmp_path):
    fig = viz.draw(busy_lab(tmp_path))
    for label, text, box in drawn_boxes(fig):
        assert box.x0 < text.x0 and text.x1 < box.x1 and box.y0 < text.y0 and text.y1 < box.y1
        assert 0 <= box.x0 and box.x1 <= fig.bbox.width, label
        assert 0 <= box.y0 and box.y1 <= fig.bbox.height, label
    [cp] = [t for t, _, _ in drawn_boxes(fig) if t.startswith("cp")]
    assert all(c in cp for c in FINAL_STAGE_ON_CP)


def test_the_picture_of_3_nodes_and_12_pods_fits_a_notebooks_width(tmp_path):
    fig = viz.draw(busy_lab(tmp_path), title="t")
    assert fig.get_size_inches()[0] * fig.dpi <= viz.picture.MAX_WIDTH * viz.picture.DPI


def test_many_pods_on_one_node_wrap_into_rows_instead_of_widening_the_picture(tmp_path):
    g = busy_lab(tmp_path, nodes=1, pods=30, pending=0)
    fig = viz.draw(g)
    assert fig.get_size_inches()[0] <= viz.picture.MAX_WIDTH
    pos = viz.layout(g, {n: (1.6, 0.5) for n in g})
    rows = {y for n, (_, y) in pos.items() if n.startswith("pod/")}
    assert 1 < len(rows) < 30
    assert all(y < pos["node1"][1] for n, (_, y) in pos.items() if n.startswith("pod/"))


def test_a_node_that_is_not_ready_says_so_in_its_box(tmp_path):
    lab = Lab(name="kfs", subnet="192.168.56.0/24", home=tmp_path)
    lab.state["nodes"] = 2
    nodes = [{"metadata": {"name": "node1"}, "status": {"conditions": [
        {"type": "Ready", "status": "True"}]}},
             {"metadata": {"name": "node2"}, "status": {"conditions": [
                 {"type": "Ready", "status": "Unknown"}]}}]
    g = viz.graph(lab, pods=[], nodes=nodes)
    assert g.nodes["node1"]["label"].startswith("node1 Ready")
    assert g.nodes["node2"]["label"].startswith("node2 Unknown")
    assert g.nodes["node2"]["kind"] == "machine-notready"


def test_the_description_names_each_pod_under_its_node(tmp_path):
    text = viz.describe(busy_lab(tmp_path, nodes=2, pods=3))
    lines = text.splitlines()
    assert lines[0] == "cp: no pods"
    assert lines[1].startswith("node1 Ready: echo-5d8f9c7b6d-x0000 (Running), "
                               "echo-5d8f9c7b6d-x0002 (Running)")
    assert lines[-1] == "not scheduled: waiting-for-a-node-0 (Pending)"


def png_text(data):
    """The tEXt chunks of a PNG: {keyword: text}."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, i = {}, 8
    while i < len(data):
        n = int.from_bytes(data[i:i + 4], "big")
        kind, body = data[i + 4:i + 8], data[i + 8:i + 8 + n]
        if kind == b"tEXt":
            key, _, value = body.partition(b"\0")
            chunks[key.decode("latin-1")] = value.decode("latin-1")
        i += 12 + n
    return chunks


def test_a_png_carries_its_title_and_what_it_shows(tmp_path):
    g = busy_lab(tmp_path, nodes=1, pods=1, pending=0)
    data = viz.png(viz.draw(g), title="picture 3", description=viz.describe(g))
    text = png_text(data)
    assert text["Title"] == "picture 3"
    assert "echo-5d8f9c7b6d-x0000 (Running)" in text["Description"]


def test_a_figure_is_drawn_outside_pyplot_so_no_cell_shows_it_by_accident(tmp_path):
    import matplotlib.pyplot as plt
    lab = Lab(name="kfs", subnet="192.168.56.0/24", home=tmp_path)
    lab.state["nodes"] = 1
    viz.topology(lab)
    assert plt.get_fignums() == []


# -- Services: boxes under the machines, a line to each endpoint ---------------------------

def services_and_slices(ips):
    web = {"metadata": {"name": "web", "namespace": "default"},
           "spec": {"type": "NodePort", "clusterIP": "10.96.7.7",
                    "ports": [{"port": 80, "nodePort": 30185, "protocol": "TCP"}]}}
    kubernetes = {"metadata": {"name": "kubernetes", "namespace": "default"},
                  "spec": {"clusterIP": "10.96.0.1", "ports": [{"port": 443, "protocol": "TCP"}]}}
    slices = [{"metadata": {"name": "web-abc", "namespace": "default",
                            "labels": {"kubernetes.io/service-name": "web"}},
               "endpoints": [{"addresses": [ips[0]], "conditions": {"ready": True},
                              "targetRef": {"kind": "Pod", "name": "echo-5d8f9c7b6d-x0000"}},
                             {"addresses": [ips[1]], "conditions": {"ready": False}}]},
              {"metadata": {"name": "kubernetes", "namespace": "default",
                            "labels": {"kubernetes.io/service-name": "kubernetes"}},
               "endpoints": [{"addresses": ["192.168.56.10"]}]}]
    return [web, kubernetes], slices


def lab_with_services(tmp_path, pods=3):
    g = busy_lab(tmp_path, nodes=2, pods=pods, pending=0)
    lab = Lab(name="kfs", subnet="192.168.56.0/24", home=tmp_path)
    lab.state.update(nodes=2)
    objs = [{"metadata": {"name": g.nodes[n]["label"].split()[0], "namespace": "default"},
             "spec": {"nodeName": next(iter(g.predecessors(n)))},
             "status": {"phase": "Running", "podIP": g.nodes[n]["label"].split()[1]}}
            for n in g if n.startswith("pod/")]
    services, slices = services_and_slices([objs[0]["status"]["podIP"], objs[1]["status"]["podIP"]])
    facts = {m.name: ("docker0 10.244.1.1/24", ["kubelet"]) for m in lab.machines}
    return viz.graph(lab, pods=objs, nodes=[], facts=facts, services=services, slices=slices)


def test_a_service_is_drawn_with_its_cluster_ip_and_node_port_and_lines_to_its_endpoints(tmp_path):
    g = lab_with_services(tmp_path)
    assert g.nodes["svc/default/web"]["label"].splitlines() == [
        "svc default/web", "10.96.7.7", "80:30185/TCP"]
    web = {t: d["ready"] for _, t, d in g.out_edges("svc/default/web", data=True)}
    assert web == {"pod/default/echo-5d8f9c7b6d-x0000": True,     # by its targetRef
                   "pod/default/echo-5d8f9c7b6d-x0001": False}    # by its address, not ready
    assert list(g.successors("svc/default/kubernetes")) == ["cp"]  # the API server's machine
    assert "svc default/web 10.96.7.7 80:30185/TCP -> echo-5d8f9c7b6d-x0000, " \
           "echo-5d8f9c7b6d-x0001" in viz.describe(g)


def test_services_sit_under_every_pod_and_overlap_no_box(tmp_path):
    g = lab_with_services(tmp_path, pods=8)
    pos = viz.layout(g, {n: (1.6, 0.5) for n in g})
    lowest_pod = min(y for n, (_, y) in pos.items() if n.startswith("pod/"))
    assert all(pos[s][1] < lowest_pod for s in g if s.startswith("svc/"))
    fig = viz.draw(g, title="services")
    boxes = drawn_boxes(fig)
    assert len(boxes) == len(g)
    for i, (label, _, box) in enumerate(boxes):
        for other, _, other_box in boxes[i + 1:]:
            assert not box.overlaps(other_box), f"{label!r} overlaps {other!r}"
    assert fig.get_size_inches()[0] <= viz.picture.MAX_WIDTH
    assert viz.describe(g).splitlines()[1].startswith("node1: echo-5d8f9c7b6d-x0000")
    dotted = [line for line in fig.axes[0].lines if line.get_linestyle() == ":"]
    assert len(dotted) == 1, "the endpoint that is not ready"


def test_a_picture_without_services_has_no_service_boxes(tmp_path):
    g = busy_lab(tmp_path, nodes=1, pods=1, pending=0)
    assert not [n for n in g if n.startswith("svc/")]


# -- what changed since the last picture -----------------------------------------------------

def tags(fig):
    return [t for t in fig.texts if t.get_text() == "new"]


def gone_notes(fig):
    return [t.get_text() for t in fig.texts if t.get_text().startswith("gone since")]


def test_the_first_picture_marks_nothing(tmp_path):
    g = busy_lab(tmp_path, nodes=2, pods=3, pending=0)
    assert not viz.mark(g, None)
    fig = viz.draw(g)
    assert tags(fig) == [] and gone_notes(fig) == []
    assert "since the last picture" not in viz.describe(g)


def test_a_new_pod_is_drawn_in_green_with_a_new_tag(tmp_path):
    before = busy_lab(tmp_path, nodes=2, pods=2, pending=0)
    after = busy_lab(tmp_path, nodes=2, pods=3, pending=0)
    d = viz.mark(after, before)
    assert d.new == ["pod/default/echo-5d8f9c7b6d-x0002"] and d.gone == []
    fig = viz.draw(after)
    [tag] = tags(fig)
    [(_, _, box)] = [b for b in drawn_boxes(fig) if b[0].startswith("echo-5d8f9c7b6d-x0002")]
    on = tag.get_window_extent(fig.canvas.get_renderer())
    assert box.x0 < on.x0 < on.x1 < box.x1 and on.y0 < box.y1 < on.y1  # on the box's top edge
    [new] = [t for t in fig.axes[0].texts if t.get_text().startswith("echo-5d8f9c7b6d-x0002")]
    assert new.get_bbox_patch().get_edgecolor()[:3] == (0x2e / 255, 0x8b / 255, 0x2e / 255)
    assert "new since the last picture: pod echo-5d8f9c7b6d-x0002 (node1)" in viz.describe(after)


def test_a_deleted_pod_is_listed_as_gone_in_a_note_under_the_picture(tmp_path):
    before = busy_lab(tmp_path, nodes=2, pods=3, pending=0)
    after = busy_lab(tmp_path, nodes=2, pods=2, pending=0)
    assert viz.mark(after, before).gone == ["pod echo-5d8f9c7b6d-x0002 (node1)"]
    fig = viz.draw(after, title="t")
    assert gone_notes(fig) == ["gone since the last picture: pod echo-5d8f9c7b6d-x0002 (node1)"]
    assert tags(fig) == []
    renderer = fig.canvas.get_renderer()
    [note] = [t for t in fig.texts if t.get_text().startswith("gone")]
    extent = note.get_window_extent(renderer)
    assert 0 <= extent.y0 and extent.x1 <= fig.bbox.width
    assert not any(extent.overlaps(box) for _, _, box in drawn_boxes(fig))
    assert viz.describe(after).endswith("gone since the last picture: "
                                        "pod echo-5d8f9c7b6d-x0002 (node1)")


def test_an_unchanged_picture_marks_nothing(tmp_path):
    before = busy_lab(tmp_path, nodes=2, pods=3)
    after = busy_lab(tmp_path, nodes=2, pods=3)
    assert not viz.mark(after, before)
    fig = viz.draw(after)
    assert tags(fig) == [] and gone_notes(fig) == []


def test_a_long_list_of_gone_pods_wraps_within_the_notebooks_width(tmp_path):
    before = busy_lab(tmp_path, nodes=3, pods=12)
    after = busy_lab(tmp_path, nodes=3, pods=0)
    assert len(viz.mark(after, before).gone) == 12
    fig = viz.draw(after)
    [note] = gone_notes(fig)
    assert note.count("\n") >= 1
    assert fig.get_size_inches()[0] <= viz.picture.MAX_WIDTH


def test_topology_marks_what_changed_since_the_labs_last_topology_picture(tmp_path):
    lab = Lab(name="kfs", subnet="192.168.56.0/24", home=tmp_path)
    lab.state["nodes"] = 1
    pod = lambda name: {"metadata": {"name": name, "namespace": "default"},  # noqa: E731
                        "spec": {"nodeName": "node1"}, "status": {"phase": "Running"}}
    assert tags(viz.topology(lab, pods=[pod("a")])) == []
    assert len(tags(viz.topology(lab, pods=[pod("a"), pod("b")]))) == 1
    assert gone_notes(viz.topology(lab, pods=[pod("b")])) == [
        "gone since the last picture: pod a (node1)"]
    assert tags(viz.topology(lab, pods=[pod("b")])) == []
