"""The csrapproving controller: approves kubelets' client CSRs that RBAC says may be.

A joining kubelet (authenticated by a bootstrap token) and a kubelet renewing its client
certificate both create a CertificateSigningRequest for the signer
``kubernetes.io/kube-apiserver-client-kubelet``. ``reconcile(name)`` of a CSR that is neither
approved, denied nor issued:

1. parse its request; a request that cannot be read is left alone;
2. try each recognizer: ``selfnodeclient`` (a kubelet client CSR whose requester *is* the
   node it names: ``spec.username`` equals the CN, a renewal) and ``nodeclient`` (any
   kubelet client CSR: a new node);
3. for a recognized one, ask the API server a **SubjectAccessReview**: may the requester
   (``spec.username``, ``groups``, ``uid``, ``extra``) ``create`` the virtual subresource
   ``certificatesigningrequests/<selfnodeclient|nodeclient>``? kubeadm's bindings say
   yes for the bootstrap tokens' group (nodeclient) and for ``system:nodes``
   (selfnodeclient);
4. if allowed: the condition ``Approved`` (reason ``AutoApproved``), written through the
   ``approval`` subresource. If not, nothing: a person may still ``kubectl certificate
   approve`` it.

Serving CSRs (``kubernetes.io/kubelet-serving``) are **not** approved here, as upstream:
nothing in the request proves that the node owns the names and addresses it asks for. The
lab approves them itself after checking them against the machine (``kfs lab add-node``),
as kubelet-csr-approver does in real clusters.

Mirrors pkg/controller/certificates/approver/sarapprove.go.

What real Kubernetes does differently: the recognizers also check that the CSR's usages
and subject match exactly (the same checks, here `certificates.validate_kubelet_client`).
(Old requests are deleted by csrcleaner, ``csrcleaner.py``, as upstream's cleaner does.)
"""
import logging

from kfs import pki
from kfs.controllers import certificates as certs
from kfs.controllers.manager import Controller

log = logging.getLogger("kfs.controllers.csrapproving")

SELF_MESSAGE = "Auto approving self kubelet client certificate after SubjectAccessReview."
NODE_MESSAGE = "Auto approving kubelet client certificate after SubjectAccessReview."


def is_node_client(csr, x509_request):
    spec = csr.get("spec") or {}
    return (spec.get("signerName") == certs.KUBELET_CLIENT
            and certs.validate_kubelet_client(x509_request, spec.get("usages")) is None)


def is_self_node_client(csr, x509_request):
    cn = pki.csr_identity(x509_request)[0]
    return is_node_client(csr, x509_request) and (csr.get("spec") or {}).get("username") == cn


# (recognize, subresource of the permission, message): upstream's recognizers(), in order
RECOGNIZERS = [(is_self_node_client, "selfnodeclient", SELF_MESSAGE),
               (is_node_client, "nodeclient", NODE_MESSAGE)]


def subject_access_review(csr, subresource):
    """The review the approver asks: may the requester create this virtual subresource?"""
    spec = csr.get("spec") or {}
    review = {"user": spec.get("username", ""), "groups": spec.get("groups") or [],
              "resourceAttributes": {"group": "certificates.k8s.io", "version": "*",
                                     "resource": "certificatesigningrequests",
                                     "subresource": subresource, "verb": "create"}}
    if spec.get("uid"):
        review["uid"] = spec["uid"]
    if spec.get("extra"):
        review["extra"] = spec["extra"]
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "metadata": {}, "spec": review}


class SARApprover(Controller):
    """Handlers enqueue every CSR; `reconcile` approves what RBAC allows."""

    name = "csrapproving"

    def __init__(self, client, informers, recorder=None, workers=1):
        super().__init__(client, informers, recorder)
        self.workers = workers
        self.csrs = informers["certificatesigningrequests"].add_handler(
            lambda kind, csr, old: kind != "DELETED" and self.enqueue(csr))

    def reconcile(self, key):
        csr = self.csrs.get(key)
        if csr is None or certs.issued(csr) or certs.approved_or_denied(csr):
            return None
        try:
            x509_request = certs.parse_request(csr)
        except ValueError as e:
            log.info("%s: unable to parse the request: %s", key, e)
            return None
        tried = []
        for recognize, subresource, message in RECOGNIZERS:
            if not recognize(csr, x509_request):
                continue
            tried.append(subresource)
            if self.authorize(csr, subresource):
                self.approve(csr, message)
                return None
        if tried:
            log.info("%s: recognized as %s but the SubjectAccessReview was not approved",
                     key, tried)
        return None

    def authorize(self, csr, subresource):
        answer = self.client.create(subject_access_review(csr, subresource))
        return bool((answer.get("status") or {}).get("allowed"))

    def approve(self, csr, message):
        new = {**csr, **certs.TYPE_META, "status": dict(csr.get("status") or {})}
        new["status"]["conditions"] = [*(new["status"].get("conditions") or []),
                                       certs.condition("Approved", "AutoApproved", message)]
        self.client.replace(new, subresource="approval")  # a conflict: the queue retries
        log.info("%s: approved (%s)", csr["metadata"]["name"], message)
