"""CertificateSigningRequests (``certificates.k8s.io/v1``): "please sign my key", and the answer.

A kubelet joining with a bootstrap token cannot prove it is a node yet, so it asks: it
makes a key, puts a PEM ``CERTIFICATE REQUEST`` (CN ``system:node:<name>``, O
``system:nodes``) into ``spec.request``, names the signer
(``kubernetes.io/kube-apiserver-client-kubelet``) and creates the object. Someone approves
it (``kubectl certificate approve``, or the controller manager's csrapproving controller),
which adds the condition ``Approved`` through the ``approval`` subresource; a signer
(csrsigning) then writes ``status.certificate`` through the ``status`` subresource.

- **create** fills in who asked: ``spec.username``, ``uid``, ``groups`` and ``extra`` come
  from the authenticated user, never from the body (how the approver knows the requester);
  the status starts empty;
- **updates** of the main resource change metadata only; ``/approval`` changes only the
  Approved and Denied conditions; ``/status`` everything of the status but those;
- **validation**: a parseable request (one ``CERTIFICATE REQUEST`` PEM block), a signer
  name ``domain/path``, known usages, ``expirationSeconds`` of at least 600; conditions
  with a type, no duplicates, Approved and Denied exclusive and ``status: "True"``; once
  there, Approved or Denied and the certificate cannot be taken back;
- printed as ``NAME AGE SIGNERNAME REQUESTOR REQUESTEDDURATION CONDITION``
  (``Pending``, ``Approved,Issued``, ``Denied``, ``...,Failed``).

Mirrors pkg/registry/certificates/certificates/strategy.go (csrStrategy,
csrStatusStrategy, csrApprovalStrategy), pkg/apis/certificates/validation/validation.go
and printCertificateSigningRequest.

What real Kubernetes does differently: validation also checks the well-known signers'
restrictions at admission (the CertificateSigning and CertificateApproval plugins ask RBAC
whether the user may ``approve`` or ``sign`` for that signer name, which kfs's RBAC cannot
express yet: any user allowed to update ``certificatesigningrequests/approval`` may approve).
"""
import base64
import binascii
import copy

from kfs import meta, pki
from kfs.apiserver.kinds import Kind
from kfs.apiserver.tables import AGE, NAME, age, col, human_duration
from kfs.apiserver.validation.fields import (
    Go, dns1123_subdomain, duplicate, forbidden, invalid, not_supported, required)

KUBELET_CLIENT = "kubernetes.io/kube-apiserver-client-kubelet"
KUBELET_SERVING = "kubernetes.io/kubelet-serving"
APISERVER_CLIENT = "kubernetes.io/kube-apiserver-client"
APPROVED, DENIED, FAILED = "Approved", "Denied", "Failed"
APPROVAL_TYPES = (APPROVED, DENIED)
MIN_EXPIRATION = 600
USAGES = ("signing", "digital signature", "content commitment", "key encipherment",
          "key agreement", "data encipherment", "cert sign", "crl sign", "encipher only",
          "decipher only", "any", "server auth", "client auth", "code signing",
          "email protection", "s/mime", "ipsec end system", "ipsec tunnel", "ipsec user",
          "timestamping", "ocsp signing", "microsoft sgc", "netscape sgc")
SIGNER_FORMAT = "must be a fully qualified domain and path of the form 'example.com/signer-name'"

COLUMNS = [NAME, AGE,
           col("SignerName", description="SignerName indicates the requested signer."),
           col("Requestor", description="Name of the user who requested the certificate."),
           col("RequestedDuration", description="Requested duration of the issued "
               "certificate, in seconds."),
           col("Condition", description="The condition of the certificate signing request.")]


def decode(field_value):
    """The bytes of a ``[]byte`` field (base64 in JSON); ValueError if it is not base64."""
    try:
        return base64.b64decode(field_value or "", validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise ValueError("illegal base64 data") from None


def conditions(csr):
    return (csr.get("status") or {}).get("conditions") or []


def has_condition(csr, type_):
    return any(c.get("type") == type_ and c.get("status", "True") == "True"
               for c in conditions(csr))


def condition_text(csr):
    """What CONDITION prints: Approved/Denied/Pending, then ,Failed and ,Issued."""
    text = DENIED if has_condition(csr, DENIED) else (
        APPROVED if has_condition(csr, APPROVED) else "Pending")
    if has_condition(csr, FAILED):
        text += ",Failed"
    if (csr.get("status") or {}).get("certificate"):
        text += ",Issued"
    return text


class CertificateSigningRequest(Kind):
    api_version, kind = "certificates.k8s.io/v1", "CertificateSigningRequest"
    columns = COLUMNS
    status_subresources = ("approval",)

    def prepare_for_create_as(self, csr, user):
        """csrStrategy.PrepareForCreate: the requester is the authenticated user."""
        spec = csr.setdefault("spec", {})
        spec["username"] = user.name
        spec["groups"] = list(user.groups)
        spec.pop("uid", None)
        spec.pop("extra", None)
        if user.uid:
            spec["uid"] = user.uid
        if user.extra:
            spec["extra"] = {k: list(v) for k, v in user.extra.items()}

    def prepare_for_create(self, csr):
        csr.pop("status", None)

    def prepare_for_update(self, new, old):          # metadata only
        for field in ("spec", "status"):
            if field in old:
                new[field] = copy.deepcopy(old[field])
            else:
                new.pop(field, None)

    def prepare_for_status_update(self, new, old):   # all of the status but the approval
        status = new.setdefault("status", {})
        keep = [c for c in conditions(old) if c.get("type") in APPROVAL_TYPES]
        status["conditions"] = keep + [c for c in status.get("conditions") or []
                                       if c.get("type") not in APPROVAL_TYPES]
        _stamp(status["conditions"])

    def prepare_for_subresource_update(self, subresource, new, old):  # approval
        status = copy.deepcopy(old.get("status") or {})
        wanted = [c for c in conditions(new) if c.get("type") in APPROVAL_TYPES]
        status["conditions"] = wanted + [c for c in conditions(old)
                                         if c.get("type") not in APPROVAL_TYPES]
        _stamp(status["conditions"])
        new["status"] = status

    def validate(self, csr):
        spec, errs = csr.get("spec") or {}, []
        errs += _validate_request(spec)
        signer = spec.get("signerName")
        if not signer:
            errs.append(required("spec.signerName"))
        elif not _signer_ok(signer):
            errs.append(invalid("spec.signerName", signer, SIGNER_FORMAT))
        exp = spec.get("expirationSeconds")
        if exp is not None and (not isinstance(exp, int) or exp < MIN_EXPIRATION):
            errs.append(invalid("spec.expirationSeconds", exp, "may not specify a duration "
                                "less than 600 seconds (10 minutes)"))
        usages = spec.get("usages")
        if not usages:
            errs.append(required("spec.usages"))
        for i, u in enumerate(usages or []):
            if u not in USAGES:
                errs.append(not_supported(f"spec.usages[{i}]", u, USAGES))
        return errs + _validate_status(csr)

    def validate_update(self, new, old):
        return []   # the strategy kept spec and status

    def validate_status_update(self, new, old):
        return _validate_status(new) + _validate_kept(new, old)

    def validate_subresource_update(self, subresource, new, old):
        if subresource != "approval":
            return None
        return _validate_status(new) + _validate_kept(new, old)

    def print_row(self, csr, now):
        spec = csr.get("spec") or {}
        exp = spec.get("expirationSeconds")
        return [meta.name(csr), age(csr, now), spec.get("signerName") or "<none>",
                spec.get("username") or "", human_duration(exp) if exp else "<none>",
                condition_text(csr)]


def _stamp(conds):
    """lastUpdateTime and lastTransitionTime where the writer left them out."""
    now = meta.now()
    for c in conds:
        c.setdefault("status", "True")
        c.setdefault("lastUpdateTime", now)
        c.setdefault("lastTransitionTime", now)


def _signer_ok(signer):
    domain, _, path = signer.partition("/")
    return "." in domain and not dns1123_subdomain(domain) and all(path.split("/"))


def _validate_request(spec):
    if not spec.get("request"):
        return [required("spec.request")]
    try:
        pki.parse_csr(decode(spec["request"]))
    except ValueError as e:
        return [invalid("spec.request", Go("[]byte{...}"), str(e))]
    return []


def _validate_status(csr):
    errs, seen = [], set()
    conds = conditions(csr)
    for i, c in enumerate(conds):
        path = f"status.conditions[{i}]"
        t = c.get("type")
        if not t:
            errs.append(required(f"{path}.type"))
            continue
        if t in seen:
            errs.append(duplicate(f"{path}.type", t))
        seen.add(t)
        if t in APPROVAL_TYPES and c.get("status", "True") != "True":
            errs.append(not_supported(f"{path}.status", c.get("status"), ["True"]))
        elif c.get("status", "True") not in ("True", "False", "Unknown"):
            errs.append(not_supported(f"{path}.status", c.get("status"),
                                      ["False", "True", "Unknown"]))
    if APPROVED in seen and DENIED in seen:
        errs.append(invalid("status.conditions", Go("[]certificates.CertificateSigningRequest"
                                                    "Condition{...}"),
                            "Approved and Denied conditions are mutually exclusive"))
    cert = (csr.get("status") or {}).get("certificate")
    if cert:
        try:
            text = decode(cert).decode("ascii", "replace")
        except ValueError as e:
            return errs + [invalid("status.certificate", Go("<certificate data>"), str(e))]
        if "-----BEGIN CERTIFICATE-----" not in text:
            errs.append(invalid("status.certificate", Go("<certificate data>"),
                                "must contain at least one CERTIFICATE PEM block"))
    return errs


def _validate_kept(new, old):
    """Approved/Denied, once set, stay; an issued certificate may not change."""
    errs = []
    for t in APPROVAL_TYPES:
        if has_condition(old, t) and not has_condition(new, t):
            errs.append(forbidden("status.conditions", f"updates may not remove a condition "
                                  f"of type {t!r}"))
    old_cert = (old.get("status") or {}).get("certificate")
    if old_cert and (new.get("status") or {}).get("certificate") != old_cert:
        errs.append(forbidden("status.certificate", "updates may not modify existing "
                              "certificate content"))
    return errs


KIND = CertificateSigningRequest
