"""The instructor's dashboard in JupyterLab, in Chromium: its three panels (topology,
events, each machine's containers) follow the cluster while other cells change it. The
panels' text is read back from the page."""
import pytest

from kfs.util import wait_for
from tests.browser.jupyter import Notebook, notebook
from tests.browser.test_live_view import delete_pod

POD = "dashboard-probe"
DASHBOARD = notebook(
    "import kfs\nfrom kfs.kubectl import kubectl\nboard = kfs.course.dashboard(interval=2)",
    f"kubectl('run', '{POD}', '--image=kfs/echo:1', '--restart=Never')",
    f"kubectl('delete', 'pod', '{POD}', '--wait=true')",
    "board.stop()",
)

PANELS = """([path, i]) => {
  const cell = window.__kfs[path].widget.content.widgets[i].node;
  return {images: cell.querySelectorAll('img.kfs-live-image').length,
          html: Array.from(cell.querySelectorAll('.kfs-live-html'), e => e.innerText)};
}"""


@pytest.fixture
def board_notebook(cluster, jupyter, page):
    delete_pod(cluster, POD)
    nb = Notebook(page, jupyter.put("dashboard.ipynb", DASHBOARD))
    yield nb
    nb.close()
    delete_pod(cluster, POD)


def panels(nb):
    return nb.page.evaluate(PANELS, [nb.path, 0])


def test_the_dashboard_shows_a_new_pods_events_and_containers_then_their_removal(
        board_notebook, errors):
    nb = board_notebook
    nb.run(0)
    wait_for(lambda: len(panels(nb)["html"]) == 2 and "node1" in panels(nb)["html"][1], 60,
             what="the events and containers panels drawn")
    assert panels(nb)["images"] == 1, "the dashboard shows one topology picture"
    nb.run(1)
    wait_for(lambda: f"pod/{POD}" in panels(nb)["html"][0], 60,
             what=f"the events of pod {POD} in the events panel")
    wait_for(lambda: f"_{POD}_default_" in panels(nb)["html"][1], 120,
             what=f"the containers of {POD} in the containers panel")
    nb.run(2)
    wait_for(lambda: f"_{POD}_default_" not in panels(nb)["html"][1], 60,
             what=f"the containers of {POD} gone from the containers panel")
    assert "Killing" in panels(nb)["html"][0] or "Scheduled" in panels(nb)["html"][0]
    nb.run(3)
    assert errors == []
