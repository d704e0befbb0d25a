"""Lab stage ``controller-manager``: ``kfs controller-manager`` running on ``cp``.

``up`` starts (or keeps, or restarts with a changed command line) one controller manager
in cp's network namespace, talking to the API server with the ``kube-controller-manager``
kubeconfig the ``apiserver`` stage wrote, and waits until its informers have synced;
``down`` stops it. Its log is ``<lab>/cp/controller-manager.log``
(``kfs lab logs controller-manager``).

The course-sized timings are on the command line, where an attendee sees them: a node is
Unknown after 20 s of silence, and its pods are evicted 20 s later. So is the cluster CA
(``--cluster-signing-cert-file``, ``--cluster-signing-key-file``) with which csrsigning
signs the certificates joining kubelets ask for (``kfs lab add-node``), as kubeadm does.

What real Kubernetes does differently: kubeadm runs kube-controller-manager as a static pod
from ``/etc/kubernetes/manifests``, with ``--leader-elect`` so that each control-plane
machine can run one, and ``--use-service-account-credentials`` (one identity per controller).
"""
from kfs.controllers.main import STARTED
from kfs.lab import supervisor
from kfs.lab.errors import LabError

NAME = "controller-manager"
KUBECONFIG = "kube-controller-manager"


def daemon(lab):
    argv = [supervisor.kfs_command(), "controller-manager",
            "--kubeconfig", str(lab.kubeconfig(KUBECONFIG)),
            "--node-monitor-grace-period", "20s",
            "--default-unreachable-toleration-seconds", "20",
            "--default-not-ready-toleration-seconds", "20",
            "--cluster-signing-cert-file", str(lab.pki_dir / "ca.crt"),   # csrsigning
            "--cluster-signing-key-file", str(lab.pki_dir / "ca.key")]
    return lab.machine("cp").daemon(NAME, argv)


def up(lab, target, progress):
    if not lab.kubeconfig(KUBECONFIG).exists():
        raise LabError(f"no {lab.kubeconfig(KUBECONFIG)}: the apiserver stage writes it "
                       "(kfs lab up --stage apiserver)")
    try:
        pid, _ = supervisor.ensure_started(daemon(lab), STARTED)
    except (RuntimeError, TimeoutError) as e:
        raise LabError(str(e)) from None
    progress(f"controller-manager on cp, pid {pid}: {daemon(lab).command_line}")


def down(lab, progress):
    pid = supervisor.stop(daemon(lab))
    if pid:
        progress(f"stopped the controller manager (pid {pid})")
