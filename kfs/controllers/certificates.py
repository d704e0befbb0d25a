"""What the certificate controllers share: reading a CertificateSigningRequest.

A CSR is approved or denied by a condition (``Approved``/``Denied``, status True), failed
by ``Failed``, and issued once ``status.certificate`` is set. Its ``spec.request`` is a
base64 PEM ``CERTIFICATE REQUEST``; `parse_request` gives the x509 object. The two
kubelet signers have rules of their own, checked before approving and before signing
(`validate_kubelet_client`, `validate_kubelet_serving`): a client certificate names
``system:node:<name>`` in ``system:nodes`` and nothing else; a serving certificate the
same subject with the node's DNS names or IPs, and only ``server auth``.

Mirrors pkg/controller/certificates/certificate_controller_utils.go
(IsCertificateRequestApproved, HasTrueCondition) and k8s.io/api's certificates/v1
helpers (ValidateKubeletClientCSR, ValidateKubeletServingCSR in
pkg/apis/certificates/v1/helpers.go).

What real Kubernetes does differently: the base certificate controller is one generic
loop (certificate_controller.go) that the approver, the signer, the cleaner and the
root-CA publisher plug a ``handler`` into; here each is a ``Controller`` of its own.
"""
import base64
import binascii

from kfs import meta, pki

TYPE_META = {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest"}
KUBELET_CLIENT = "kubernetes.io/kube-apiserver-client-kubelet"
KUBELET_SERVING = "kubernetes.io/kubelet-serving"
APISERVER_CLIENT = "kubernetes.io/kube-apiserver-client"
NODE_PREFIX, NODES_GROUP = "system:node:", "system:nodes"
CLIENT_USAGES = {"digital signature", "key encipherment", "client auth"}
SERVING_USAGES = {"digital signature", "key encipherment", "server auth"}


def has_true_condition(csr, type_):
    return any(c.get("type") == type_ and c.get("status", "True") == "True"
               for c in (csr.get("status") or {}).get("conditions") or [])


def approved_or_denied(csr):
    return has_true_condition(csr, "Approved") or has_true_condition(csr, "Denied")


def issued(csr):
    return bool((csr.get("status") or {}).get("certificate"))


def parse_request(csr):
    """The x509 request of `csr`; ValueError if there is none to read."""
    try:
        pem = base64.b64decode((csr.get("spec") or {}).get("request") or "", validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("spec.request is not base64") from None
    return pki.parse_csr(pem)


def condition(type_, reason, message):
    now = meta.now()
    return {"type": type_, "status": "True", "reason": reason, "message": message,
            "lastUpdateTime": now, "lastTransitionTime": now}


def validate_kubelet_client(x509_request, usages):
    """None if this is a kubelet client request, else why not (ValidateKubeletClientCSR)."""
    cn, orgs, ips, dns = pki.csr_identity(x509_request)
    problem = _node_subject(cn, orgs)
    if not problem and (ips or dns):
        problem = "DNS or IP subjectAltNames are not allowed"
    return problem or _usages(usages, CLIENT_USAGES, "client auth")


def validate_kubelet_serving(x509_request, usages):
    """None if this is a kubelet serving request, else why not (ValidateKubeletServingCSR)."""
    cn, orgs, ips, dns = pki.csr_identity(x509_request)
    problem = _node_subject(cn, orgs)
    if not problem and not ips and not dns:
        problem = "DNS or IP subjectAltName is required"
    return problem or _usages(usages, SERVING_USAGES, "server auth")


def _node_subject(cn, orgs):
    if orgs != [NODES_GROUP]:
        return f"subject organization is not {NODES_GROUP}"
    if not cn.startswith(NODE_PREFIX):
        return f'subject common name does not begin with "{NODE_PREFIX}"'
    return None


def _usages(usages, allowed, required):
    extra = set(usages or []) - allowed
    if extra:
        return f"usages did not match {sorted(allowed)}: {sorted(extra)} not allowed"
    if required not in (usages or []):
        return f"usages must include {required!r}"
    return None
