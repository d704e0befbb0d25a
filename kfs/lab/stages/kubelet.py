"""Lab stage ``kubelet``: a kubelet on every node machine, talking to that machine's Docker.

Each node machine runs ``kfs kubelet`` under the lab's supervisor, inside the machine's
network namespace, with the manifest directory ``<machine dir>/manifests`` (what
``/etc/kubernetes/manifests`` is on a real node). At stage ``apiserver`` and later the same
kubelet also gets ``--kubeconfig`` and serves the API server's pods; from stage ``dns`` on,
``--cluster-dns 10.96.0.10 --cluster-domain cluster.local`` (the ``dns`` stage's Service); from
stage ``cloud`` on, ``--cloud-provider external`` (the Node waits for the
cloud-controller-manager's description). Going back below this
stage stops the kubelets and removes the pods they ran, leaving bare machines.

Mirrors what kubeadm's node set-up and systemd's ``kubelet.service`` do on a real node.

A machine added by ``kfs lab add-node`` is different: its kubelet gets no certificate but
a bootstrap kubeconfig (``join.py``), and asks for its client and serving certificates
with CertificateSigningRequests (``--bootstrap-kubeconfig``, ``--cert-dir``,
``--rotate-server-certificates``), as a kubeadm-joined node's does.

What real Kubernetes does differently: systemd restarts a dead kubelet at once (here the
next ``kfs lab up`` does); kubeadm gives every node, not only the added ones, a bootstrap
token instead of a certificate made for it.
"""
import socket

from kfs.kubelet import runtime as rt
from kfs.lab import stages, supervisor
from kfs.lab.stages import dns, join
from kfs.lab.stages.credentials import ensure_credentials
from kfs.util import wait_for

PORT = 10250


def manifest_dir(machine):
    return machine.dir / "manifests"


def root_dir(machine):
    return machine.dir / "kubelet"


def kubelet_argv(lab, machine, target):
    argv = [supervisor.kfs_command(), "kubelet",
            "--node-name", machine.name, "--node-ip", machine.ip,
            "--pod-manifest-path", manifest_dir(machine), "--file-check-frequency", "1s",
            "--container-runtime-endpoint", machine.docker_host,
            "--root-dir", root_dir(machine), "--port", PORT, "--hairpin-mode", "hairpin-veth"]
    if stages.at_least("apiserver", target):
        argv += join.kubelet_flags(machine) if machine.joined else api_flags(lab, machine)
    if stages.at_least("dns", target):  # the dns stage's Service
        argv += ["--cluster-dns", dns.CLUSTER_IP, "--cluster-domain", dns.CLUSTER_DOMAIN]
    if stages.at_least("cloud", target):  # the cloud stage's cloud-controller-manager
        argv += ["--cloud-provider", "external"]
    return [str(a) for a in argv]


def api_files(lab, machine):
    """The kubeconfig and TLS files of this node's kubelet, from the lab's PKI
    (``kfs.lab.stages.credentials.ensure_credentials`` writes them)."""
    pki = lab.pki_dir
    return {"--kubeconfig": lab.kubeconfig(f"kubelet-{machine.name}"),
            "--tls-cert-file": pki / f"kubelet-{machine.name}-serving.crt",
            "--tls-private-key-file": pki / f"kubelet-{machine.name}-serving.key",
            "--client-ca-file": pki / "ca.crt"}


def api_flags(lab, machine):
    return [a for flag, path in api_files(lab, machine).items() for a in (flag, path)]


def daemon(lab, machine, target=None):
    return machine.daemon("kubelet", kubelet_argv(lab, machine, target) if target else [])


def listening(machine):
    try:
        socket.create_connection((machine.ip, PORT), timeout=1).close()
        return True
    except OSError:
        return False


def up(lab, target, progress):
    if stages.at_least("apiserver", target):  # the kubeconfig and certificates, made first
        ensure_credentials(lab)
    started = []
    for m in stages.running(lab.nodes):
        m.run(["mkdir", "-p", manifest_dir(m)], check=True, timeout=60)
        d = daemon(lab, m, target)
        started.append((m, d, supervisor.ensure(d)))
    for m, d, pid in started:
        waits_for_files = stages.at_least("apiserver", target) and not all(
            p.exists() for p in api_files(lab, m).values())
        if m.joined:   # serves once its serving CSR is signed (kfs lab add-node approves it)
            waits_for_files = not join.serving_cert(m).exists()

        def ready():
            if supervisor.pid_of(d) is None:
                raise RuntimeError(f"the kubelet on {m.name} exited; see {d.logfile}")
            return waits_for_files or listening(m)
        wait_for(ready, timeout=30, what=f"the kubelet on {m.name} to serve on :{PORT}")
        progress(f"kubelet {m.name:6} pid {pid}  manifests {manifest_dir(m)}")


def down(lab, progress):
    for m in lab.nodes:
        if supervisor.stop(daemon(lab, m)):
            progress(f"kubelet {m.name} stopped")
        remove_pods(m)


def remove_pods(machine):
    """The containers the kubelet made, its manifests and its pods' volumes."""
    if machine.docker_ready():
        client = machine.docker()
        for c in client.containers.list(all=True, filters={"label": rt.POD_UID}):
            c.remove(force=True)
    machine.remove_files(manifest_dir(machine), root_dir(machine) / "pods")
