"""The course's steps, in order: ``kfs lab up --stage S`` brings the lab to step S.

Each stage includes those before it: ``scheduler`` means machines, kubelets, etcd and the
API server, and the scheduler. Going to an earlier stage stops the later stages'
components (notebook 03 starts with no scheduler, to show pods staying Pending).

A stage is a module of this package, ``kfs/lab/stages/<stage>.py``, with two functions
``up(lab, target, progress)`` and ``down(lab, progress)``; ``up`` receives the target stage
because a component may run differently further on (the kubelets run standalone at stage
``kubelet`` and against the API server from ``apiserver``). A stage module starts its
component's processes (``kfs kubelet``, ``kfs apiserver``, ...) under the lab's supervisor
and may import the component's package for its constants; a component never imports the
lab (``tests/unit/test_imports.py`` checks it, and that kfs has no import cycle). A
stage's ``up`` starts nothing on a node ``kfs lab stop-node`` stopped (``running``).
``credentials.py`` is not a stage: it holds the certificates and kubeconfigs that the
``kubelet`` stage makes first and the ``apiserver`` stage uses.
"""
import importlib

from kfs.lab.errors import LabError

STAGES = ["machines", "kubelet", "apiserver", "scheduler", "controller-manager", "proxy",
          "dns", "flannel", "cloud"]


# stage -> ("module:up_function", "module:down_function" or None). A stage's module is
# imported only when the stage is used; a stage whose module does not exist yet is "not
# part of kfs yet". `up(lab, target, progress)`, `down(lab, progress)`.
REGISTRY = {
    "machines": ("kfs.lab.stages.machines:up", None),  # undone by Lab.down
    "kubelet": ("kfs.lab.stages.kubelet:up", "kfs.lab.stages.kubelet:down"),
    "apiserver": ("kfs.lab.stages.apiserver:up", "kfs.lab.stages.apiserver:down"),
    "scheduler": ("kfs.lab.stages.scheduler:up", "kfs.lab.stages.scheduler:down"),
    "controller-manager": ("kfs.lab.stages.controller_manager:up",
                           "kfs.lab.stages.controller_manager:down"),
    "proxy": ("kfs.lab.stages.proxy:up", "kfs.lab.stages.proxy:down"),
    "dns": ("kfs.lab.stages.dns:up", "kfs.lab.stages.dns:down"),
    "flannel": ("kfs.lab.stages.flannel:up", "kfs.lab.stages.flannel:down"),
    "cloud": ("kfs.lab.stages.cloud:up", "kfs.lab.stages.cloud:down"),
}


def _resolve(ref):
    """"module:function" -> the function, or None if that module does not exist yet."""
    if ref is None:
        return None
    module, _, func = ref.partition(":")
    try:
        return getattr(importlib.import_module(module), func)
    except ModuleNotFoundError as e:
        if e.name and module.startswith(e.name):
            return None
        raise


def running(machines):
    """The machines a stage starts its daemons on: not those ``kfs lab stop-node`` stopped
    (``kfs lab start-node`` brings them back through the same stages)."""
    return [m for m in machines if not m.stopped]


def available():
    return [s for s in STAGES if _resolve(REGISTRY[s][0])]


def at_least(stage, target):
    """Is `target` the stage `stage` or a later one?"""
    return target is not None and STAGES.index(target) >= STAGES.index(stage)


def bring_to(lab, target, progress):
    """Stop the stages after `target` (latest first), then bring up those up to it."""
    wanted = STAGES[:STAGES.index(target) + 1] if target else []
    missing = [s for s in wanted if not _resolve(REGISTRY[s][0])]
    if missing:
        raise LabError(f"stage {missing[0]!r} is not part of kfs yet; "
                       f"available: {', '.join(available())}")
    for stage in reversed(STAGES[len(wanted):]):
        down = _resolve(REGISTRY[stage][1])
        if down:
            down(lab, progress)
    for stage in wanted:
        _resolve(REGISTRY[stage][0])(lab, target, progress)
