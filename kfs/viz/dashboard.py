"""The instructor's dashboard: the topology, the cluster's events as they come, and what
runs in each machine's Docker, side by side, each panel kept current by its own thread.

    board = kfs.course.dashboard()        # or kfs.viz.Dashboard(lab).show()
    ...                                   # other cells change the cluster
    board.stop()

Three live panels, built like the live view (``kfs.viz.live``: widgets whose state a
background thread replaces, never output printed from a thread):

- **topology**: the ``LiveView`` picture (machines, their components, the pods);
- **events**: the newest Events of every namespace (an Informer on ``events``), newest
  first: when, the type, the reason, the object, the message, the count — what
  ``kubectl get events -A -w`` would scroll by;
- **containers**: one column per machine, the containers its Docker runs now (the names the
  kubelet gives them, ``k8s_<container>_<pod>_<namespace>_...``), read from each machine's
  Docker every few seconds, since no watch reports them.

Before the lab has an API server, the events panel says so and the other two still work.
Showing a dashboard for a lab stops the one shown before for that lab.

What real Kubernetes does differently: there is no such thing in Kubernetes itself; the
Kubernetes Dashboard, k9s or Headlamp show the API server's view, and none of them shows
the machines' own Docker.
"""
import html
import threading
from contextlib import closing

from kfs.viz.live import THREAD_PREFIX, LiveHTML, LiveView

EVENTS_SHOWN = 15
TABLE = "font: 11px monospace; border-collapse: collapse"
CELL = "padding: 1px 6px; text-align: left; vertical-align: top"


class Dashboard:
    shown = {}  # lab name -> the Dashboard shown last

    def __init__(self, lab=None, interval=5.0):
        self.view = LiveView(lab, interval=interval, title="dashboard")
        self.lab = self.view.lab
        self.events = LiveHTML(self.events_snapshot, self.render_events, interval=interval)
        self.containers = LiveHTML(self.containers_snapshot, self.render_containers,
                                   interval=interval)
        self.informer = None
        self.widget = None

    @property
    def panels(self):
        return (self.view.live, self.events, self.containers)

    def show(self):
        import ipywidgets
        from IPython.display import display
        previous = Dashboard.shown.get(self.lab.name)
        if previous is not None and previous is not self:
            previous.stop()
        Dashboard.shown[self.lab.name] = self
        self.view.watch()
        self.watch_events()
        for panel in self.panels:
            panel.start()
        self.widget = ipywidgets.VBox([self.view.live.widget, ipywidgets.HBox(
            [self.events.widget, self.containers.widget])])
        display(self.widget)
        return self

    def _ipython_display_(self):
        self.show()

    def stop(self):
        self.view.stop()
        for panel in self.panels[1:]:
            panel.stop()
        if self.informer is not None:
            self.informer.stop()
            self.informer = None

    @property
    def running(self):
        return all(panel.running for panel in self.panels)

    # -- the events panel ----------------------------------------------------------------

    def watch_events(self):
        if self.informer is not None or not self.lab.admin_kubeconfig.exists():
            return
        from kfs.client import Client, Informer
        client = Client.from_kubeconfig(self.lab.admin_kubeconfig)
        self.informer = Informer(client, "events").add_handler(self.events.changed)
        threading.Thread(target=self.informer.run, daemon=True,
                         name=f"{THREAD_PREFIX}informer-events").start()
        self.informer.synced.wait(5)

    def events_snapshot(self):
        self.watch_events()  # the lab may have got its API server since the last tick
        if self.informer is None or not self.informer.synced.is_set():
            return None, None
        events = sorted(self.informer.list(), key=event_time, reverse=True)[:EVENTS_SHOWN]
        key = tuple((e["metadata"].get("uid"), e.get("count")) for e in events)
        return key, events

    def render_events(self, events, number):
        if events is None:
            return "<i>no API server yet: no events</i>", "events: no API server yet"
        rows = [row(event_time(e), e.get("type", ""), e.get("reason", ""), involved(e),
                    e.get("message", ""), f"x{e.get('count') or 1}") for e in events]
        text = "\n".join(f"{involved(e)}: {e.get('reason')}" for e in events)
        return (f"<b>events</b> (newest first)<table style='{TABLE}'>{''.join(rows)}"
                f"</table>", text)

    # -- the containers panel ------------------------------------------------------------

    def containers_snapshot(self):
        found = {m.name: machine_containers(m) for m in self.lab.machines}
        return tuple((m, tuple(names or ())) for m, names in found.items()), found

    def render_containers(self, found, number):
        columns = "".join(
            f"<td style='{CELL}'><b>{html.escape(machine)}</b><br>"
            + ("<i>docker down</i>" if names is None else
               "<br>".join(html.escape(n) for n in names) or "<i>none</i>") + "</td>"
            for machine, names in found.items())
        text = "\n".join(f"{m}: " + ("docker down" if names is None else ", ".join(names) or "none")
                         for m, names in found.items())
        return (f"<b>containers</b> (each machine's Docker)<table style='{TABLE}'>"
                f"<tr>{columns}</tr></table>", text)


def event_time(e):
    return e.get("lastTimestamp") or e.get("eventTime") or \
        e["metadata"].get("creationTimestamp") or ""


def involved(e):
    o = e.get("involvedObject") or {}
    return f"{(o.get('kind') or '').lower()}/{o.get('name', '')}"


def row(*cells):
    return "<tr>" + "".join(f"<td style='{CELL}'>{html.escape(str(c))}</td>"
                            for c in cells) + "</tr>"


def machine_containers(machine):
    """Names of the containers the machine's Docker runs now, sorted; None if it is down."""
    try:
        with closing(machine.docker()) as docker:
            return sorted(c["Names"][0].lstrip("/") for c in docker.api.containers())
    except Exception:  # Docker down or not yet up: the panel says so
        return None
