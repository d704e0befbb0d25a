"""The architecture picture: every component of the course and who talks to whom.

Drawn with networkx and matplotlib from ``COMPONENTS`` and ``TALKS``: notebook 00 draws it
whole; every later notebook redraws it with its own component highlighted, the components
the lab does not run yet at that stage greyed out.
"""
import networkx as nx

from kfs.lab.stages import STAGES

# component -> (x, y, where it runs, the stage that starts it)
COMPONENTS = {
    "kubectl": (0.0, 3.0, "your shell", "apiserver"),
    "etcd": (4.0, 3.0, "cp (or cp, node1, node2)", "apiserver"),
    "kube-apiserver": (2.0, 3.0, "cp", "apiserver"),
    "kube-scheduler": (1.0, 4.2, "cp", "scheduler"),
    "kube-controller-manager": (3.0, 4.2, "cp", "controller-manager"),
    "kubelet": (1.0, 1.6, "each node", "kubelet"),
    "docker": (1.0, 0.4, "each machine", "machines"),
    "kube-proxy": (2.3, 1.6, "each node", "proxy"),
    "flanneld": (3.5, 1.6, "each node", "flannel"),
    "dns": (4.6, 1.6, "cp", "dns"),
    "cloud-controller-manager": (5.0, 4.2, "cp", "cloud"),
    "load-balancer": (3.5, 0.4, "the lb machine", "cloud"),
}

# (who, whom, what about)
TALKS = [
    ("kubectl", "kube-apiserver", "REST"),
    ("kube-apiserver", "etcd", "gRPC: get, put, watch"),
    ("kube-scheduler", "kube-apiserver", "watch pods, nodes; Binding"),
    ("kube-controller-manager", "kube-apiserver", "watch, create, delete"),
    ("kubelet", "kube-apiserver", "watch its pods; status"),
    ("kube-apiserver", "kubelet", "logs, exec"),
    ("kubelet", "docker", "containers"),
    ("kube-proxy", "kube-apiserver", "watch Services"),
    ("flanneld", "etcd", "subnet leases (its own etcd client)"),
    ("dns", "kube-apiserver", "watch Services, EndpointSlices"),
    ("cloud-controller-manager", "kube-apiserver", "Nodes' providerID; LB status"),
    ("cloud-controller-manager", "load-balancer", "a balancer per Service"),
    ("load-balancer", "kube-proxy", "to each node's NodePort"),
]


def graph():
    g = nx.DiGraph()
    for name, (x, y, where, stage) in COMPONENTS.items():
        g.add_node(name, pos=(x, y), where=where, stage=stage)
    for a, b, what in TALKS:
        g.add_edge(a, b, what=what)
    return g


def running_at(stage):
    """The components the lab runs at `stage` (all of them when stage is None)."""
    if stage is None:
        return set(COMPONENTS)
    reached = STAGES[:STAGES.index(stage) + 1]
    return {n for n, c in COMPONENTS.items() if c[3] in reached}


def architecture(highlight=(), stage=None, title=None, ax=None):
    """Draw the components and who talks to whom; `highlight` (a name or names) in orange,
    components not running at `stage` in grey. Returns the matplotlib Figure (drawn outside
    pyplot, as kfs.viz's pictures: a notebook shows it as a cell's value)."""
    from kfs.viz.picture import figure
    highlight = {highlight} if isinstance(highlight, str) else set(highlight)
    unknown = highlight - set(COMPONENTS)
    if unknown:
        raise ValueError(f"no component {sorted(unknown)}; components: {', '.join(COMPONENTS)}")
    g, on = graph(), running_at(stage)
    pos = nx.get_node_attributes(g, "pos")
    if ax is None:
        fig = figure(10, 5)
        fig.set_layout_engine("constrained")
        ax = fig.add_subplot()
    colors = ["#f5a623" if n in highlight else "#9ecae1" if n in on else "#eeeeee"
              for n in g]
    nx.draw_networkx_nodes(g, pos, ax=ax, node_color=colors, node_size=2600,
                           edgecolors="#444444", node_shape="s")
    nx.draw_networkx_labels(g, pos, ax=ax, font_size=8,
                            labels={n: n.replace("-", "-\n") if len(n) > 12 else n for n in g})
    live = [(a, b) for a, b in g.edges if a in on and b in on]
    nx.draw_networkx_edges(g, pos, ax=ax, edgelist=live, node_size=2600, arrowsize=14,
                           connectionstyle="arc3,rad=0.12", edge_color="#444444")
    nx.draw_networkx_edge_labels(g, pos, ax=ax, font_size=6, connectionstyle="arc3,rad=0.12",
                                 edge_labels={e: g.edges[e]["what"] for e in live})
    for n, (x, y) in pos.items():
        ax.annotate(g.nodes[n]["where"], (x, y - 0.5), ha="center", fontsize=6, color="#666666")
    ax.set_title(title or ("the components, and who talks to whom" if stage is None else
                           f"at stage {stage}: the components, and who talks to whom"))
    ax.margins(0.08)
    ax.axis("off")
    return ax.figure


def path(hops, title="", ax=None):
    """Draw one packet's (or query's) way as boxes left to right: `hops` is a list of
    (box text, text on the arrow to the next box); the last arrow text is ignored.
    Returns the matplotlib Figure (outside pyplot, as ``architecture``)."""
    from kfs.viz.picture import figure
    if not hops:
        raise ValueError("path() needs at least one hop")
    if ax is None:
        fig = figure(min(3.4 * len(hops), 15), 2.4)
        ax = fig.add_subplot()
    for i, (box, _) in enumerate(hops):
        ax.text(i, 0, box, ha="center", va="center", fontsize=8,
                bbox=dict(boxstyle="round,pad=0.5", fc="#dbe9f6", ec="#5b8db8"))
    for i, (_, arrow) in enumerate(hops[:-1]):
        ax.annotate("", (i + 0.6, 0), (i + 0.4, 0),
                    arrowprops=dict(arrowstyle="->", color="#444444", lw=1.5))
        ax.text(i + 0.5, 0.22, arrow, ha="center", va="bottom", fontsize=7, color="#444444")
    ax.set_xlim(-0.6, len(hops) - 0.4)
    ax.set_ylim(-0.6, 0.8)
    ax.set_title(title, fontsize=10)
    ax.axis("off")
    return ax.figure
