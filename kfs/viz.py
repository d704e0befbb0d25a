"""Pictures of the lab: machines, the lab network, addresses, components and pods.

``graph(lab)`` reads the live lab into a networkx graph whose nodes carry a ``kind``
("network", "machine", "pod", ...) and a ``label``; ``draw(graph)`` lays it out top-down
(the network on top, machines below it, the pods on a machine below the machine) and
returns a matplotlib Figure; ``topology(lab)`` does both; ``LiveView`` redraws it in a
notebook as the cluster changes. Pods come from the API server when the lab has one, else
from each machine's Docker (the kubelet labels every container with its pod).
Later stages add node kinds (services, subnets, tunnels) and a style for each to ``STYLES``.
"""
import matplotlib

matplotlib.use(matplotlib.get_backend())  # keep the notebook's inline backend; Agg headless
import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402

STYLES = {  # kind -> box face colour
    "network": "#d8e8f8",
    "machine": "#fbe3c4",
    "bridge": "#e4f2d8",
    "pod": "#e4f2d8",
    "pod-pending": "#f6f1c7",
    "pod-failed": "#f6cfcf",
}


def docker_bridge(machine):
    """The subnet of the machine's Docker bridge (what its containers' addresses come from)."""
    try:
        net = machine.docker().networks.get("bridge").attrs["IPAM"]["Config"][0]
        gateway = f"{net['Gateway']} " if net.get("Gateway") else ""
        return f"docker0 {gateway}{net['Subnet']}"
    except Exception:  # Docker down or not yet up: the picture still shows the machine
        return "docker: down"


def components(machine):
    """Names of the components (kubelet, etcd, apiserver, ...) running on the machine."""
    from kfs.lab import supervisor
    return [d.name for d in machine.components() if supervisor.pid_of(d)]


def pods_from_api(lab):
    """Pods as the API server sees them, or None when the lab has no API server."""
    if not lab.admin_kubeconfig.exists():
        return None
    try:
        from kfs.client import Client
        client = Client.from_kubeconfig(lab.admin_kubeconfig)
        client.timeout = 3
        return client.list("pods")["items"]
    except Exception:  # API server down: fall back to what Docker runs
        return None


def pods_from_docker(machine):
    """Pods as the machine's Docker runs them: the sandboxes the kubelet labelled."""
    pods = []
    try:
        containers = machine.docker().containers.list(
            filters={"label": "io.kubernetes.pod.name"})
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


def graph(lab=None, pods=None):
    """The lab as a graph. `pods` overrides where pods come from (a list of Pod objects)."""
    from kfs.lab.lab import Lab
    lab = lab or Lab()
    g = nx.DiGraph()
    g.add_node("network", kind="network", level=0,
               label=f"lab network {lab.bridge}\n{lab.subnet}\nhost {lab.host_ip}")
    for m in lab.machines:
        running = components(m)
        label = f"{m.name}\neth0 {m.ip}\n{docker_bridge(m)}"
        if running:
            label += "\n" + ", ".join(running)
        g.add_node(m.name, kind="machine", level=1, label=label)
        g.add_edge("network", m.name)
    if pods is None:
        pods = pods_from_api(lab)
    if pods is None:
        pods = [p for m in lab.nodes for p in pods_from_docker(m)]
    for pod in sorted(pods, key=lambda p: p["metadata"]["name"]):
        node = pod.get("spec", {}).get("nodeName")
        status = pod.get("status", {})
        pid = f"pod/{pod['metadata'].get('namespace')}/{pod['metadata']['name']}"
        g.add_node(pid, kind=pod_kind(pod), label=f"{pod['metadata']['name']}\n"
                   f"{status.get('podIP') or '-'}\n{pod_phase(pod)}")
        g.add_edge(node if node in g else "network", pid)
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


def topology(lab=None, ax=None, title=None, pods=None):
    """Draw the live lab; returns the matplotlib Figure (a notebook shows it)."""
    from kfs.lab.lab import Lab
    lab = lab or Lab()
    fig = draw(graph(lab, pods), ax=ax, title=title or f"lab {lab.name!r}, stage {lab.stage}")
    plt.close(fig)  # the caller shows it (a notebook displays a returned Figure once)
    return fig


class LiveView:
    """A picture in a notebook that redraws itself every `interval` seconds.

        view = kfs.viz.LiveView(lab); view.show()     # ... the cluster changes ...
        view.stop()
    """

    def __init__(self, lab=None, interval=2.0):
        import ipywidgets
        self.lab, self.interval = lab, interval
        self.output = ipywidgets.Output()
        self._stop = None

    def refresh(self):
        from IPython.display import display
        fig = topology(self.lab)
        with self.output:
            self.output.clear_output(wait=True)
            display(fig)

    def show(self):
        import threading
        from IPython.display import display
        display(self.output)
        self.refresh()
        self._stop = threading.Event()

        def loop():
            while not self._stop.wait(self.interval):
                self.refresh()
        threading.Thread(target=loop, daemon=True).start()
        return self

    def stop(self):
        if self._stop:
            self._stop.set()
