"""Lab stage ``apiserver``: the cluster's PKI, etcd on ``cp`` (or on three machines), and
``kfs apiserver`` on ``cp:6443``.

What kubeadm's ``init`` does on a control-plane machine, in the same order:

1. **certificates and kubeconfigs** (``credentials.py``, which the kubelet stage runs
   first): a CA, the API server's serving certificate (the lab address of ``cp`` and
   127.0.0.1), a client certificate per component (who you are is the certificate's CN
   and O), a second CA for etcd, and one kubeconfig each for the admin (``kfs lab
   kubeconfig``), the scheduler, the controller manager, the proxy, flanneld and each
   node's kubelet; plus a token-only user ``alice`` who has no roles, to show a 403;
2. **etcd** with TLS on both sides (clients must show a certificate from the etcd CA):
   one member on ``cp``, or with ``kfs lab up --etcd-members 3`` one on each of ``cp``,
   ``node1`` and ``node2``, which elect a leader among themselves over peer TLS;
3. **the API server**, pointed at every etcd member, waited on until ``/readyz``.

Each is a process under ``kfs.lab.supervisor`` with its command line on view
(``kfs lab status``, ``<machine>/<name>.cmd``), logging to ``<machine>/<name>.log``.
``down`` stops them; etcd's data stays until ``kfs lab down``. Changing the number of etcd
members (1 -> 3 or back) keeps the data: the new members are restored from a snapshot of
the old ones (``move_etcd_data``).

Mirrors kubeadm's ``init`` phases (certs, kubeconfig, etcd, control-plane) with static
pods replaced by supervised processes.

What real Kubernetes does differently: kubeadm runs etcd and the API server as static
pods the kubelet starts from ``/etc/kubernetes/manifests``; an HA control plane runs an
API server next to each etcd member behind a load balancer.
"""
import requests

from kfs.lab import supervisor
from kfs.lab.errors import LabError
from kfs.lab.stages import kubelet
from kfs.lab.stages.credentials import (PORT, ensure_credentials, etcd_machines, server_url,
                                        token_path)
from kfs.util import wait_for

ETCD_PORT, PEER_PORT = 2379, 2380
PROGRESS_NOTIFY = "10s"   # etcd progress notifications: the watch bookmarks' heartbeat


# -- etcd ---------------------------------------------------------------------------------------

def etcd_argv(lab, machine, members):
    p = lab.pki_dir
    ip = machine.ip
    cluster = ",".join(f"{m.name}=https://{m.ip}:{PEER_PORT}" for m in members)
    return ["etcd", "--name", machine.name, "--data-dir", machine.dir / "etcd",
            "--listen-client-urls", f"https://127.0.0.1:{ETCD_PORT},https://{ip}:{ETCD_PORT}",
            "--advertise-client-urls", f"https://{ip}:{ETCD_PORT}",
            "--listen-peer-urls", f"https://{ip}:{PEER_PORT}",
            "--initial-advertise-peer-urls", f"https://{ip}:{PEER_PORT}",
            "--initial-cluster", cluster, "--initial-cluster-state", "new",
            "--initial-cluster-token", f"kfs-{lab.name}",
            "--client-cert-auth", "--trusted-ca-file", p / "etcd-ca.crt",
            "--cert-file", p / f"etcd-server-{machine.name}.crt",
            "--key-file", p / f"etcd-server-{machine.name}.key",
            "--peer-client-cert-auth", "--peer-trusted-ca-file", p / "etcd-ca.crt",
            "--peer-cert-file", p / f"etcd-peer-{machine.name}.crt",
            "--peer-key-file", p / f"etcd-peer-{machine.name}.key",
            "--experimental-watch-progress-notify-interval", PROGRESS_NOTIFY]


def etcd_daemon(lab, machine, members=None):
    return machine.daemon("etcd", etcd_argv(lab, machine, members) if members else [])


def etcdctl_env(lab, endpoints=None):
    """The environment for ``etcdctl`` against the lab's etcd (as the API server's client)."""
    p = lab.pki_dir
    endpoints = endpoints or ",".join(f"https://{m.ip}:{ETCD_PORT}" for m in etcd_machines(lab))
    return {"ETCDCTL_API": "3", "ETCDCTL_ENDPOINTS": endpoints,
            "ETCDCTL_CACERT": str(p / "etcd-ca.crt"),
            "ETCDCTL_CERT": str(p / "apiserver-etcd-client.crt"),
            "ETCDCTL_KEY": str(p / "apiserver-etcd-client.key")}


def etcd_healthy(lab, machine):
    r = machine.run(["etcdctl", "endpoint", "health"], capture_output=True, text=True,
                    env=etcdctl_env(lab, f"https://127.0.0.1:{ETCD_PORT}"), timeout=10)
    return r.returncode == 0


def etcd_up(lab, progress):
    members = etcd_machines(lab)
    cluster = [m.name for m in members]
    before = lab.state.get("etcd_cluster")
    moved = before not in (None, cluster)
    kept = moved and move_etcd_data(lab, [m for m in lab.machines if m.name in before],
                                    members, progress)
    lab.state["etcd_cluster"] = cluster
    lab.save()
    for m in lab.machines:
        if m not in members:
            supervisor.stop(etcd_daemon(lab, m))
    daemons = [(m, etcd_daemon(lab, m, members)) for m in members]
    for m, d in daemons:
        supervisor.ensure(d)
    for m, d in daemons:
        def healthy():
            if supervisor.pid_of(d) is None:
                raise RuntimeError(f"etcd on {m.name} exited; see {d.logfile}")
            return etcd_healthy(lab, m)
        wait_for(healthy, timeout=60, interval=0.5, what=f"etcd on {m.name}")
        progress(f"etcd   {m.name:6} pid {supervisor.pid_of(d)}  https://{m.ip}:{ETCD_PORT}")
    return moved, moved and not kept


def move_etcd_data(lab, old, new, progress):
    """The etcd members change (1 -> 3 or back): a member set is fixed when a cluster is
    born, so the new members start a new cluster, restored from a snapshot of the old one
    (``etcdctl snapshot save``, then ``snapshot restore`` per new member): every object and
    its resourceVersion carry over. Without a running old cluster to read, the new one
    starts empty, and says so. True if the data was kept."""
    names = ", ".join(m.name for m in new)
    snapshot = lab.dir / "etcd-move.db"
    snapshot.unlink(missing_ok=True)
    saved = bool(old) and save_snapshot(lab, old, snapshot)
    if not saved:  # said before the old data is removed
        progress(f"etcd members change to {names}: the old members are not running, so the "
                 "new cluster starts empty")
    else:
        progress(f"etcd members change to {names}: a new cluster, restored from a snapshot of "
                 "the old one (every object kept)")
    for m in lab.machines:
        supervisor.stop(etcd_daemon(lab, m))
        m.remove_files(m.dir / "etcd")
    if not saved:
        return False
    cluster = ",".join(f"{m.name}=https://{m.ip}:{PEER_PORT}" for m in new)
    for m in new:
        r = m.run(["etcdctl", "snapshot", "restore", str(snapshot), "--name", m.name,
                   "--data-dir", str(m.dir / "etcd"), "--initial-cluster", cluster,
                   "--initial-cluster-token", f"kfs-{lab.name}",
                   "--initial-advertise-peer-urls", f"https://{m.ip}:{PEER_PORT}"],
                  capture_output=True, text=True, env={"ETCDCTL_API": "3"}, timeout=60)
        if r.returncode != 0:
            raise LabError(f"restoring etcd's snapshot on {m.name} failed: "
                           f"{(r.stderr or r.stdout).strip()}")
    snapshot.unlink(missing_ok=True)
    return True


def etcd_move(lab, members):
    """What going to `members` etcd members will do to the objects, in a sentence that
    ``Lab.up`` says before it does anything; None when the members stay as they are. The
    objects are kept if the old members run (a snapshot moves them), else lost."""
    before = lab.state.get("etcd_cluster")
    if not before or members is None or len(before) == int(members):
        return None
    running = [m for m in lab.machines if m.name in before and supervisor.pid_of(etcd_daemon(lab, m))]
    move = f"etcd goes from {len(before)} member{'s' * (len(before) > 1)} to {members}: "
    if running:
        return move + ("a new etcd cluster, restored from a snapshot of the old one: every "
                       "object in the cluster is kept (a Deployment ./demo.sh made too)")
    return move + ("the old members are not running, so the new cluster starts EMPTY: every "
                   f"object is lost. To keep them, first run `kfs lab up --stage {lab.stage}` "
                   "(it restarts the old members), then this again")


def save_snapshot(lab, members, path):
    """``etcdctl snapshot save`` from the first running member; False if none answers."""
    for m in members:
        if supervisor.pid_of(etcd_daemon(lab, m)) is None or not etcd_healthy(lab, m):
            continue
        r = m.run(["etcdctl", "snapshot", "save", str(path)], capture_output=True, text=True,
                  env=etcdctl_env(lab, f"https://127.0.0.1:{ETCD_PORT}"), timeout=60)
        if r.returncode == 0:
            return True
    return False


# -- the API server -------------------------------------------------------------------------------

def apiserver_argv(lab):
    p = lab.pki_dir
    cp = lab.machine("cp")
    members = etcd_machines(lab)
    etcd = (f"https://127.0.0.1:{ETCD_PORT}" if len(members) == 1 else
            ",".join(f"https://{m.ip}:{ETCD_PORT}" for m in members))
    return [supervisor.kfs_command(), "apiserver",
            f"--advertise-address={cp.ip}", f"--secure-port={PORT}",
            f"--etcd-servers={etcd}", f"--etcd-cafile={p / 'etcd-ca.crt'}",
            f"--etcd-certfile={p / 'apiserver-etcd-client.crt'}",
            f"--etcd-keyfile={p / 'apiserver-etcd-client.key'}",
            f"--tls-cert-file={p / 'apiserver.crt'}",
            f"--tls-private-key-file={p / 'apiserver.key'}",
            f"--client-ca-file={p / 'ca.crt'}", f"--token-auth-file={token_path(lab)}",
            f"--kubelet-client-certificate={p / 'apiserver-kubelet-client.crt'}",
            f"--kubelet-client-key={p / 'apiserver-kubelet-client.key'}",
            f"--kubelet-certificate-authority={p / 'ca.crt'}",
            "--service-cluster-ip-range=10.96.0.0/12", "--service-node-port-range=30000-32767",
            "--v=2"]


def apiserver_daemon(lab, argv=None):
    return lab.machine("cp").daemon("apiserver", argv or [])


def ready(lab):
    p = lab.pki_dir
    try:
        r = requests.get(server_url(lab) + "/readyz", timeout=2, verify=str(p / "ca.crt"),
                         cert=(str(p / "admin.crt"), str(p / "admin.key")))
        return r.status_code == 200
    except requests.RequestException:
        return False


def up(lab, target, progress):
    ensure_credentials(lab)
    moved, emptied = etcd_up(lab, progress)
    d = apiserver_daemon(lab, apiserver_argv(lab))
    if moved:  # a new etcd cluster behind it
        supervisor.stop(d)
    pid = supervisor.ensure(d)

    def serving():
        if supervisor.pid_of(d) is None:
            raise RuntimeError(f"kfs apiserver exited; see {d.logfile}")
        return ready(lab)
    wait_for(serving, timeout=60, interval=0.2, what="the API server's /readyz")
    progress(f"apiserver cp   pid {pid}  {server_url(lab)}  "
             f"(export KUBECONFIG={lab.admin_kubeconfig})")
    if emptied:
        restart_kubelets(lab, target, progress)


def restart_kubelets(lab, target, progress):
    """A new etcd cluster forgot the Nodes: restarted kubelets register theirs again."""
    for m in lab.nodes:
        d = kubelet.daemon(lab, m, target)
        if supervisor.pid_of(d):
            progress(f"kubelet {m.name} restarted (pid {supervisor.restart(d)}) to register again")


def down(lab, progress):
    if supervisor.stop(apiserver_daemon(lab)):
        progress("apiserver stopped")
    for m in lab.machines:
        if supervisor.stop(etcd_daemon(lab, m)):
            progress(f"etcd on {m.name} stopped")

