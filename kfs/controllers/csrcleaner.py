"""The csrcleaner controller: deletes CertificateSigningRequests nobody needs any more.

A CSR is a request, not a credential: once its certificate is issued (the kubelet has
written it to disk) or it was turned down, keeping it only fills the list. Every hour, and
whenever a CSR changes, ``reconcile(name)`` deletes a CSR that is

- **issued** and approved more than 1 hour ago, or whose certificate has expired;
- **denied** or **failed** more than 1 hour ago (by the condition's ``lastUpdateTime``);
- **pending** (no condition at all: ``kubectl get csr`` says Pending) 24 hours after it
  was created.

Deleting one is safe: a kubelet whose bootstrap CSR is gone before it fetched the
certificate makes a new one.

Mirrors pkg/controller/certificates/cleaner/cleaner.go (``handle``, ``isIssuedExpired``,
``isPendingPastDeadline``, ``isDeniedPastDeadline``, ``isFailedPastDeadline``,
``isIssuedPastDeadline``).

What real Kubernetes does differently: it lists the CSRs from its informer every hour
(``pollingInterval``) and has no event handler; a condition without ``lastUpdateTime`` is
never old there, while kfs falls back to the condition's ``lastTransitionTime``.
"""
import base64
import logging
import time

from cryptography import x509

from kfs import meta
from kfs.client import ApiError
from kfs.controllers import certificates as certs
from kfs.controllers.manager import Controller

log = logging.getLogger("kfs.controllers.csrcleaner")

POLLING_INTERVAL = 3600          # upstream's pollingInterval
APPROVED_EXPIRATION = 3600       # approvedExpiration: issued, 1 hour after approval
DENIED_EXPIRATION = 3600         # deniedExpiration
FAILED_EXPIRATION = 3600         # failedExpiration
PENDING_EXPIRATION = 24 * 3600   # pendingExpiration


def seconds(stamp):
    """An RFC 3339 time (as Kubernetes writes them) in seconds, or None if unreadable."""
    try:
        return meta.parse_time(stamp).timestamp()
    except (TypeError, ValueError):
        return None


def condition_time(csr, type_):
    """When the CSR's true condition `type_` was last updated (seconds), or None."""
    for c in (csr.get("status") or {}).get("conditions") or []:
        if c.get("type") == type_ and c.get("status", "True") == "True":
            return seconds(c.get("lastUpdateTime") or c.get("lastTransitionTime"))
    return None


def certificate_expired(csr, now):
    try:
        pem = base64.b64decode(csr["status"]["certificate"])
        cert = x509.load_pem_x509_certificate(pem)
    except (KeyError, TypeError, ValueError):
        return False  # upstream: an unreadable certificate is not judged expired
    return cert.not_valid_after_utc.timestamp() < now


def why_delete(csr, now):
    """Upstream's reason to clean `csr` at `now` (seconds), or None to keep it."""
    def past(type_, expiration):
        since = condition_time(csr, type_)
        return since is not None and now - since > expiration
    if certs.issued(csr) and certificate_expired(csr, now):
        return "its certificate has expired"
    if not (csr.get("status") or {}).get("conditions"):  # kubectl shows it Pending
        created = seconds(csr["metadata"].get("creationTimestamp"))
        old = created is not None and now - created > PENDING_EXPIRATION
        return "pending for more than 24h" if old else None
    if past("Denied", DENIED_EXPIRATION):
        return "denied more than 1h ago"
    if past("Failed", FAILED_EXPIRATION):
        return "failed more than 1h ago"
    if certs.issued(csr) and past("Approved", APPROVED_EXPIRATION):
        return "issued more than 1h ago"
    return None


class CSRCleaner(Controller):
    """Every CSR is looked at when it changes and once an hour; old ones are deleted."""

    name = "csrcleaner"
    resync_period = POLLING_INTERVAL

    def __init__(self, client, informers, recorder=None, wall=time.time):
        super().__init__(client, informers, recorder)
        self.wall = wall
        self.csrs = informers["certificatesigningrequests"].add_handler(
            lambda kind, csr, old: kind != "DELETED" and self.enqueue(csr))

    def resync(self):
        for csr in self.csrs.list():
            self.enqueue(csr)

    def reconcile(self, key):
        csr = self.csrs.get(key)
        if csr is None:
            return None
        reason = why_delete(csr, self.wall())
        if reason is None:
            return None
        log.info("cleaning CSR %s: %s", key, reason)
        try:
            self.client.delete("certificatesigningrequests", key,
                               uid=csr["metadata"].get("uid"))
        except ApiError as e:
            if e.code not in (404, 409):  # gone already, or a new CSR of the same name
                raise
        return None
