"""The topology picture: the lab network, its machines, and the pods on each machine.

``graph(lab)`` reads the live lab into a networkx graph whose nodes carry a ``kind``
("network", "machine", "pod", ...) and a ``label``; ``draw(graph)`` lays it out and returns
a matplotlib Figure; ``topology(lab)`` does both. Pods and nodes come from the API server
when the lab has one, else from each machine's Docker (the kubelet labels every container
with its pod). Services (from the API server, or given) are boxes in a row under the
machines, with their ClusterIP and ports (``80:30185/TCP`` for a NodePort, as ``kubectl get
svc`` writes them) and a line to each endpoint of their EndpointSlices: the pod that has
the address, or the machine (the ``kubernetes`` Service's endpoint is the API server on cp);
a dotted line for an endpoint that is not ready. Later stages may add node kinds (subnets,
tunnels) and a style for each to ``STYLES``.

A picture says what changed since the one before (``kfs.viz.marks``: ``mark(g, before)``
records it in `g`, ``draw`` and ``describe`` show it). ``topology(lab)`` marks against the
lab's last topology picture in this process; the first picture marks nothing.

The layout is measured, not guessed: every box is its label's text plus a pad (matplotlib
sizes a text's box to the text), and ``kfs.viz.placement`` places the boxes from their
measured sizes within ``MAX_WIDTH`` (a notebook's width).

Figures are made without pyplot (``matplotlib.figure.Figure``), so a picture drawn in a
background thread (the live view) is never one of pyplot's open figures, which the
notebook's inline backend would show in whatever cell is running.
"""
import importlib
import io
import textwrap
from contextlib import closing

import matplotlib
import networkx as nx
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from kfs.viz import marks
from kfs.viz.placement import (COLUMN_GAP, GAP, MARGIN, MAX_WIDTH, ROW_GAP,  # noqa: F401
                               columns, is_service, layout, roots)
from kfs.viz.marks import Difference, difference, is_object, mark, what  # noqa: F401

if matplotlib.get_backend().startswith("module://"):
    # a notebook's inline backend: importing it registers the formatter that shows a
    # returned Figure in a cell (pyplot would import it only with its first figure)
    importlib.import_module(matplotlib.get_backend().removeprefix("module://"))

STYLES = {  # kind -> box face colour
    "network": "#d8e8f8",
    "machine": "#fbe3c4",
    "machine-notready": "#f6cfcf",
    "bridge": "#e4f2d8",
    "pod": "#e4f2d8",
    "pod-pending": "#f6f1c7",
    "pod-failed": "#f6cfcf",
    "service": "#e6dcf5",
}
ENDPOINT_COLOUR = "#7b5ea7"
FONT = dict(fontsize=8, family="monospace")
PAD = 0.4           # a box's padding around its text, in font sizes
DPI = 100
TITLE_HEIGHT = 0.35
WRAP = 24           # characters per line of a machine's component list


# -- what the lab is made of -----------------------------------------------------------

def docker_bridge(machine):
    """The machine's Docker bridge as ``ip addr`` shows it: ``docker0 172.17.0.1/16``."""
    try:
        with closing(machine.docker()) as docker:
            net = docker.networks.get("bridge").attrs["IPAM"]["Config"][0]
    except Exception:  # Docker down or not yet up: the picture still shows the machine
        return "docker: down"
    subnet = net["Subnet"]
    if net.get("Gateway"):
        return f"docker0 {net['Gateway']}/{subnet.partition('/')[2]}"
    return f"docker0 {subnet}"


def components(machine):
    """Names of the components (kubelet, etcd, apiserver, ...) running on the machine."""
    from kfs.lab import supervisor
    return [d.name for d in machine.components() if supervisor.pid_of(d)]


def machine_facts(lab):
    """{machine: (its Docker bridge, its running components)}: what no watch reports."""
    return {m.name: (docker_bridge(m), components(m)) for m in lab.machines}


def load_balancer(lab):
    """(name, label) of stage cloud's load balancer machine, with the addresses it serves
    and their backends; None when the lab has none."""
    import json
    from kfs.lab.stages import cloud
    m = cloud.lb_machine(lab)
    if not m.dir.exists():
        return None
    try:
        served = json.loads((cloud.balancers_dir(lab) / "status.json").read_text())
    except (OSError, ValueError):
        served = {}
    lines = [f"{b['address']} {b.get('service', '')}\n  -> " + ", ".join(
        "." + ip.rsplit(".", 1)[-1] + ("" if ok else " (failing)")
        for ip, ok in b["backends"].items())
        for b in sorted(served.values(), key=lambda b: b["address"])]
    return m.name, "\n".join([f"{m.name} (load balancer)", f"eth0 {m.ip}", *lines])


def api_lists(lab, *plurals):
    """The objects of each resource in `plurals`, as the API server lists them, or a None
    for each when the lab has no API server (or it is down)."""
    if not lab.admin_kubeconfig.exists():
        return (None,) * len(plurals)
    try:
        from kfs.client import Client
        client = Client.from_kubeconfig(lab.admin_kubeconfig)
        client.timeout = 3
        return tuple(client.list(p)["items"] for p in plurals)
    except Exception:  # API server down: fall back to what Docker runs, no Services
        return (None,) * len(plurals)


def from_api(lab):
    """(pods, nodes) as the API server sees them, or (None, None) when it has none."""
    return api_lists(lab, "pods", "nodes")


def services_from_api(lab):
    """(Services, EndpointSlices) as the API server sees them, or (None, None)."""
    return api_lists(lab, "services", "endpointslices")


def pods_from_api(lab):
    """Pods as the API server sees them, or None when the lab has no API server."""
    return from_api(lab)[0]


def pods_from_docker(machine):
    """Pods as the machine's Docker runs them: the sandboxes the kubelet labelled."""
    pods = []
    try:
        with closing(machine.docker()) as docker:
            containers = docker.containers.list(filters={"label": "io.kubernetes.pod.name"})
    except Exception:
        return pods
    for c in containers:
        labels = c.labels
        if labels.get("io.kubernetes.container.name") != "POD":
            continue
        ip = (c.attrs.get("NetworkSettings", {}).get("IPAddress") or "")
        pods.append({"metadata": {"name": labels["io.kubernetes.pod.name"],
                                  "namespace": labels.get("io.kubernetes.pod.namespace")},
                     "spec": {"nodeName": machine.name},
                     "status": {"phase": "Running", "podIP": ip}})
    return pods


def pod_phase(pod):
    """The phase, or Terminating once the pod is being deleted (as kubectl shows it)."""
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return "Terminating"
    return pod.get("status", {}).get("phase", "Pending")


def pod_kind(pod):
    return {"Running": "pod", "Succeeded": "pod", "Failed": "pod-failed",
            "Terminating": "pod-failed"}.get(pod_phase(pod), "pod-pending")


def node_ready(node):
    """A Node's Ready condition as kubectl's STATUS column shows it: Ready, NotReady, Unknown."""
    for c in node.get("status", {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return {"True": "Ready", "False": "NotReady"}.get(c.get("status"), "Unknown")
    return "Unknown"


def graph(lab=None, pods=None, nodes=None, facts=None, services=None, slices=None):
    """The lab as a graph. `pods` and `nodes` override where Pods and Nodes come from (lists
    of objects), `facts` the machines' bridges and components (``machine_facts``),
    `services` and `slices` the Services and EndpointSlices (read from the API server only
    when the pods are too)."""
    from kfs.lab.lab import Lab
    lab = lab or Lab()
    if pods is None:
        pods, listed = from_api(lab)
        nodes = listed if nodes is None else nodes
        if services is None and pods is not None:
            services, slices = services_from_api(lab)
    if pods is None:
        pods = [p for m in lab.nodes for p in pods_from_docker(m)]
    facts = facts or machine_facts(lab)
    ready = {n["metadata"]["name"]: node_ready(n) for n in nodes or []}
    g = nx.DiGraph()
    g.add_node("network", kind="network",
               label=f"lab network {lab.bridge}\n{lab.subnet}\nhost {lab.host_ip}")
    for m in lab.machines:
        bridge, running = facts.get(m.name, ("docker: down", []))
        status = ready.get(m.name)
        label = f"{m.name}{' ' + status if status else ''}\neth0 {m.ip}\n{bridge}"
        if running:
            label += "\n" + "\n".join(textwrap.wrap(", ".join(running), WRAP, break_on_hyphens=False,
                                                   break_long_words=False))
        kind = "machine" if status in (None, "Ready") else "machine-notready"
        g.add_node(m.name, kind=kind, label=label)
        g.add_edge("network", m.name)
    lb = load_balancer(lab)
    if lb:
        g.add_node(lb[0], kind="machine", label=lb[1])
        g.add_edge("network", lb[0])
    for pod in sorted(pods, key=lambda p: p["metadata"]["name"]):
        node = pod.get("spec", {}).get("nodeName")
        status = pod.get("status", {})
        pid = f"pod/{pod['metadata'].get('namespace')}/{pod['metadata']['name']}"
        g.add_node(pid, kind=pod_kind(pod), label=f"{pod['metadata']['name']}\n"
                   f"{status.get('podIP') or '-'}\n{pod_phase(pod)}")
        g.add_edge(node if node in g else "network", pid)
    add_services(g, lab, services or [], slices or [], pods)
    return g


def service_label(svc):
    """``svc default/web``, its ClusterIP, its ports as ``kubectl get svc`` shows them."""
    m, spec = svc["metadata"], svc.get("spec", {})
    ports = ",".join(f"{p['port']}{':' + str(p['nodePort']) if p.get('nodePort') else ''}"
                     f"/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or [])
    ip = spec.get("clusterIP") or "-"
    return f"svc {m.get('namespace', 'default')}/{m['name']}\n" \
           f"{'headless' if ip == 'None' else ip}\n{ports or '-'}"


def add_services(g, lab, services, slices, pods):
    """A box per Service, an edge (kind "endpoint") to each of its endpoints' pod or machine."""
    by_ip = {(p["metadata"].get("namespace"), p.get("status", {}).get("podIP")):
             f"pod/{p['metadata'].get('namespace')}/{p['metadata']['name']}" for p in pods}
    machines = {m.ip: m.name for m in lab.machines}
    for svc in sorted(services, key=lambda s: (s["metadata"].get("namespace", ""), s["metadata"]["name"])):
        ns, name = svc["metadata"].get("namespace", "default"), svc["metadata"]["name"]
        sid = f"svc/{ns}/{name}"
        g.add_node(sid, kind="service", label=service_label(svc))
        for sl in slices:
            if sl["metadata"].get("namespace", "default") != ns or \
                    sl["metadata"].get("labels", {}).get("kubernetes.io/service-name") != name:
                continue
            for ep in sl.get("endpoints") or []:
                ready = ep.get("conditions", {}).get("ready") is not False
                for target in endpoint_targets(g, ep, ns, by_ip, machines):
                    g.add_edge(sid, target, kind="endpoint", ready=ready)


def endpoint_targets(g, ep, ns, by_ip, machines):
    ref = ep.get("targetRef") or {}
    if ref.get("kind") == "Pod" and f"pod/{ref.get('namespace', ns)}/{ref.get('name')}" in g:
        return [f"pod/{ref.get('namespace', ns)}/{ref['name']}"]
    found = [by_ip.get((ns, a)) or machines.get(a) for a in ep.get("addresses") or []]
    return [t for t in found if t in g]


def describe(g):
    """The picture in words, one line per column: what a test (or a screen reader) reads."""
    lines = []
    for root in roots(g):
        for column, items in columns(g, root):
            head = g.nodes[column]["label"].splitlines() if column else ["not scheduled"]
            shown = [f"{g.nodes[i]['label'].splitlines()[0]} ({g.nodes[i]['label'].splitlines()[-1]})"
                     for i in items]
            lines.append(f"{head[0]}: {', '.join(shown) if shown else 'no pods'}")
    for svc in (n for n in g if is_service(g, n)):
        label = g.nodes[svc]["label"].splitlines()
        ends = [g.nodes[t]["label"].splitlines()[0].split()[0] for t in g.successors(svc)]
        lines.append(f"{label[0]} {label[1]} {label[2]} -> {', '.join(ends) or 'no endpoints'}")
    return "\n".join(lines + marks.described(g))


# -- drawing ---------------------------------------------------------------------------

def figure(width=6.0, height=4.0):
    """A Figure outside pyplot, with an Agg canvas (so it renders in any thread)."""
    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def draw(g, ax=None, title=None):
    """Draw `g` into `ax` (or a new Figure sized to the picture); returns the Figure."""
    own = ax is None
    fig = figure() if own else ax.figure
    if own:
        ax = fig.add_axes((0, 0, 1, 1))
    texts = {n: ax.text(0, 0, g.nodes[n].get("label", n), ha="center", va="center", zorder=3,
                        bbox=dict(boxstyle=f"round,pad={PAD}", ec="#555555",
                                  fc=STYLES.get(g.nodes[n].get("kind"), "#eeeeee")), **FONT)
             for n in g}
    renderer = fig.canvas.get_renderer()
    pad = 2 * PAD * FONT["fontsize"] / 72
    sizes = {}
    for n, t in texts.items():
        box = t.get_window_extent(renderer)
        sizes[n] = (box.width / fig.dpi + pad, box.height / fig.dpi + pad)
    pos = layout(g, sizes)
    for n, (x, y) in pos.items():
        texts[n].set_position((x + MARGIN, y - MARGIN - (TITLE_HEIGHT if title else 0)))
    width = max((x + sizes[n][0] / 2 for n, (x, _) in pos.items()), default=1.0) + 2 * MARGIN
    height = max((-y + sizes[n][1] / 2 for n, (_, y) in pos.items()), default=1.0) \
        + 2 * MARGIN + (TITLE_HEIGHT if title else 0)
    note = marks.gone_note(g, width - 2 * MARGIN, FONT)
    if note:
        height += ROW_GAP / 2 + (note.count("\n") + 1) * marks.line_height(FONT)
    if own:  # the figure fits the picture (text sizes are in points: they stay as measured)
        fig.set_size_inches(width, height)
    draw_frames_and_edges(g, ax, texts, sizes)
    draw_endpoints(g, ax, texts, sizes)
    ax.set_xlim(0, width)
    ax.set_ylim(-height, 0)
    ax.axis("off")
    if title and own:  # a figure text: ax.texts holds exactly one box per graph node
        fig.text(0.5, 1 - (MARGIN + TITLE_HEIGHT / 2) / height, title, ha="center",
                 va="center", fontsize=10)
    elif title:
        ax.set_title(title)
    marks.draw_new(g, ax, texts, sizes)
    if note:  # a figure text too, under the lowest box
        fig.text(MARGIN, -height + MARGIN, note, transform=ax.transData, ha="left",
                 va="bottom", color=marks.GONE_COLOUR, **FONT)
    return fig


def draw_frames_and_edges(g, ax, texts, sizes):
    """A faint frame around each machine's column (its pods run there) and around the pods
    not scheduled yet; a line from the network to each machine and to those pods."""
    def box(n):
        (x, y), (w, h) = texts[n].get_position(), sizes[n]
        return x - w / 2, y - h / 2, x + w / 2, y + h / 2
    for root in roots(g):
        rx0, ry0, rx1, ry1 = box(root)
        for head, items in columns(g, root):
            members = ([head] if head else []) + items
            x0 = min(box(n)[0] for n in members) - GAP / 2
            x1 = max(box(n)[2] for n in members) + GAP / 2
            y0 = min(box(n)[1] for n in members) - GAP / 2
            y1 = max(box(n)[3] for n in members) + GAP / 2
            style = "-" if head else "--"
            if items:
                ax.add_patch(FancyBboxPatch((x0, y0), x1 - x0, y1 - y0, zorder=1, ls=style,
                                            boxstyle="round,pad=0,rounding_size=0.08",
                                            fc="#f7f7f7", ec="#bbbbbb"))
            if head:
                line = [(rx0 + rx1) / 2, (x0 + x1) / 2], [ry0, box(head)[3]]
            else:
                line = [rx1, x0], [(ry0 + ry1) / 2, (ry0 + ry1) / 2]
            ax.plot(*line, color="#777777", lw=1, zorder=0.5, ls=style)  # behind the frames


def draw_endpoints(g, ax, texts, sizes):
    """A line from each Service's box up to each of its endpoints (dotted: not ready)."""
    for s, t, data in g.edges(data=True):
        if data.get("kind") != "endpoint":
            continue
        (sx, sy), (tx, ty) = texts[s].get_position(), texts[t].get_position()
        ax.plot([sx, tx], [sy + sizes[s][1] / 2, ty - sizes[t][1] / 2], color=ENDPOINT_COLOUR,
                lw=0.9, zorder=2, ls="-" if data.get("ready", True) else ":")  # over the frames


LAST = {}  # a lab's state directory -> the graph of its last topology picture in this process


def topology(lab=None, ax=None, title=None, pods=None):
    """Draw the live lab; returns the matplotlib Figure (a notebook shows it). What changed
    since the lab's last topology picture is marked (``mark``)."""
    from kfs.lab.lab import Lab
    lab = lab or Lab()
    g = graph(lab, pods)
    mark(g, LAST.get(lab.dir))
    LAST[lab.dir] = g
    return draw(g, ax=ax, title=title or f"lab {lab.name!r}, stage {lab.stage}")


def png(fig, title=None, description=None):
    """The figure as PNG bytes; `title` and `description` go into its text chunks."""
    buf = io.BytesIO()
    metadata = {k: v for k, v in (("Title", title), ("Description", description)) if v}
    fig.savefig(buf, format="png", metadata=metadata)
    return buf.getvalue()

