"""TLS bootstrapping: a kubelet that has only a bootstrap token asks for its certificates.

A new machine is given a **bootstrap kubeconfig** (the API server's address, the cluster
CA, and a bootstrap token ``<id>.<secret>``) instead of a certificate. With
``--bootstrap-kubeconfig`` and no usable ``--kubeconfig``, `load_client_cert`:

1. makes a key (kept in ``<cert-dir>/kubelet-client.key.tmp`` until done, so that a
   kubelet restarted half-way asks again with the same key and finds its own request);
2. creates a CertificateSigningRequest (``node-csr-<digest>``) as the token's user,
   ``system:bootstrap:<id>``: CN ``system:node:<node>``, O ``system:nodes``, signer
   ``kubernetes.io/kube-apiserver-client-kubelet``, usages digital signature + client auth;
3. waits until ``status.certificate`` is there (the controller manager's csrapproving
   approves it, csrsigning signs it) or the request is Denied or Failed;
4. writes ``<cert-dir>/kubelet-client-<timestamp>.pem`` (certificate and key), points
   ``kubelet-client-current.pem`` at it and writes ``--kubeconfig`` naming that file, the
   bootstrap kubeconfig's server and CA: from then on the kubelet is ``system:node:<node>``.

With ``--rotate-server-certificates``, `load_serving_cert` then does the same for the
kubelet's HTTPS server, as the node itself: a ``kubernetes.io/kubelet-serving`` request
with the node's name and address as SANs and usage server auth, written to
``kubelet-server-current.pem``. The API server checks that certificate against the CA when
it proxies ``kubectl logs`` and ``exec`` to the kubelet. Nobody approves serving requests
automatically in upstream Kubernetes: in the lab, ``kfs lab add-node`` does, after
checking the names against the machine.

A certificate already there and still valid is used as it is: a restarted kubelet does not
ask again.

Mirrors pkg/kubelet/certificate/bootstrap/bootstrap.go (LoadClientCert, the digested CSR
name, writing the kubeconfig), client-go's util/certificate/csr (RequestCertificate,
WaitForCertificate) and pkg/kubelet/certificate/kubelet.go (the serving certificate's
template).

What real Kubernetes does differently: a certificate manager rotates both certificates
when 70-90% of their life has passed (here a kubelet asks again only when it starts with
an expired one); requests are watched rather than polled; the key is RSA or ECDSA as
configured.
"""
import base64
import datetime
import hashlib
import logging
import os
import re
import time
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kfs import pki
from kfs.client import ApiError, Client

log = logging.getLogger("kubelet.bootstrap")

KUBELET_CLIENT = "kubernetes.io/kube-apiserver-client-kubelet"
KUBELET_SERVING = "kubernetes.io/kubelet-serving"
CLIENT_USAGES = ["digital signature", "client auth"]
SERVING_USAGES = ["digital signature", "server auth"]
POLL = 0.5   # seconds between looks at the request


class BootstrapError(Exception):
    """The request was denied or failed, or the API server refused it."""


def node_subject(node_name):
    return f"system:node:{node_name}", ("system:nodes",)


def digested_name(prefix, key, node_name):
    """``node-csr-<digest>``: the same key and node always name the same request."""
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    digest = hashlib.sha256(der + node_name.encode()).digest()
    return prefix + base64.b32encode(digest).decode().rstrip("=").lower()[:43]


def csr_object(name, request_pem, signer, usages, expiration_seconds=None):
    spec = {"request": base64.b64encode(request_pem).decode(), "signerName": signer,
            "usages": list(usages)}
    if expiration_seconds:
        spec["expirationSeconds"] = int(expiration_seconds)
    return {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
            "metadata": {"name": name}, "spec": spec}


def valid_pem(path, now=None):
    """Does `path` hold a certificate (and its key) that is valid now?"""
    try:
        data = Path(path).read_bytes()
        cert = x509.load_pem_x509_certificate(data)
        serialization.load_pem_private_key(_key_block(data), None)
    except (OSError, ValueError, TypeError):
        return False
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return cert.not_valid_before_utc <= now < cert.not_valid_after_utc


KEY_BLOCK = re.compile(rb"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.*?-----END \1PRIVATE KEY-----\n?",
                       re.S)


def _key_block(data):
    """The private key's PEM block in a certificate-and-key file."""
    m = KEY_BLOCK.search(data)
    if not m:
        raise ValueError("no private key")
    return m.group(0)


def kubeconfig_usable(path):
    """A kubeconfig whose client certificate file exists and is valid."""
    try:
        config = yaml.safe_load(Path(path).read_text())
        user = config["users"][0]["user"]
    except (OSError, ValueError, KeyError, IndexError, TypeError, yaml.YAMLError):
        return False
    cert = user.get("client-certificate")
    return bool(cert) and valid_pem(cert)


def load_or_make_key(path):
    try:
        return serialization.load_pem_private_key(Path(path).read_bytes(), None)
    except (OSError, ValueError, TypeError):
        key = pki.new_key()
        _write(path, pki.key_pem(key))
        return key


def request_certificate(client, name, request_pem, signer, usages, stop=None, timeout=None):
    """Create the CSR `name` (or find it, made by an earlier try) and wait for its
    certificate: the PEM bytes (None if stopped first). BootstrapError if it is denied or
    failed, or the API server refuses the request; an API server that does not answer
    (yet) is asked again."""
    deadline = time.monotonic() + timeout if timeout else None
    created = False
    while True:
        try:
            if not created:
                created = _create(client, name, request_pem, signer, usages)
            pem = _certificate(client.get("certificatesigningrequests", name), name)
            if pem:
                return pem
        except ApiError as e:
            if e.code not in TRANSIENT and e.code < 500:
                raise BootstrapError(f"CertificateSigningRequest {name}: {e}") from e
            log.info("the API server did not answer (%s); asking again", e)
        if deadline and time.monotonic() > deadline:
            raise TimeoutError(f"CertificateSigningRequest {name} was not signed in {timeout}s")
        if stop is not None and stop.wait(POLL):
            return None
        if stop is None:
            time.sleep(POLL)


TRANSIENT = (0, 429)   # no answer at all; too many requests


def _create(client, name, request_pem, signer, usages):
    try:
        client.create(csr_object(name, request_pem, signer, usages))
        log.info("created CertificateSigningRequest %s (%s), waiting for it to be approved "
                 "and signed", name, signer)
    except ApiError as e:
        if e.code != 409:
            raise
        log.info("CertificateSigningRequest %s already exists, waiting for it", name)
    return True


def _certificate(csr, name):
    """The issued PEM, None while pending; BootstrapError once Denied or Failed."""
    status = csr.get("status") or {}
    for c in status.get("conditions") or []:
        if c.get("type") in ("Denied", "Failed") and c.get("status", "True") == "True":
            raise BootstrapError(f"CertificateSigningRequest {name} is {c['type']}: "
                                 f"{c.get('reason', '')} {c.get('message', '')}".strip())
    return base64.b64decode(status["certificate"]) if status.get("certificate") else None


def store_pair(cert_dir, prefix, cert_pem, key):
    """``<prefix>-<timestamp>.pem`` (certificate, then key) and ``<prefix>-current.pem``
    pointing at it, as upstream's file store."""
    cert_dir = Path(cert_dir)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d-%H-%M-%S")
    target = cert_dir / f"{prefix}-{stamp}.pem"
    _write(target, cert_pem + pki.key_pem(key))
    current = cert_dir / f"{prefix}-current.pem"
    tmp = cert_dir / f".{prefix}-current.tmp"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target.name)
    os.replace(tmp, current)
    return current


def load_client_cert(kubeconfig, bootstrap_kubeconfig, cert_dir, node_name, stop=None,
                     timeout=None, client=None):
    """Make `kubeconfig` usable, from `bootstrap_kubeconfig` if needed (see the module).
    True when done, False if stopped first. `client`: the bootstrap kubeconfig's (made
    from it by default)."""
    if kubeconfig_usable(kubeconfig):
        log.info("the kubeconfig %s is valid: no bootstrap needed", kubeconfig)
        return True
    Path(cert_dir).mkdir(parents=True, exist_ok=True)
    key_file = Path(cert_dir) / "kubelet-client.key.tmp"
    key = load_or_make_key(key_file)
    cn, orgs = node_subject(node_name)
    client = client or Client.from_kubeconfig(bootstrap_kubeconfig,
                                              user_agent=f"kubelet/{node_name}")
    pem = request_certificate(client, digested_name("node-csr-", key, node_name),
                              pki.make_csr(key, cn, orgs), KUBELET_CLIENT, CLIENT_USAGES,
                              stop, timeout)
    if pem is None:
        return False
    current = store_pair(cert_dir, "kubelet-client", pem, key)
    write_kubeconfig(kubeconfig, bootstrap_kubeconfig, current, cn)
    key_file.unlink(missing_ok=True)
    log.info("got a client certificate for %s: wrote %s and %s", cn, current, kubeconfig)
    return True


def load_serving_cert(client, cert_dir, node_name, node_ip, stop=None, timeout=None):
    """The kubelet's serving certificate file (a kubelet-serving CSR, as the node), or
    None if stopped first."""
    current = Path(cert_dir) / "kubelet-server-current.pem"
    if valid_pem(current):
        return current
    key_file = Path(cert_dir) / "kubelet-server.key.tmp"
    key = load_or_make_key(key_file)
    cn, orgs = node_subject(node_name)
    request = pki.make_csr(key, cn, orgs, ips=[node_ip] if node_ip else [], dns=[node_name])
    pem = request_certificate(client, digested_name("csr-", key, node_name), request,
                              KUBELET_SERVING, SERVING_USAGES, stop, timeout)
    if pem is None:
        return None
    current = store_pair(cert_dir, "kubelet-server", pem, key)
    key_file.unlink(missing_ok=True)
    log.info("got a serving certificate for %s (%s): %s", node_name, node_ip, current)
    return current


def write_kubeconfig(path, bootstrap_kubeconfig, pem_file, user):
    """The kubelet's kubeconfig: the bootstrap one's cluster, the issued certificate."""
    config = yaml.safe_load(Path(bootstrap_kubeconfig).read_text())
    context = next(c for c in config["contexts"] if c["name"] == config["current-context"])
    cluster = next(c for c in config["clusters"] if c["name"] == context["context"]["cluster"])
    out = {"apiVersion": "v1", "kind": "Config", "preferences": {},
           "clusters": [{"name": "default-cluster", "cluster": cluster["cluster"]}],
           "users": [{"name": "default-auth", "user": {
               "client-certificate": str(pem_file), "client-key": str(pem_file)}}],
           "contexts": [{"name": "default-context", "context": {
               "cluster": "default-cluster", "user": "default-auth", "namespace": "default"}}],
           "current-context": "default-context"}
    _write(path, yaml.safe_dump(out, sort_keys=False).encode())
    return Path(path)


def _write(path, data, mode=0o600):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
