"""The lab's certificates, kubeconfigs and token file, shared by the ``kubelet`` and
``apiserver`` stages.

``ensure_credentials`` makes them with ``kfs.pki``: a CA and the API server's serving
certificate (for ``cp``'s lab address and 127.0.0.1), a client certificate per component
(who you are is the certificate's CN, your groups its O), a kubelet client and serving
certificate per node, a second CA for etcd with a server and peer certificate per etcd
member, and a kubeconfig each for the admin (``kfs lab kubeconfig``), the scheduler, the
controller manager, the proxy, flanneld, kfs dns, the cloud-controller-manager and each
node's kubelet; plus a token-only user
``alice`` who has no roles, to show a 403. It runs at every ``up`` from stage ``apiserver``
on, first in the ``kubelet`` stage (a kubelet starts before the API server and needs its
kubeconfig), and keeps what is still right.

Mirrors kubeadm's ``init`` phases ``certs`` and ``kubeconfig``
(``cmd/kubeadm/app/phases/certs``, ``cmd/kubeadm/app/phases/kubeconfig``).

Nodes added by ``kfs lab add-node`` get none of this: their kubelets ask for their own
certificates with a bootstrap token (``join.py``).

What real Kubernetes does differently: kubeadm writes ``/etc/kubernetes/pki`` and
``/etc/kubernetes/*.conf`` on the control-plane machine only; every node joins with a
bootstrap token and its kubelet asks the API server for its certificates (a
CertificateSigningRequest, TLS bootstrapping) instead of being handed them.
"""
from kfs import pki
from kfs.lab.errors import LabError

PORT = 6443  # the API server's, on cp: every kubeconfig names https://<cp>:6443
COMPONENTS = ("kube-scheduler", "kube-controller-manager", "kube-proxy", "flanneld", "kube-dns",
              "cloud-controller-manager")


def etcd_machines(lab):
    """The machines running an etcd member: cp, or cp, node1 and node2."""
    count = int(lab.state.get("etcd_members") or 1)
    if count == 1:
        return [lab.machine("cp")]
    if len(lab.nodes) < 2:
        raise LabError("--etcd-members 3 needs cp, node1 and node2: use --nodes 2 or more")
    return [lab.machine(n) for n in ("cp", "node1", "node2")]


def own_nodes(lab):
    """The nodes the lab made certificates for: not those added with add-node, whose
    kubelets ask for their own (``join.py``)."""
    return [m for m in lab.nodes if not m.joined]


def server_url(lab):
    return f"https://{lab.machine('cp').ip}:{PORT}"


def token_path(lab):
    return lab.dir / "tokens.csv"


def ensure_credentials(lab):
    """The lab's PKI, kubeconfigs and token file; idempotent (keeps what is still right).

    The kubelet stage calls it before the apiserver stage does: from stage ``apiserver``
    on, its kubelets need their kubeconfig before the API server exists.
    """
    cp = lab.machine("cp")
    p = pki.ensure_pki(lab.pki_dir, [cp.ip], server_names=["cp"],
                       nodes={m.name: m.ip for m in own_nodes(lab)},
                       etcd_members={m.name: m.ip for m in etcd_machines(lab)})
    server = server_url(lab)
    pki.write_kubeconfig(lab.admin_kubeconfig, server, p.ca, "kubernetes-admin",
                         p.cert("admin"), p.key("admin"))
    for name in COMPONENTS:
        pki.write_kubeconfig(lab.kubeconfig(name), server, p.ca, name, p.cert(name),
                             p.key(name))
    for m in own_nodes(lab):
        pki.write_kubeconfig(lab.kubeconfig(f"kubelet-{m.name}"), server, p.ca,
                             f"system:node:{m.name}", p.cert(f"kubelet-{m.name}"),
                             p.key(f"kubelet-{m.name}"))
    tokens = pki.read_token_file(token_path(lab)) if token_path(lab).exists() else {}
    alice = next((t for t in tokens.values() if t.user == "alice"), None)
    if alice is None:
        alice = pki.StaticToken(pki.new_token(), "alice", "1001", ("students",))
        pki.token_file(token_path(lab), [alice])
    pki.write_kubeconfig(lab.kubeconfig("alice"), server, p.ca, "alice", token=alice.token)
    return p
