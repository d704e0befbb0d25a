"""The csrsigning controller: signs approved CSRs with the cluster's CA.

``reconcile(name)`` of a CSR that is approved, not failed and not yet issued, for one of the
signers it knows:

- ``kubernetes.io/kube-apiserver-client-kubelet``: a kubelet's client certificate (checked
  as a kubelet client request: CN ``system:node:<name>``, O ``system:nodes``, no SANs);
- ``kubernetes.io/kubelet-serving``: a kubelet's serving certificate (the same subject,
  with DNS or IP SANs, ``server auth``);
- ``kubernetes.io/kube-apiserver-client``: any client certificate for the API server.

It checks the request against its signer's rules (a violation: the condition ``Failed``,
reason ``SignerValidationFailure``, and no certificate), then issues a certificate with the
request's subject, SANs and usages, signed by ``--cluster-signing-cert-file`` /
``--cluster-signing-key-file`` (the CA the API server trusts for client certificates and
the kubelets for their serving ones), valid for ``spec.expirationSeconds`` capped by
``--cluster-signing-duration`` (default one year, upstream's), and writes it into
``status.certificate`` through the ``status`` subresource. CSRs for other signers are left
for their own signers.

Mirrors pkg/controller/certificates/signer/signer.go (the CSR signing controller, its
``handle`` and ``duration``) and its per-signer validation in ``isKubeletServing`` ...

What real Kubernetes does differently: each signer can have its own CA
(``--cluster-signing-kubelet-client-cert-file``, ...), the CA files are re-read when they
change, and a certificate is backdated by 5 minutes only for the clock skew (as here) but
never outlives the CA.
"""
import base64
import logging

from kfs import pki
from kfs.controllers import certificates as certs
from kfs.controllers.manager import Controller

log = logging.getLogger("kfs.controllers.csrsigning")

ONE_YEAR = 365 * 24 * 3600
# signer -> how its requests are checked (None: fine), as upstream's per-signer validators
SIGNERS = {
    certs.KUBELET_CLIENT: certs.validate_kubelet_client,
    certs.KUBELET_SERVING: certs.validate_kubelet_serving,
    certs.APISERVER_CLIENT: lambda request, usages: None if "client auth" in (usages or [])
    else "usages must include 'client auth'",
}


def duration(csr, max_seconds):
    """How long the certificate lives: expirationSeconds if asked for, capped."""
    asked = (csr.get("spec") or {}).get("expirationSeconds")
    return min(asked, max_seconds) if asked else max_seconds


class CSRSigningController(Controller):
    """Handlers enqueue every CSR; `reconcile` signs the approved ones it may sign."""

    name = "csrsigning"

    def __init__(self, client, informers, recorder=None, ca_cert_file=None, ca_key_file=None,
                 signing_duration=ONE_YEAR, workers=1):
        super().__init__(client, informers, recorder)
        self.ca_cert_file, self.ca_key_file = ca_cert_file, ca_key_file
        self.signing_duration, self.workers = int(signing_duration), workers
        self.csrs = informers["certificatesigningrequests"].add_handler(
            lambda kind, csr, old: kind != "DELETED" and self.enqueue(csr))

    def reconcile(self, key):
        csr = self.csrs.get(key)
        if csr is None or not self.wants(csr):
            return None
        spec = csr.get("spec") or {}
        try:
            x509_request = certs.parse_request(csr)
        except ValueError as e:
            return self.fail(csr, f"unable to parse csr {key!r}: {e}")
        problem = SIGNERS[spec["signerName"]](x509_request, spec.get("usages"))
        if problem:
            return self.fail(csr, problem)
        pem = pki.sign_csr(x509_request, self.ca_cert_file, self.ca_key_file,
                           spec.get("usages") or [], duration(csr, self.signing_duration))
        new = {**csr, **certs.TYPE_META, "status": {**(csr.get("status") or {}),
                                 "certificate": base64.b64encode(pem).decode()}}
        self.client.replace(new, subresource="status")
        log.info("%s: signed for %s (%s, %ds)", key, spec.get("username"), spec["signerName"],
                 duration(csr, self.signing_duration))
        return None

    @staticmethod
    def wants(csr):
        return (certs.has_true_condition(csr, "Approved") and not certs.issued(csr)
                and not certs.has_true_condition(csr, "Failed")
                and (csr.get("spec") or {}).get("signerName") in SIGNERS)

    def fail(self, csr, message):
        log.info("%s: not signed: %s", csr["metadata"]["name"], message)
        status = dict(csr.get("status") or {})
        status["conditions"] = [*(status.get("conditions") or []),
                                certs.condition("Failed", "SignerValidationFailure", message)]
        self.client.replace({**csr, **certs.TYPE_META, "status": status}, subresource="status")
        return None
