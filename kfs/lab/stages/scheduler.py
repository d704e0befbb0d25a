"""Lab stage ``scheduler``: ``kfs scheduler`` running on ``cp``, as kube-scheduler would.

``up`` starts (or keeps, or restarts with a changed command line) one scheduler process in
cp's network namespace, talking to the API server with the ``kube-scheduler`` kubeconfig
the ``apiserver`` stage wrote; ``down`` stops it. Its log is ``<lab>/cp/scheduler.log``
(``kfs lab logs scheduler``).

An attendee's score plugins are part of the lab's state, so every later ``up`` keeps
them: ``Lab().up(stage="scheduler", scheduler_score_plugins=["/path/f.py:func:5"])``
restarts the scheduler with ``--score-plugin /path/f.py:func:5``; ``[]`` removes them.

What real Kubernetes does differently: kubeadm runs kube-scheduler as a static pod on each
control-plane node (``/etc/kubernetes/manifests/kube-scheduler.yaml``), several replicas
with leader election, and serves its health on port 10259.
"""
import os

from kfs.lab import supervisor
from kfs.lab.errors import LabError
from kfs.scheduler.plugins import PluginError, split_spec

NAME = "scheduler"
STARTED = "started:"  # the line Scheduler.run logs once its informers have synced


def daemon(lab):
    argv = [supervisor.kfs_command(), "scheduler",
            "--kubeconfig", str(lab.kubeconfig("kube-scheduler")),
            "--pod-max-in-unschedulable-pods-duration", "30s"]
    for spec in lab.state.get("scheduler_score_plugins") or []:
        path, func, weight = split_spec(spec)  # the scheduler's working directory is not ours
        argv += ["--score-plugin", f"{os.path.abspath(path)}:{func}:{weight}"]
    return lab.machine("cp").daemon(NAME, argv)


def up(lab, target, progress):
    if not lab.kubeconfig("kube-scheduler").exists():
        raise LabError(f"no {lab.kubeconfig('kube-scheduler')}: the apiserver stage writes it "
                       "(kfs lab up --stage apiserver)")
    try:
        d = daemon(lab)
    except PluginError as e:
        raise LabError(f"{e} (the lab's scheduler_score_plugins)") from None
    try:
        pid, _ = supervisor.ensure_started(d, STARTED)
    except (RuntimeError, TimeoutError) as e:
        raise LabError(str(e)) from None
    progress(f"scheduler on cp, pid {pid}: {d.command_line}")


def down(lab, progress):
    d = daemon(lab)
    pid = supervisor.stop(d)
    if pid:
        progress(f"stopped the scheduler (pid {pid})")
