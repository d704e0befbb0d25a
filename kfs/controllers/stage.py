"""Lab stage ``controller-manager``: ``kfs controller-manager`` running on ``cp``.

``up`` starts (or keeps, or restarts with a changed command line) one controller manager
in cp's network namespace, talking to the API server with the ``kube-controller-manager``
kubeconfig the ``apiserver`` stage wrote, and waits until its informers have synced;
``down`` stops it. Its log is ``<lab>/cp/controller-manager.log``
(``kfs lab logs controller-manager``).

The course-sized timings are on the command line, where an attendee sees them: a node is
Unknown after 20 s of silence, and its pods are evicted 20 s later.

What real Kubernetes does differently: kubeadm runs kube-controller-manager as a static pod
from ``/etc/kubernetes/manifests``, with ``--leader-elect`` so that each control-plane
machine can run one, and ``--use-service-account-credentials`` (one identity per controller).
"""
from kfs.lab import supervisor
from kfs.util import wait_for

NAME = "controller-manager"
KUBECONFIG = "kube-controller-manager"


def daemon(lab):
    argv = [supervisor.kfs_command(), "controller-manager",
            "--kubeconfig", str(lab.kubeconfig(KUBECONFIG)),
            "--node-monitor-grace-period", "20s",
            "--default-unreachable-toleration-seconds", "20",
            "--default-not-ready-toleration-seconds", "20"]
    return lab.machine("cp").daemon(NAME, argv)


def up(lab, target, progress):
    from kfs.lab.lab import LabError
    if not lab.kubeconfig(KUBECONFIG).exists():
        raise LabError(f"no {lab.kubeconfig(KUBECONFIG)}: the apiserver stage writes it "
                       "(kfs lab up --stage apiserver)")
    d = daemon(lab)
    before = supervisor.pid_of(d)
    offset = d.logfile.stat().st_size if d.logfile.exists() else 0
    pid = supervisor.ensure(d)
    if pid != before:
        wait_started(d, pid, offset)
    progress(f"controller-manager on cp, pid {pid}: {d.command_line}")


def wait_started(d, pid, offset, timeout=60.0):
    """Wait until the new process says its controllers run; a death is an error."""
    from kfs.controllers.main import STARTED
    from kfs.lab.lab import LabError

    def started():
        if supervisor.pid_of(d) != pid:
            raise LabError(f"the controller manager exited at once: {tail(d, offset)}")
        with open(d.logfile, "rb") as f:
            f.seek(offset)
            return STARTED in f.read().decode(errors="replace")
    wait_for(started, timeout, what=f"the controller manager to start (see {d.logfile})")


def tail(d, offset, lines=5):
    with open(d.logfile, "rb") as f:
        f.seek(offset)
        return " | ".join(f.read().decode(errors="replace").strip().splitlines()[-lines:])


def down(lab, progress):
    pid = supervisor.stop(daemon(lab))
    if pid:
        progress(f"stopped the controller manager (pid {pid})")
