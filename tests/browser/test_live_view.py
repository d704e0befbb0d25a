"""The live view as an instructor uses it: in JupyterLab, in Chromium, while other cells
change the cluster. What the browser shows is read back from the page: each picture's PNG
(fetched from the <img>'s blob: URL) carries its number and what it depicts in its text
chunks, so "the picture names the new pod" is read from the picture the page displays."""
import json
import time

import pytest

from kfs import meta
from kfs.client import ApiError
from kfs.util import wait_for
from tests.browser.jupyter import ROOT, Notebook, notebook

POD = "browser-probe"
LIVE_VIEW = notebook(
    "import kfs\nfrom kfs.kubectl import kubectl\n"
    "view = kfs.viz.LiveView(kfs.Lab(), title='the browser tier').show()",
    f"kubectl('run', '{POD}', '--image=kfs/echo:1', '--restart=Never')",
    f"kubectl('delete', 'pod', '{POD}', '--wait=true')",
    "view.stop()",
)


def names(description, pod):
    """Does the picture's description name `pod` (as a pod, not a prefix of another)?"""
    return any(item.strip().startswith(f"{pod} (")
               for line in description.splitlines() for item in line.split(":", 1)[-1].split(","))


def first_naming(nb, after, pod, present=True, timeout=90):
    """The first picture numbered above `after` that names `pod` (or, with present=False,
    that does not); waits for it."""
    def found():
        return next(((n, d) for n, d in nb.pictures() if n > after and names(d, pod) == present),
                    None)
    return wait_for(found, timeout, what=f"a picture {'with' if present else 'without'} {pod}")


def delete_pod(client, name):
    try:
        client.delete("pods", name, "default")
    except ApiError as e:
        if e.code != 404:
            raise
    wait_for(lambda: not [p for p in client.list("pods", "default")["items"]
                          if meta.name(p) == name], 120, what=f"pod {name} gone")


@pytest.fixture
def live_notebook(cluster, jupyter, page):
    delete_pod(cluster, POD)  # a previous run's leftover
    nb = Notebook(page, jupyter.put("live_view.ipynb", LIVE_VIEW))
    yield nb
    nb.close()
    delete_pod(cluster, POD)


def test_the_live_view_shows_a_new_pod_and_its_deletion_within_2_pictures(
        live_notebook, cluster, errors):
    nb = live_notebook
    view = nb.run(0)
    assert view["images"] == 1, "the live view cell shows exactly one picture"
    nb.watch_pictures(0)
    before, shown = nb.latest()
    assert not names(shown, POD) and "node1 Ready" in shown

    created = nb.run(1)                  # another cell creates a pod ...
    n, shown = first_naming(nb, before, POD)
    assert n <= before + 2, f"the pod appeared only in picture {n}, after {before}"
    wait_for(lambda: names(nb.latest()[1], POD)
             and f"{POD} (Running)" in nb.latest()[1], 120, what=f"{POD} Running in the picture")

    deleting = nb.run(2)                 # ... another deletes it (kubectl waits until it's gone)
    gone_at = nb.latest()[0]
    n, shown = first_naming(nb, gone_at - 1, POD, present=False)
    assert n <= gone_at + 2, f"the pod was still drawn until picture {n}, deleted at {gone_at}"

    for cell in (created, deleting):     # the other cells' outputs: text, no stray picture
        assert cell["images"] == 0 and cell["widgets"] == 0
        assert not [o for o in cell["outputs"] if set(o.get("data", {})) - {"text/plain"}]
        assert POD in "".join("".join(o.get("text", "")) for o in cell["outputs"])
    assert nb.state(0)["images"] == 1
    nb.run(3)
    assert errors == []


def browser_cells():
    """Notebook 04's cells tagged `browser`: its set-up, the basic flow, the live view,
    scaling and the rolling update (not the node loss and the garbage collector)."""
    nb = json.loads((ROOT / "notebooks" / "04_controller.ipynb").read_text())
    cells = [c for c in nb["cells"] if "browser" in c.get("metadata", {}).get("tags", [])]
    nb["cells"] = cells + [{"cell_type": "code", "execution_count": None, "id": "cleanup",
                            "metadata": {}, "outputs": [], "source":
                            'kubectl("delete", "deployment", "echo", "--ignore-not-found", '
                            '"--wait=true")'}]
    return nb


def echo_pods(client):
    return {meta.name(p) for p in client.list("pods", "default", label_selector="app=echo")
            ["items"]}


def test_notebook_04_scales_and_rolls_over_in_the_live_view_of_a_real_browser(
        cluster, jupyter, page, errors):
    src = browser_cells()
    sources = ["".join(c["source"]) for c in src["cells"]]
    live = next(i for i, s in enumerate(sources) if "LiveView(" in s)
    scaled = next(i for i, s in enumerate(sources) if "--replicas=8" in s)
    rolled = next(i for i, s in enumerate(sources) if "set\", \"image" in s)
    nb = Notebook(page, jupyter.put("04_live_view.ipynb", src))
    started = time.monotonic()
    try:
        for i in range(len(sources)):
            state = nb.run(i, timeout=400)
            if i != live:   # a progress bar (kfs.course.wait) is fine; a live view is not
                assert state["live"] == 0, f"a live view in cell {i}'s output"
            if i == live:
                nb.watch_pictures(live)
            elif i in (scaled, rolled):
                want = echo_pods(cluster)
                wait_for(lambda: {n for n in want if names(nb.latest()[1], n)} == want, 60,
                         what=f"the live view to draw the {len(want)} echo pods after cell {i}")
        print(f"notebook 04's live-view part took {time.monotonic() - started:.0f} s "
              f"in the browser, {len(nb.pictures())} pictures")
        assert nb.state(live)["images"] == 1
    finally:
        nb.close()
    assert errors == []
