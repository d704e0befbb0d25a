"""The course's steps, in order: ``kfs lab up --stage S`` brings the lab to step S.

Each stage includes those before it: ``scheduler`` means machines, kubelets, etcd and the
API server, and the scheduler. Going to an earlier stage stops the later stages'
components (notebook 03 starts with no scheduler, to show pods staying Pending).

A stage is a pair of functions ``up(lab, target, progress)`` and ``down(lab, progress)``;
``up`` receives the target stage because a component may run differently further on (the
kubelets run standalone at stage ``kubelet`` and against the API server from ``apiserver``).
"""

STAGES = ["machines", "kubelet", "apiserver", "scheduler", "controller-manager", "proxy",
          "flannel"]


def _machines_up(lab, target, progress):
    from kfs.lab import lab as lab_module
    lab_module.network_up(lab, progress)
    lab_module.runtime_up(lab, progress)


# stage -> (up, down); `down` None means the stage has nothing to stop on its own
# (the machines stage is undone by `Lab.down`).
REGISTRY = {
    "machines": (_machines_up, None),
}


def at_least(stage, target):
    """Is `target` the stage `stage` or a later one?"""
    return target is not None and STAGES.index(target) >= STAGES.index(stage)


def bring_to(lab, target, progress):
    """Stop the stages after `target` (latest first), then bring up those up to it."""
    from kfs.lab.lab import LabError
    wanted = STAGES[:STAGES.index(target) + 1] if target else []
    missing = [s for s in wanted if s not in REGISTRY]
    if missing:
        raise LabError(f"stage {missing[0]!r} is not part of kfs yet; "
                       f"available: {', '.join(s for s in STAGES if s in REGISTRY)}")
    for stage in reversed(STAGES[len(wanted):]):
        down = REGISTRY.get(stage, (None, None))[1]
        if down:
            down(lab, progress)
    for stage in wanted:
        REGISTRY[stage][0](lab, target, progress)
