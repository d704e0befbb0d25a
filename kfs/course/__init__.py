"""What the course adds around the components, shared by the notebooks.

- ``catch_up(stage)``: the first cell: the lab brought to the notebook's stage, an admin
  client, the nodes Ready (``kfs.course.catchup``);
- ``wait(condition, timeout, what)``: a wait with a progress bar saying what is awaited
  (``kfs.course.waiting``); ``events(api, obj)``: the Events about one object, and
  ``say_before_deleting(api, resource, name, why)``: a notebook's warning before it deletes
  an object it did not make (``kfs.course.objects``);
- ``architecture(highlight, stage)``: the picture of all components and who talks to whom;
  ``path(hops)``: one packet's or query's way, box to box (``kfs.course.pictures``);
- the exercises: ``solution(fn)`` and the checks ``check_...`` (``kfs.course.exercise``,
  ``kfs.course.checks``, the reference answers in ``kfs.course.solutions``);
- ``dashboard()``: the instructor's dashboard: the lab's topology, its events as they come
  and each machine's containers side by side, kept current while other cells change the
  cluster (``kfs.viz.dashboard``); ``board.stop()`` ends it.
"""
# name -> module: imported on first use, so that the `kfs` command (which names
# `kfs course render`) does not load matplotlib for every component it starts
_EXPORTS = {"architecture": "pictures", "catch_up": "catchup", "wait": "waiting",
            "events": "objects", "say_before_deleting": "objects", "solution": "exercise",
            "check_fits_cpu": "checks",
            "check_manage_replicas": "checks", "check_registry_key": "checks",
            "check_restart_backoff": "checks", "check_statistic_probabilities": "checks",
            "check_first_free_subnet": "checks", "path": "pictures",
            "check_load_balancer_backends": "checks", "check_machine_address": "checks"}
__all__ = [*_EXPORTS, "dashboard"]


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'kfs.course' has no attribute {name!r}")
    import importlib
    return getattr(importlib.import_module(f"kfs.course.{_EXPORTS[name]}"), name)


def dashboard(lab=None, interval=5.0):
    """Show the instructor's dashboard for `lab` (default: the lab ``KFS_LAB`` names)."""
    from kfs.viz.dashboard import Dashboard
    return Dashboard(lab, interval=interval).show()
