"""Pictures of the lab: machines, the lab network, addresses (and, later, pods and more).

``graph(lab)`` reads the live lab into a networkx graph whose nodes carry a ``kind``
("network", "machine", ...) and a ``label``; ``draw(graph)`` lays it out top-down (the
network on top, machines below it, what runs on a machine below the machine) and returns a
matplotlib Figure; ``topology(lab)`` does both. Later stages add node kinds (pods, services,
subnets, tunnels) to ``graph`` and a style for each to ``STYLES``.
"""
import matplotlib

matplotlib.use(matplotlib.get_backend())  # keep the notebook's inline backend; Agg headless
import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402

STYLES = {  # kind -> box face colour
    "network": "#d8e8f8",
    "machine": "#fbe3c4",
    "bridge": "#e4f2d8",
}


def docker_bridge(machine):
    """The subnet of the machine's Docker bridge (what its containers' addresses come from)."""
    try:
        net = machine.docker().networks.get("bridge").attrs["IPAM"]["Config"][0]
        return f"docker0 {net.get('Gateway', '')} {net['Subnet']}"
    except Exception:  # Docker down or not yet up: the picture still shows the machine
        return "docker: down"


def graph(lab=None):
    from kfs.lab.lab import Lab
    lab = lab or Lab()
    g = nx.DiGraph()
    g.add_node("network", kind="network", level=0,
               label=f"lab network {lab.bridge}\n{lab.subnet}\nhost {lab.host_ip}")
    for m in lab.machines:
        g.add_node(m.name, kind="machine", level=1,
                   label=f"{m.name}\neth0 {m.ip}\n{docker_bridge(m)}")
        g.add_edge("network", m.name)
    return g


def layout(g):
    """Levels top-down; each node centred under its parent, siblings spread evenly."""
    pos, width = {}, {}

    def span(n):
        kids = list(g.successors(n))
        width[n] = max(1.0, sum(span(k) for k in kids))
        return width[n]

    def place(n, left, depth):
        pos[n] = (left + width[n] / 2, -depth)
        for k in g.successors(n):
            place(k, left, depth + 1)
            left += width[k]

    roots = [n for n in g if g.in_degree(n) == 0]
    left = 0.0
    for r in roots:
        span(r)
        place(r, left, 0)
        left += width[r]
    return pos


def draw(g, ax=None, title=None):
    pos = layout(g)
    if ax is None:
        cols = max((x for x, _ in pos.values()), default=1)
        rows = -min((y for _, y in pos.values()), default=0) + 1
        fig, ax = plt.subplots(figsize=(max(6.0, 3.2 * cols), 1.9 * rows + 0.6))
    fig = ax.figure
    nx.draw_networkx_edges(g, pos, ax=ax, arrows=False, edge_color="#777777")
    for n, (x, y) in pos.items():
        kind = g.nodes[n].get("kind", "machine")
        ax.text(x, y, g.nodes[n].get("label", n), ha="center", va="center", fontsize=9,
                family="monospace", bbox=dict(boxstyle="round,pad=0.5",
                                              fc=STYLES.get(kind, "#eeeeee"), ec="#555555"))
    xs = [x for x, _ in pos.values()] or [0]
    ys = [y for _, y in pos.values()] or [0]
    ax.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
    ax.set_ylim(min(ys) - 0.6, max(ys) + 0.6)
    ax.axis("off")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def topology(lab=None, ax=None, title=None):
    """Draw the live lab; returns the matplotlib Figure (a notebook shows it)."""
    from kfs.lab.lab import Lab
    lab = lab or Lab()
    return draw(graph(lab), ax=ax, title=title or f"lab {lab.name!r}, stage {lab.stage}")
