"""What a machine added by ``kfs lab add-node`` gets instead of certificates: a bootstrap token.

Not a stage: the ``kubelet`` stage runs a joined machine's kubelet with these files, and
``kfs/lab/nodes.py`` (add-node, remove-node) makes and removes them. As ``kubeadm token
create`` and ``kubeadm join`` do:

- **the token**: a Secret ``kube-system/bootstrap-token-<id>`` of type
  ``bootstrap.kubernetes.io/token`` (``token-id``, ``token-secret``, an ``expiration`` one
  hour away, ``usage-bootstrap-authentication: "true"`` and ``auth-extra-groups:
  system:bootstrappers:kubeadm:default-node-token``, the group kubeadm's RBAC lets create
  CSRs and have them auto-approved), created with the admin's credentials;
- **the machine's files**, in its directory: ``bootstrap-kubelet.kubeconfig`` (the API
  server, the CA, the token ``<id>.<secret>``) and ``ca.crt``; no key, no certificate. The
  kubelet runs with ``--bootstrap-kubeconfig``, ``--kubeconfig`` (which it writes),
  ``--cert-dir``, ``--rotate-server-certificates`` and ``--client-ca-file``;
- **the serving certificate's approval** (`approve_serving_csrs`): upstream's csrapproving
  never approves ``kubernetes.io/kubelet-serving`` requests, because nothing in a request
  proves the node owns the names it asks for. The lab knows its machines, so it approves a
  pending serving request when the requester is ``system:node:<machine>``, the subject is
  that user in ``system:nodes``, every IP SAN is the machine's address and every DNS SAN
  its name; anything else stays pending for a person to look at. Real clusters run a
  controller for this (kubelet-csr-approver checks the names against DNS) or approve by
  hand (``kubectl certificate approve``).

What real Kubernetes does differently: ``kubeadm join`` first fetches the cluster CA from
the ``cluster-info`` ConfigMap in kube-public, checked against a CA hash given on its
command line (``--discovery-token-ca-cert-hash``), and the bootstrap signer signs that
ConfigMap with the token; here the lab hands the machine the CA file directly.
"""
import datetime
import shutil

import yaml

from kfs import meta, pki
from kfs.apiserver import authn
from kfs.client import ApiError, Client
from kfs.controllers import certificates as certs
from kfs.lab.stages.credentials import server_url

EXTRA_GROUP = "system:bootstrappers:kubeadm:default-node-token"
TOKEN_TTL = datetime.timedelta(hours=1)
APPROVED_BY = "KfsLabApprove"


def bootstrap_kubeconfig(machine):
    return machine.dir / "bootstrap-kubelet.kubeconfig"


def kubelet_files(machine):
    """The flags of a joined machine's kubelet, and the files they name."""
    return {"--bootstrap-kubeconfig": bootstrap_kubeconfig(machine),
            "--kubeconfig": machine.dir / "kubelet" / "kubelet.kubeconfig",
            "--cert-dir": machine.dir / "kubelet" / "pki",
            "--client-ca-file": machine.dir / "ca.crt"}


def kubelet_flags(machine):
    return [a for flag, path in kubelet_files(machine).items() for a in (flag, path)] + [
        "--rotate-server-certificates"]


def serving_cert(machine):
    return kubelet_files(machine)["--cert-dir"] / "kubelet-server-current.pem"


def admin(lab):
    return Client.from_kubeconfig(lab.admin_kubeconfig, user_agent="kfs-lab")


def token_secret(token_id, token_secret_value, description, now=None):
    now = now or datetime.datetime.now(datetime.timezone.utc)
    expiration = (now + TOKEN_TTL).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"apiVersion": "v1", "kind": "Secret", "type": authn.BOOTSTRAP_SECRET_TYPE,
            "metadata": {"name": authn.bootstrap_secret_name(token_id),
                         "namespace": "kube-system"},
            "stringData": {"description": description, "token-id": token_id,
                           "token-secret": token_secret_value, "expiration": expiration,
                           "usage-bootstrap-authentication": "true",
                           "usage-bootstrap-signing": "true",
                           "auth-extra-groups": EXTRA_GROUP}}


def token_of(machine):
    """The ``<id>.<secret>`` in the machine's bootstrap kubeconfig, or None."""
    try:
        config = yaml.safe_load(bootstrap_kubeconfig(machine).read_text())
        return config["users"][0]["user"]["token"]
    except (OSError, KeyError, IndexError, TypeError, yaml.YAMLError):
        return None


def ensure_bootstrap(lab, machine, client, progress):
    """A token Secret and the machine's bootstrap kubeconfig and CA, unless the kubelet
    already has its certificate or a token that still works."""
    from kfs.kubelet.bootstrap import kubeconfig_usable
    if kubeconfig_usable(kubelet_files(machine)["--kubeconfig"]):
        return
    token = token_of(machine)
    if token and authn.user_from_bootstrap_token(f"Bearer {token}",
                                                 lambda name: _secret(client, name)):
        return
    token_id, secret = pki.new_bootstrap_token()
    client.create(token_secret(token_id, secret, f"kfs lab add-node {machine.name}"))
    machine.dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(lab.pki_dir / "ca.crt", kubelet_files(machine)["--client-ca-file"])
    pki.write_kubeconfig(bootstrap_kubeconfig(machine), server_url(lab), lab.pki_dir / "ca.crt",
                         "kubelet-bootstrap", token=f"{token_id}.{secret}")
    progress(f"bootstrap token {token_id}.<secret>: Secret kube-system/"
             f"{authn.bootstrap_secret_name(token_id)}, {bootstrap_kubeconfig(machine)}")


def remove_token(token, client):
    """Delete the Secret of `token` (``<id>.<secret>``); its name, or None."""
    if not token:
        return None
    name = authn.bootstrap_secret_name(token.split(".")[0])
    try:
        client.delete("secrets", name, "kube-system")
    except ApiError as e:
        if not e.not_found:
            raise
    return name


def _secret(client, name):
    try:
        return client.get("secrets", name, "kube-system")
    except ApiError as e:
        if e.not_found:
            return None
        raise


def serving_request_problem(csr, machine):
    """None if `csr` is a serving request of this machine's kubelet, else why not."""
    spec = csr.get("spec") or {}
    user = f"system:node:{machine.name}"
    if spec.get("username") != user:
        return f"requested by {spec.get('username')!r}, not {user!r}"
    try:
        request = certs.parse_request(csr)
    except ValueError as e:
        return str(e)
    problem = certs.validate_kubelet_serving(request, spec.get("usages"))
    if problem:
        return problem
    cn, _, ips, dns = pki.csr_identity(request)
    if cn != user:
        return f"subject {cn!r} is not {user!r}"
    if set(ips) - {machine.ip} or set(dns) - {machine.name}:
        return f"SANs {ips + dns} are not {machine.name}'s ({machine.ip}, {machine.name})"
    return None


def approve_serving_csrs(machine, client, progress):
    """Approve the machine's pending kubelet-serving requests that check out."""
    for csr in client.list("certificatesigningrequests")["items"]:
        spec = csr.get("spec") or {}
        if (spec.get("signerName") != certs.KUBELET_SERVING or certs.approved_or_denied(csr)
                or spec.get("username") != f"system:node:{machine.name}"):
            continue
        problem = serving_request_problem(csr, machine)
        if problem:
            progress(f"not approving {meta.name(csr)}: {problem}")
            continue
        status = dict(csr.get("status") or {})
        status["conditions"] = [*(status.get("conditions") or []), certs.condition(
            "Approved", APPROVED_BY, f"kfs lab: the names and addresses are machine "
            f"{machine.name}'s")]
        client.replace({**csr, **certs.TYPE_META, "status": status}, subresource="approval")
        progress(f"approved {meta.name(csr)}: {machine.name}'s serving certificate "
                 f"({machine.ip}, {machine.name})")
