"""Pictures that keep themselves current in a notebook: ``LiveImage`` and ``LiveView``.

A ``LiveImage`` is an ``ipywidgets.Image`` (with a caption under it) whose PNG a background
thread replaces. The widget's state is synced to every front end that shows it (JupyterLab,
the classic notebook), whichever thread sets it; the thread never prints and never displays,
so a cell running meanwhile keeps its own output. (Displaying into an ``Output`` widget from
a thread, as the first live view did, is what never reached JupyterLab: output captured by a
thread goes to whichever cell the kernel thinks is running.)

It redraws when told something changed (``changed()``, called by a watch) and every
``interval`` seconds, but only when what it would draw differs from what it shows: the
picture's number in its caption counts real changes. ``stop()`` ends it; it also ends with
its kernel (a daemon thread) or when its widget is closed. A dashboard puts several side by
side (``ipywidgets.HBox([a.widget, b.widget])``); each has its own thread.

``LiveView(lab)`` is the topology picture (``kfs.viz.picture``) as a LiveImage, driven by
Informers on pods and nodes through the lab's admin kubeconfig, and a slow timer for what no
watch reports (the machines' components). Before the lab has an API server it reads Docker
on each tick. Each picture marks what changed in the last ``MARK_HOLD`` seconds
(``picture.difference`` of each frame against the one before, held that long: new pods,
machines and Services framed in green, what is gone in a note), so an instructor sees what
just happened, and a new pod stays marked while its status changes from frame to frame.
"""
import html
import logging
import threading
import time
import weakref

from kfs.viz import picture

RUNNING = weakref.WeakSet()  # every started LiveImage, for stop_all()
THREAD_PREFIX = "kfs-live-"
MARK_HOLD = 15.0  # seconds a live view keeps marking what is new or gone


class Quiet(logging.Filter):
    """Drop the log records of a live view's informer threads: a warning printed from a
    background thread would land in whichever cell is running (the caption says it instead)."""

    def filter(self, record):
        return not record.threadName.startswith(THREAD_PREFIX)


for _quiet in (logging.getLogger("kfs.client"), logging.getLogger("urllib3"), logging.lastResort):
    _quiet.addFilter(Quiet())


class LiveImage:
    """An image widget that a background thread keeps current.

    `snapshot()` returns ``(key, payload)``: `key` is what the picture would show (any
    value comparable with ==, cheap to get); `render(payload, number)` returns
    ``(png bytes, text)``, called only when the key changed. `text` says what the picture
    shows (the caption under it and the PNG's Description).
    """

    def __init__(self, snapshot, render, interval=5.0, settle=0.3):
        import ipywidgets
        self.snapshot, self.render = snapshot, render
        self.interval, self.settle = interval, settle
        self.image = self.make_display(ipywidgets)
        self.caption = ipywidgets.HTML(layout=ipywidgets.Layout(max_width="100%"))
        self.caption.add_class("kfs-live-caption")
        # at its own size (a VBox would stretch it to the cell's width), never wider
        self.widget = ipywidgets.VBox([self.image, self.caption],
                                      layout=ipywidgets.Layout(align_items="flex-start"))
        self.pictures, self.key, self.text, self.error = 0, None, "", None
        self.shown = None  # the payload of the picture shown
        self._changed, self._stopped = threading.Event(), threading.Event()
        self._lock = threading.Lock()
        self._thread = None

    def make_display(self, ipywidgets):
        # no `tooltip` on an Image: ipywidgets 8.1's front end then fails to draw it at all
        image = ipywidgets.Image(format="png", layout=ipywidgets.Layout(max_width="100%"))
        image.add_class("kfs-live-image")
        return image

    def changed(self, *_):
        """Something the picture shows may have changed: redraw soon (any thread)."""
        self._changed.set()

    def start(self):
        self.refresh()
        self._thread = threading.Thread(target=self.run, daemon=True,
                                        name=f"{THREAD_PREFIX}{id(self):x}")
        self._thread.start()
        RUNNING.add(self)
        return self

    def stop(self):
        self._stopped.set()
        self._changed.set()
        if self._thread and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        RUNNING.discard(self)

    @property
    def running(self):
        return self._thread is not None and self._thread.is_alive()

    def run(self):
        while not self._stopped.is_set():
            poked = self._changed.wait(self.interval)
            if self._stopped.is_set() or self.image.comm is None:  # stopped, or widget closed
                break
            if poked:  # let a burst of watch events settle into one picture
                self._stopped.wait(self.settle)
            self._changed.clear()
            self.refresh()
        self._caption("stopped")

    def refresh(self):
        """Take a snapshot; draw it if it differs from the picture shown. True if it drew."""
        with self._lock:
            try:
                key, payload = self.snapshot()
                if key == self.key and self.error is None:
                    return False
                data, text = self.render(payload, self.pictures + 1)
            except Exception as e:  # never raise (nor print) from the refresher's thread
                self.error = f"{type(e).__name__}: {e}"
                self._caption(f"not redrawn: {self.error}")
                return False
            self.image.value = data
            self.pictures, self.key, self.text, self.error = self.pictures + 1, key, text, None
            self.shown = payload
            self._caption()
            return True

    def _caption(self, note=None):
        words = [f"picture {self.pictures}", time.strftime("%H:%M:%S")]
        if note:
            words.append(note)
        lines = "<br>".join(html.escape(line) for line in self.text.splitlines())
        self.caption.value = (f"<div style='font: 11px monospace; color: #555'>"
                              f"{html.escape(' · '.join(words))}<br>{lines}</div>")

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)


class LiveHTML(LiveImage):
    """A LiveImage whose picture is HTML (a table, a list of events): `render(payload,
    number)` returns ``(html, text)``. Its widget is an ``ipywidgets.HTML`` with class
    ``kfs-live-html``, synced the same way."""

    def make_display(self, ipywidgets):
        widget = ipywidgets.HTML(layout=ipywidgets.Layout(max_width="100%"))
        widget.add_class("kfs-live-html")
        return widget


def stop_all():
    """Stop every live picture of this kernel (e.g. before re-running a notebook)."""
    for live in list(RUNNING):
        live.stop()


class LiveView:
    """The lab's topology picture, redrawn as the cluster changes.

        view = kfs.viz.LiveView(lab).show()     # ... the cluster changes ...
        view.pods()                              # the pods the picture shows
        view.stop()

    Showing a live view of the same lab with the same title stops the one shown before (a
    cell run again does not leave its first view watching); views with other titles run
    side by side.
    """

    shown = {}  # (lab name, title) -> the LiveView shown last

    def __init__(self, lab=None, interval=5.0, title=None):
        from kfs.lab.lab import Lab
        self.lab, self.title = lab or Lab(), title
        self.live = LiveImage(self.snapshot, self.render, interval=interval)
        self.informers, self._facts, self._facts_at = [], None, 0.0
        self._new, self._gone = {}, {}  # what is marked -> since when (time.monotonic())

    def show(self):
        from IPython.display import display
        if not self.live.running:
            previous = LiveView.shown.get((self.lab.name, self.title))
            if previous is not None and previous is not self:
                previous.stop()
            LiveView.shown[(self.lab.name, self.title)] = self
            self.watch()
            self.live.start()
            display(self.live.widget)
        return self

    def _ipython_display_(self):  # `LiveView(lab)` alone as a cell's last line shows it
        self.show()

    def stop(self):
        self.live.stop()
        for informer in self.informers:
            informer.stop()
        self.informers = []

    # -- what the picture shows ------------------------------------------------------

    def watch(self):
        """Informers on pods and nodes, once the lab has an API server; each event pokes."""
        if self.informers or not self.lab.admin_kubeconfig.exists():
            return
        from kfs.client import Client, Informer
        client = Client.from_kubeconfig(self.lab.admin_kubeconfig)
        for resource in ("pods", "nodes"):
            informer = Informer(client, resource).add_handler(self.live.changed)
            threading.Thread(target=informer.run, daemon=True,
                             name=f"{THREAD_PREFIX}informer-{resource}").start()
            self.informers.append(informer)
        for informer in self.informers:  # the first picture shows the API server's view
            informer.synced.wait(5)

    def facts(self):
        """The machines' bridges and components, read again once per interval."""
        if self._facts is None or time.monotonic() - self._facts_at >= self.live.interval:
            self._facts, self._facts_at = picture.machine_facts(self.lab), time.monotonic()
        return self._facts

    def snapshot(self):
        self.watch()  # the lab may have got its API server since the last tick
        pods = nodes = None
        if self.informers and all(i.synced.is_set() for i in self.informers):
            pods, nodes = (i.list() for i in self.informers)
        else:
            pods = [p for m in self.lab.nodes for p in picture.pods_from_docker(m)]
        g = picture.graph(self.lab, pods=pods, nodes=nodes, facts=self.facts())
        key = (tuple(sorted((n, d.get("kind"), d.get("label")) for n, d in g.nodes(data=True))),
               tuple(sorted(g.edges)), self.lab.stage)
        return key, g

    def held_marks(self, g):
        """Mark in `g` what changed in the last MARK_HOLD seconds (each frame against the one
        shown until now, held: a new pod's next frame, its status changed, still marks it)."""
        now, d = time.monotonic(), picture.difference(self.live.shown, g)
        self._new.update({n: now for n in d.new})
        self._gone.update({w: now for w in d.gone})
        here = {picture.what(g, n) for n in g if picture.is_object(g, n)}
        self._new = {n: t for n, t in self._new.items() if n in g and now - t < MARK_HOLD}
        self._gone = {w: t for w, t in self._gone.items() if w not in here and now - t < MARK_HOLD}
        g.graph["marks"] = picture.Difference(list(self._new), list(self._gone),
                                              since=f"the last {MARK_HOLD:.0f} s")

    def render(self, g, number):
        self.held_marks(g)
        text = picture.describe(g)
        title = self.title or f"lab {self.lab.name!r}, stage {self.lab.stage}"
        return picture.png(picture.draw(g, title=title), title=f"picture {number}",
                           description=text), text

    # -- reading it back ---------------------------------------------------------------

    @property
    def pictures(self):
        """How many pictures it has drawn (each one different from the one before)."""
        return self.live.pictures

    @property
    def running(self):
        return self.live.running

    @property
    def description(self):
        """What the picture shown now depicts, in words."""
        return self.live.text

    def pods(self):
        """Names of the pods in the picture shown now."""
        g = self.live.shown
        if g is None:
            return set()
        return {n.rsplit("/", 1)[1] for n, d in g.nodes(data=True)
                if str(d.get("kind", "")).startswith("pod")}

    def shows(self, *names):
        return set(names) <= self.pods()
