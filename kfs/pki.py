"""The lab's PKI: the certificate authorities and every certificate the cluster uses.

Every connection in the cluster is TLS, and who you are is the certificate you show: the
API server reads a client certificate's CN as the user name and its O fields as the
groups (``kfs.apiserver.authn``), then asks RBAC what that user may do. So issuing the
certificates *is* deciding the identities. ``ensure_pki`` creates, in one directory:

| file stem                | CN (O)                                         | used for             |
|--------------------------|------------------------------------------------|----------------------|
| ca                       | kfs-ca                                         | signs all but etcd's |
| apiserver                | kube-apiserver; SANs: its IPs and names        | serves :6443         |
| admin                    | kubernetes-admin (system:masters)              | kubectl, notebooks   |
| kubelet-NODE             | system:node:NODE (system:nodes)                | client of API server |
| kubelet-NODE-serving     | system:node:NODE; SANs: node IP, NODE          | serves :10250        |
| kube-scheduler           | system:kube-scheduler                          | client of API server |
| kube-controller-manager  | system:kube-controller-manager                 | client of API server |
| kube-proxy               | system:kube-proxy                              | client of API server |
| flanneld                 | flanneld                                       | client of API server |
| kube-dns                 | system:kube-dns                                | client of API server |
| cloud-controller-manager | system:cloud-controller-manager                | client of API server |
| apiserver-kubelet-client | kube-apiserver-kubelet-client (system:masters) | client of kubelets   |
| etcd-ca                  | kfs-etcd-ca                                    | signs etcd's         |
| etcd-server-MEMBER       | MEMBER; SANs: IP, MEMBER, 127.0.0.1, localhost | serves :2379         |
| etcd-peer-MEMBER         | MEMBER; SANs: IP, MEMBER, 127.0.0.1, localhost | etcd <-> etcd :2380  |
| apiserver-etcd-client    | kube-apiserver-etcd-client                     | client of etcd       |
| flanneld-etcd-client     | flanneld-etcd-client                           | client of etcd       |

Each is ``<stem>.crt`` and ``<stem>.key`` (PEM; keys mode 0600). etcd has a CA of its own,
as kubeadm does: etcd trusts any certificate its CA signed, so a kubelet certificate
signed by the same CA as etcd's clients would read every object in etcd, past RBAC.

Keys are ECDSA P-256: kubectl, the Python client, curl and etcd 3.4 all accept them and
they are generated in milliseconds. ``ensure_pki`` is idempotent: it keeps every file
that is still right (signed by the current CA, key matching, the same names, not about to
expire) and issues only what is missing or wrong.

Also here: ``write_kubeconfig`` (a kubeconfig kubectl and the Python client accept), the
static token file (``--token-auth-file``), and the ``ssl`` contexts servers and clients use.

Mirrors kubeadm's ``cmd/kubeadm/app/phases/certs`` and ``phases/kubeconfig``; the token
file format is ``staging/src/k8s.io/apiserver/plugin/pkg/authenticator/token/tokenfile``.

Also here, for TLS bootstrapping: bootstrap tokens (``new_bootstrap_token``), a key and a
CERTIFICATE REQUEST for it (``make_csr``), reading one (``parse_csr``, ``csr_identity``)
and signing one with the CA (``sign_csr``, the controller manager's csrsigning).

What real Kubernetes does differently: every kubelet gets its certificates through the
certificates API (a CSR approved and signed by the controller manager, then rotated; in
the lab only the nodes ``kfs lab add-node`` adds do);
kubeadm adds a front-proxy CA and a service-account signing key; certificates live in
/etc/kubernetes/pki on each machine rather than in one directory.
"""
import base64
import csv
import datetime
import io
import ipaddress
import os
import secrets
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import yaml
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA = "ca"
ETCD_CA = "etcd-ca"
SERVICE_IP = "10.96.0.1"  # the first address of the service range: service "kubernetes"
API_DNS_NAMES = ("kubernetes", "kubernetes.default", "kubernetes.default.svc",
                 "kubernetes.default.svc.cluster.local", "localhost")
CA_DAYS, CERT_DAYS = 3650, 365
RENEW_BEFORE = datetime.timedelta(days=30)
CLOCK_SKEW = datetime.timedelta(hours=1)  # VMs' clocks differ a little


@dataclass(frozen=True)
class CertSpec:
    """One certificate to issue: who it names, what it may be used for, who signs it."""
    name: str                 # the file stem
    cn: str
    orgs: tuple = ()
    usage: str = "client"     # "client", "server" or "both" (extended key usage)
    ips: tuple = ()
    dns: tuple = ()
    ca: str = CA


def cert_specs(server_ips, server_names=(), nodes=None, etcd_members=None):
    """Every leaf certificate of the cluster, as `CertSpec`s (see the module's table).

    `nodes` and `etcd_members` map a machine name to its IP address.
    """
    api_ips = _unique([*server_ips, "127.0.0.1", SERVICE_IP])
    specs = [
        CertSpec("apiserver", "kube-apiserver", usage="server", ips=api_ips,
                 dns=_unique([*API_DNS_NAMES, *server_names])),
        CertSpec("admin", "kubernetes-admin", ("system:masters",)),
        CertSpec("kube-scheduler", "system:kube-scheduler"),
        CertSpec("kube-controller-manager", "system:kube-controller-manager"),
        CertSpec("kube-proxy", "system:kube-proxy"),
        CertSpec("flanneld", "flanneld"),
        CertSpec("kube-dns", "system:kube-dns"),
        CertSpec("cloud-controller-manager", "system:cloud-controller-manager"),
        CertSpec("apiserver-kubelet-client", "kube-apiserver-kubelet-client",
                 ("system:masters",)),
        CertSpec("apiserver-etcd-client", "kube-apiserver-etcd-client", ca=ETCD_CA),
        CertSpec("flanneld-etcd-client", "flanneld-etcd-client", ca=ETCD_CA),
    ]
    for node, ip in (nodes or {}).items():
        specs += [
            CertSpec(f"kubelet-{node}", f"system:node:{node}", ("system:nodes",)),
            CertSpec(f"kubelet-{node}-serving", f"system:node:{node}", ("system:nodes",),
                     usage="server", ips=(ip,), dns=(node,)),
        ]
    for member, ip in (etcd_members or {}).items():
        local = dict(ips=_unique([ip, "127.0.0.1"]), dns=_unique([member, "localhost"]))
        # etcd's gateway dials its own gRPC port with the server certificate: "both".
        specs += [CertSpec(f"etcd-server-{member}", member, usage="both", ca=ETCD_CA, **local),
                  CertSpec(f"etcd-peer-{member}", member, usage="both", ca=ETCD_CA, **local)]
    return specs


@dataclass(frozen=True)
class Pki:
    """Where the files are; `created` names what the last `ensure_pki` (re)issued."""
    directory: Path
    created: tuple = ()

    def cert(self, name):
        return self.directory / f"{name}.crt"

    def key(self, name):
        return self.directory / f"{name}.key"

    @property
    def ca(self):
        return self.cert(CA)

    @property
    def etcd_ca(self):
        return self.cert(ETCD_CA)


def ensure_pki(directory, server_ips, server_names=(), nodes=None, etcd_members=None):
    """Create what is missing or no longer right in `directory`; keep the rest.

    `server_ips`: the API server's addresses (127.0.0.1 and 10.96.0.1 are always added);
    `nodes`: {node name: IP}; `etcd_members`: {member name: IP}, by default one member
    "default" (etcd's default --name) on the first of `server_ips`.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if etcd_members is None:
        etcd_members = {"default": next(iter(server_ips), "127.0.0.1")}
    created = []
    cas = {}
    for ca_name, cn in ((CA, "kfs-ca"), (ETCD_CA, "kfs-etcd-ca")):
        cas[ca_name] = _load_ca(directory, ca_name, cn)
        if cas[ca_name] is None:
            cas[ca_name] = _write_ca(directory, ca_name, cn)
            created.append(ca_name)
    for spec in cert_specs(server_ips, server_names, nodes, etcd_members):
        ca_cert, ca_key = cas[spec.ca]
        if not _still_right(directory, spec, ca_cert):
            key = ec.generate_private_key(ec.SECP256R1())
            cert = _issue(spec, key.public_key(), ca_cert, ca_key)
            _write_pair(directory, spec.name, cert, key)
            created.append(spec.name)
    return Pki(directory, tuple(created))


# -- issuing --------------------------------------------------------------------------

def _name(cn, orgs=()):
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    return x509.Name(attrs + [x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _builder(subject, issuer, public_key, days):
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
            .public_key(public_key).serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW).not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))


def _usage(ca=False):
    return x509.KeyUsage(digital_signature=True, key_cert_sign=ca, crl_sign=ca,
                         content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False,
                         encipher_only=False, decipher_only=False)


_EKU = {"client": [ExtendedKeyUsageOID.CLIENT_AUTH],
        "server": [ExtendedKeyUsageOID.SERVER_AUTH],
        "both": [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]}


def _write_ca(directory, name, cn):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _name(cn)
    cert = (_builder(subject, subject, key.public_key(), CA_DAYS)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_usage(ca=True), critical=True)
            .sign(key, hashes.SHA256()))
    _write_pair(directory, name, cert, key)
    return cert, key


def _issue(spec, public_key, ca_cert, ca_key):
    sans = [x509.DNSName(d) for d in spec.dns] + [
        x509.IPAddress(ipaddress.ip_address(ip)) for ip in spec.ips]
    builder = (_builder(_name(spec.cn, spec.orgs), ca_cert.subject, public_key, CERT_DAYS)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(_usage(), critical=True)
               .add_extension(x509.ExtendedKeyUsage(_EKU[spec.usage]), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   ca_cert.public_key()), critical=False))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def _write_pair(directory, name, cert, key):
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    _write(directory / f"{name}.key", key_pem, 0o600)
    _write(directory / f"{name}.crt", cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _write(path, data, mode):
    """Write atomically with `mode` from the start: a key is never readable by others."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


# -- checking what is already there ---------------------------------------------------

def _load_pair(directory, name):
    try:
        cert = x509.load_pem_x509_certificate((directory / f"{name}.crt").read_bytes())
        key = serialization.load_pem_private_key((directory / f"{name}.key").read_bytes(), None)
    except (OSError, ValueError, TypeError):
        return None
    if cert.public_key() != key.public_key():
        return None
    return cert, key


def _fresh(cert):
    now = datetime.datetime.now(datetime.timezone.utc)
    return cert.not_valid_before_utc <= now and cert.not_valid_after_utc - RENEW_BEFORE > now


def _load_ca(directory, name, cn):
    pair = _load_pair(directory, name)
    if pair and _fresh(pair[0]) and pair[0].subject == _name(cn):
        return pair
    return None


def _still_right(directory, spec, ca_cert):
    pair = _load_pair(directory, spec.name)
    if not pair or not _fresh(pair[0]):
        return False
    cert = pair[0]
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    sans = _extension(cert, x509.SubjectAlternativeName)
    ips = {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)} if sans else set()
    dns = set(sans.get_values_for_type(x509.DNSName)) if sans else set()
    eku = list(_extension(cert, x509.ExtendedKeyUsage) or [])
    return (cert.subject == _name(spec.cn, spec.orgs) and ips == set(spec.ips)
            and dns == set(spec.dns) and eku == _EKU[spec.usage])


def _extension(cert, kind):
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _unique(items):
    return tuple(dict.fromkeys(items))


# -- kubeconfig -------------------------------------------------------------------------

def write_kubeconfig(path, server, ca_path, user, cert_path=None, key_path=None, token=None,
                     cluster_name="kfs", embed=True):
    """Write a kubeconfig with one cluster, one user and one current context.

    Credentials are a client certificate (`cert_path`, `key_path`) or a bearer `token`.
    With `embed`, files are inlined as ``*-data`` (base64), so the kubeconfig works on its
    own; otherwise it refers to them by absolute path. Written mode 0600: it holds a key.
    """
    if not token and not (cert_path and key_path):
        raise ValueError("a kubeconfig needs a token or both cert_path and key_path")

    def ref(field, file):
        if embed:
            return {f"{field}-data": base64.b64encode(Path(file).read_bytes()).decode()}
        return {field: str(Path(file).resolve())}

    credentials = {}
    if cert_path:
        credentials |= ref("client-certificate", cert_path) | ref("client-key", key_path)
    if token:
        credentials["token"] = token
    context = f"{user}@{cluster_name}"
    config = {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": cluster_name,
                      "cluster": {"server": server, **ref("certificate-authority", ca_path)}}],
        "users": [{"name": user, "user": credentials}],
        "contexts": [{"name": context, "context": {"cluster": cluster_name, "user": user}}],
        "current-context": context,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write(path, yaml.safe_dump(config, sort_keys=False).encode(), 0o600)
    return path


# -- static tokens (--token-auth-file) ----------------------------------------------------

class StaticToken(NamedTuple):
    token: str
    user: str
    uid: str
    groups: tuple = ()


class TokenFileError(ValueError):
    pass


def new_token():
    return secrets.token_hex(16)


def token_file(path, tokens):
    """Write upstream's CSV: ``token,user,uid,"group1,group2"``, mode 0600.

    `tokens`: `StaticToken`s or (token, user, uid[, groups]) tuples.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for t in (StaticToken(*t) for t in tokens):
        row = [t.token, t.user, t.uid] + ([",".join(t.groups)] if t.groups else [])
        lines.append(_csv_line(row))
    _write(path, "".join(lines).encode(), 0o600)
    return path


def _csv_line(row):
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(row)
    return out.getvalue()


def read_token_file(path):
    """Parse a token file as the API server does: {token: StaticToken}.

    At least 3 columns; the optional 4th is the comma-separated groups; rows with an
    empty token are skipped; a duplicate token replaces the earlier one.
    """
    tokens = {}
    with open(path, newline="") as f:
        for row in csv.reader(f):
            if not row:
                continue
            if len(row) < 3:
                raise TokenFileError(f"token file '{path}' must have at least 3 columns "
                                     f"(token, user name, user uid), found {len(row)}")
            if not row[0]:
                continue
            groups = tuple(row[3].split(",")) if len(row) >= 4 else ()
            tokens[row[0]] = StaticToken(row[0], row[1], row[2], groups)
    return tokens


# -- TLS contexts ---------------------------------------------------------------------------

def server_ssl_context(cert, key, client_ca=None, require_client_cert=False):
    """An ``ssl`` context for a server (the API server, a kubelet).

    With `client_ca`, a client certificate is verified against it during the handshake
    (chain, validity, and extended key usage clientAuth); without `require_client_cert` a
    client may still connect without one (and then authenticate with a token, or get 401).
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cert), str(key))
    if client_ca:
        ctx.load_verify_locations(str(client_ca))
        ctx.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    return ctx


def client_ssl_context(ca, cert=None, key=None):
    """An ``ssl`` context for a client that checks the server against `ca`."""
    ctx = ssl.create_default_context(cafile=str(ca))
    if cert:
        ctx.load_cert_chain(str(cert), str(key))
    return ctx


# -- certificate signing requests (TLS bootstrapping) ----------------------------------------

BOOTSTRAP_TOKEN_ID = 6       # [a-z0-9]{6}.[a-z0-9]{16}, as kubeadm's
BOOTSTRAP_TOKEN_SECRET = 16
_TOKEN_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"


def new_bootstrap_token():
    """(token id, token secret): a bootstrap token is ``<id>.<secret>``."""
    pick = lambda n: "".join(secrets.choice(_TOKEN_CHARS) for _ in range(n))  # noqa: E731
    return pick(BOOTSTRAP_TOKEN_ID), pick(BOOTSTRAP_TOKEN_SECRET)


def new_key():
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def make_csr(key, cn, orgs=(), ips=(), dns=()):
    """A PEM ``CERTIFICATE REQUEST`` for `cn` (O `orgs`, SANs `ips` and `dns`) signed by `key`:
    what a kubelet puts into a CertificateSigningRequest's ``spec.request``."""
    builder = x509.CertificateSigningRequestBuilder().subject_name(_name(cn, orgs))
    sans = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def parse_csr(pem):
    """The ``x509.CertificateSigningRequest`` in `pem` (bytes); ValueError with upstream's
    reason if it is not one PEM block of type CERTIFICATE REQUEST with a valid signature."""
    text = pem.decode("ascii", "replace") if isinstance(pem, (bytes, bytearray)) else str(pem)
    if "-----BEGIN CERTIFICATE REQUEST-----" not in text:
        raise ValueError("PEM block type must be CERTIFICATE REQUEST")
    try:
        csr = x509.load_pem_x509_csr(text.encode())
    except ValueError as e:
        raise ValueError(f"failed to parse certificate request: {e}") from None
    if not csr.is_signature_valid:
        raise ValueError("the certificate request's signature is invalid")
    return csr


def csr_identity(csr):
    """(CN, [O...], [IP SANs], [DNS SANs]) of a parsed request."""
    cns = [a.value for a in csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    orgs = [a.value for a in csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    try:
        sans = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        ips = [str(i) for i in sans.get_values_for_type(x509.IPAddress)]
        dns = list(sans.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        ips, dns = [], []
    return (cns[-1] if cns else ""), orgs, ips, dns


_USAGE_EKU = {"client auth": ExtendedKeyUsageOID.CLIENT_AUTH,
              "server auth": ExtendedKeyUsageOID.SERVER_AUTH}


def sign_csr(csr, ca_cert_file, ca_key_file, usages, seconds):
    """Issue the certificate `csr` asks for, signed by the CA in the two files, valid for
    `seconds` (capped by the CA's own end): the subject and SANs of the request, the
    extended key usages named in `usages` ("client auth", "server auth"). PEM bytes."""
    ca_cert = x509.load_pem_x509_certificate(Path(ca_cert_file).read_bytes())
    ca_key = serialization.load_pem_private_key(Path(ca_key_file).read_bytes(), None)
    now = datetime.datetime.now(datetime.timezone.utc)
    not_after = min(now + datetime.timedelta(seconds=seconds), ca_cert.not_valid_after_utc)
    public_key = csr.public_key()
    builder = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(ca_cert.subject)
               .public_key(public_key).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(_usage(), critical=True)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   ca_cert.public_key()), critical=False))
    ekus = [_USAGE_EKU[u] for u in usages if u in _USAGE_EKU]
    if ekus:
        builder = builder.add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
    try:
        sans = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        builder = builder.add_extension(sans, critical=False)
    except x509.ExtensionNotFound:
        pass
    return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
