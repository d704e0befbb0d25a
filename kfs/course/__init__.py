"""What the course adds around the components, shared by the notebooks.

- ``catch_up(stage)``: the first cell: the lab brought to the notebook's stage, an admin
  client, the nodes Ready (``kfs.course.catchup``);
- ``wait(condition, timeout, what)``: a wait with a progress bar saying what is awaited
  (``kfs.course.wait``); ``events(api, obj)``: the Events about one object;
- ``architecture(highlight, stage)``: the picture of all components and who talks to whom
  (``kfs.course.architecture``);
- the exercises: ``solution(fn)`` and the checks ``check_...`` (``kfs.course.exercise``,
  ``kfs.course.checks``, the reference answers in ``kfs.course.solutions``);
- ``dashboard()``: the instructor's dashboard: the lab's topology, its events as they come
  and each machine's containers side by side, kept current while other cells change the
  cluster (``kfs.viz.dashboard``); ``board.stop()`` ends it.
"""
from kfs.course.architecture import architecture
from kfs.course.catchup import catch_up
from kfs.course.checks import check_fits_cpu, check_manage_replicas, check_registry_key
from kfs.course.events import events
from kfs.course.exercise import solution
from kfs.course.wait import wait

__all__ = ["architecture", "catch_up", "check_fits_cpu", "check_manage_replicas",
           "check_registry_key", "dashboard", "events", "solution", "wait"]


def dashboard(lab=None, interval=5.0):
    """Show the instructor's dashboard for `lab` (default: the lab ``KFS_LAB`` names)."""
    from kfs.viz.dashboard import Dashboard
    return Dashboard(lab, interval=interval).show()
