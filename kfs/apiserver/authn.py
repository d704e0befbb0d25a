"""Authentication: who sent this request? A verified client certificate, or a bearer token.

The API server asks this for every request, before anything else. The answer is a `User`
(name, groups, uid, extra) or None, and None means 401 Unauthorized: kfs has no
anonymous user. The two ways in, tried in upstream's order:

1. **Client certificate** (upstream ``request/x509``): the TLS handshake has already
   checked the certificate against the cluster CA (``kfs.pki.server_ssl_context`` with
   ``client_ca``), so here we only *read* it: CN is the user name, every O is a group.
   ``kubernetes-admin`` with O ``system:masters`` is the admin; a kubelet is
   ``system:node:node1`` in ``system:nodes``. A certificate without a CN names nobody,
   and the next method is tried.
2. **Bearer token** (upstream ``request/bearertoken`` + ``token/tokenfile``):
   ``Authorization: Bearer <token>`` looked up in the static token file
   (``kfs.pki.read_token_file``). An unknown token is nobody.
3. **Bootstrap token** (upstream ``token/bootstrap``): a bearer token ``<id>.<secret>``
   (``[a-z0-9]{6}.[a-z0-9]{16}``) is checked against the Secret
   ``kube-system/bootstrap-token-<id>`` (type ``bootstrap.kubernetes.io/token``): the
   secret must match, the Secret must not be expiring (``expiration``, RFC 3339) nor being
   deleted, and it must say ``usage-bootstrap-authentication: "true"``. The user is
   ``system:bootstrap:<id>`` in ``system:bootstrappers`` and the Secret's
   ``auth-extra-groups`` (each ``system:bootstrappers:...``). How a joining kubelet
   authenticates before it has a certificate (`user_from_bootstrap_token`).

Every authenticated user also gets the group ``system:authenticated`` (upstream's
``AuthenticatedGroupAdder``), which the bootstrap policy uses for discovery.

What `authenticate` takes as `peer_cert`: preferably the DER bytes,
``request.transport.get_extra_info("ssl_object").getpeercert(binary_form=True)`` in
aiohttp, which also yields upstream's credential id (the certificate's SHA-256). The dict
``request.transport.get_extra_info("peercert")`` (``SSLObject.getpeercert()``) works too.
Either way it must come from a TLS layer that verified it: this module does not check
signatures. An empty dict or None means "no certificate".

Mirrors staging/src/k8s.io/apiserver/pkg/authentication/request/x509/x509.go
(``CommonNameUserConversion``), request/bearertoken/bearertoken.go,
plugin/pkg/authenticator/token/tokenfile/tokenfile.go, plugin/pkg/auth/authenticator/token/
bootstrap/bootstrap.go and group/authenticated_group_adder.go.

What real Kubernetes does differently: more authenticators (service-account JWTs, OIDC, webhooks, the front proxy's request headers), an anonymous user
when enabled, and a cache of token results.
"""
import base64
import binascii
import datetime
import hashlib
import hmac
import re
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.x509.oid import NameOID

AUTHENTICATED, UNAUTHENTICATED = "system:authenticated", "system:unauthenticated"
CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"
BOOTSTRAP_TOKEN = re.compile(r"([a-z0-9]{6})\.([a-z0-9]{16})")
BOOTSTRAPPERS = "system:bootstrappers"
BOOTSTRAP_USER_PREFIX = "system:bootstrap:"
BOOTSTRAP_SECRET_TYPE = "bootstrap.kubernetes.io/token"
BOOTSTRAP_GROUP = re.compile(r"system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]")


@dataclass(frozen=True)
class User:
    """upstream's ``user.DefaultInfo``."""
    name: str
    groups: tuple = ()
    uid: str = ""
    extra: dict = field(default_factory=dict, hash=False, compare=False)

    def to_user_info(self):
        """As ``UserInfo`` in reviews (SelfSubjectReview, TokenReview)."""
        info = {"username": self.name, "groups": list(self.groups)}
        if self.uid:
            info["uid"] = self.uid
        if self.extra:
            info["extra"] = {k: list(v) for k, v in self.extra.items()}
        return info


def authenticate(peer_cert, authorization_header, tokens):
    """The user a request comes from, or None (answer 401).

    `peer_cert`: the verified client certificate as DER bytes or as ``getpeercert()``'s
    dict (None or {} if there is none); `authorization_header`: the header's value or
    None; `tokens`: {token: StaticToken} as ``kfs.pki.read_token_file`` returns it.
    """
    user = user_from_certificate(peer_cert) or user_from_token(authorization_header, tokens)
    return with_authenticated_group(user) if user else None


def user_from_certificate(peer_cert):
    """CN -> name, O -> groups; None without a certificate or without a CN."""
    if not peer_cert:
        return None
    if isinstance(peer_cert, (bytes, bytearray)):
        try:
            cert = x509.load_der_x509_certificate(bytes(peer_cert))
        except ValueError:
            return None
        cns = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
        orgs = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
        extra = {CREDENTIAL_ID: ["X509SHA256=" + hashlib.sha256(peer_cert).hexdigest()]}
    else:
        pairs = [pair for rdn in peer_cert.get("subject", ()) for pair in rdn]
        cns = [v for k, v in pairs if k == "commonName"]
        orgs = [v for k, v in pairs if k == "organizationName"]
        extra = {}
    if not cns or not cns[-1]:
        return None
    return User(cns[-1], tuple(orgs), extra=extra)


def bearer_token(authorization_header):
    """The token of ``Authorization: Bearer <token>`` (scheme case-insensitive), or None."""
    parts = (authorization_header or "").strip().split(" ", 2)
    if len(parts) < 2 or parts[0].lower() != "bearer" or not parts[1]:
        return None
    return parts[1]


def user_from_token(authorization_header, tokens):
    token = bearer_token(authorization_header)
    entry = (tokens or {}).get(token) if token else None
    if entry is None:
        return None
    return User(entry.user, tuple(entry.groups), entry.uid)


def is_bootstrap_token(authorization_header):
    return bool(BOOTSTRAP_TOKEN.fullmatch(bearer_token(authorization_header) or ""))


def bootstrap_secret_name(token_id):
    return f"bootstrap-token-{token_id}"


def user_from_bootstrap_token(authorization_header, get_secret, now=None):
    """The user of a bootstrap token, or None. `get_secret(name)` returns the Secret
    ``kube-system/<name>`` (None if there is none); `now` an aware datetime."""
    m = BOOTSTRAP_TOKEN.fullmatch(bearer_token(authorization_header) or "")
    if not m:
        return None
    token_id, token_secret = m.groups()
    secret = get_secret(bootstrap_secret_name(token_id))
    if not secret or secret.get("type") != BOOTSTRAP_SECRET_TYPE:
        return None
    if (secret.get("metadata") or {}).get("deletionTimestamp"):
        return None
    data = {k: _decoded(v) for k, v in (secret.get("data") or {}).items()}
    if not hmac.compare_digest(data.get("token-secret") or "", token_secret):
        return None
    if data.get("token-id") not in (None, token_id) or _expired(data.get("expiration"), now):
        return None
    if data.get("usage-bootstrap-authentication") != "true":
        return None
    extra = [g.strip() for g in (data.get("auth-extra-groups") or "").split(",") if g.strip()]
    if any(not BOOTSTRAP_GROUP.fullmatch(g) for g in extra):
        return None
    return User(BOOTSTRAP_USER_PREFIX + token_id, (BOOTSTRAPPERS, *extra))


def _decoded(value):
    try:
        return base64.b64decode(value or "").decode()
    except (binascii.Error, ValueError):
        return None


def _expired(expiration, now=None):
    """Has the RFC 3339 time `expiration` passed? An unreadable one counts as passed."""
    if not expiration:
        return False
    try:
        when = datetime.datetime.fromisoformat(expiration.replace("Z", "+00:00"))
    except ValueError:
        return True
    if when.tzinfo is None:
        return True
    return (now or datetime.datetime.now(datetime.timezone.utc)) >= when


def with_authenticated_group(user):
    if user.name == "system:anonymous" or {AUTHENTICATED, UNAUTHENTICATED} & set(user.groups):
        return user
    return User(user.name, (*user.groups, AUTHENTICATED), user.uid, user.extra)


def unauthorized_status():
    """The body of a 401, as the real API server sends it."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "Unauthorized", "reason": "Unauthorized", "code": 401}
