"""CertificateSigningRequests: the requester from the user, what each subresource may
change, validation naming the field, the printed row
(kfs/apiserver/kinds/certificatesigningrequest.py)."""
import base64
import copy

from kfs import pki
from kfs.apiserver import kinds
from kfs.apiserver.authn import User
from tests.unit.kind_objects import cells, column_names, created, errors, named, updated

APPROVED = {"type": "Approved", "status": "True", "reason": "KubectlApprove", "message": "ok"}
DENIED = {"type": "Denied", "status": "True", "reason": "No", "message": "no"}


def request(cn="system:node:node3", orgs=("system:nodes",)):
    return base64.b64encode(pki.make_csr(pki.new_key(), cn, orgs)).decode()


def csr(**spec):
    return {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
            "metadata": {"name": "node-csr-1"},
            "spec": {"request": request(), "usages": ["digital signature", "client auth"],
                     "signerName": "kubernetes.io/kube-apiserver-client-kubelet", **spec}}


def kind():
    return kinds.lookup("certificates.k8s.io/v1", "CertificateSigningRequest")


def test_a_valid_csr_has_no_causes():
    assert errors(csr(expirationSeconds=3600)) == []


def test_create_takes_the_requester_from_the_user_not_the_body():
    obj = csr(username="system:admin", groups=["system:masters"])
    obj["status"] = {"conditions": [APPROVED]}
    kind().prepare_for_create_as(obj, User("system:bootstrap:abcdef",
                                           ("system:bootstrappers", "system:authenticated")))
    obj = created(obj)
    assert obj["spec"]["username"] == "system:bootstrap:abcdef"
    assert obj["spec"]["groups"] == ["system:bootstrappers", "system:authenticated"]
    assert "status" not in obj


def test_the_request_must_be_a_pem_certificate_request():
    bad = csr(request=base64.b64encode(b"-----BEGIN CERTIFICATE-----\nx\n").decode())
    assert [(f, m) for f, _, m in errors(bad)] == [
        ("spec.request", "Invalid value: []byte{...}: PEM block type must be CERTIFICATE REQUEST")]
    assert [f for f, _, _ in errors(csr(request=""))] == ["spec.request"]


def test_signer_name_usages_and_expiration_are_checked():
    obj = csr(signerName="nodomain", usages=["client auth", "flying"], expirationSeconds=60)
    fields = {f: m for f, _, m in errors(obj)}
    assert "fully qualified domain and path" in fields["spec.signerName"]
    assert fields["spec.usages[1]"].startswith('Unsupported value: "flying"')
    assert fields["spec.expirationSeconds"] == ("Invalid value: 60: may not specify a duration "
                                                "less than 600 seconds (10 minutes)")
    assert [f for f, _, _ in errors(csr(signerName=None, usages=[]))] == [
        "spec.signerName", "spec.usages"]


def test_approved_and_denied_are_mutually_exclusive_and_true():
    old = created(csr())
    both = updated(old, lambda n: n.setdefault("status", {}).update(
        conditions=[APPROVED, DENIED]), "approval")
    assert any("mutually exclusive" in m for _, _, m in errors(both, old, "approval"))
    false = updated(old, lambda n: n.setdefault("status", {}).update(
        conditions=[{**APPROVED, "status": "False"}]), "approval")
    assert [f for f, _, _ in errors(false, old, "approval")] == ["status.conditions[0].status"]


def test_approval_changes_only_the_approval_conditions():
    old = created(csr())
    new = updated(old, lambda n: (n["spec"].update(username="evil"), n.setdefault(
        "status", {}).update(conditions=[APPROVED], certificate="eA==")), "approval")
    assert new["spec"] == old["spec"]
    assert [c["type"] for c in new["status"]["conditions"]] == ["Approved"]
    assert "certificate" not in new["status"]
    assert new["status"]["conditions"][0]["lastUpdateTime"]


def test_status_writes_the_certificate_but_keeps_the_approval():
    old = created(csr())
    old["status"] = {"conditions": [APPROVED]}
    cert = base64.b64encode(b"-----BEGIN CERTIFICATE-----\n...\n").decode()
    new = updated(old, lambda n: n["status"].update(conditions=[], certificate=cert), "status")
    assert new["status"]["certificate"] == cert
    assert [c["type"] for c in new["status"]["conditions"]] == ["Approved"]
    assert errors(new, old, "status") == []


def test_an_issued_certificate_and_an_approval_cannot_be_taken_back():
    cert = base64.b64encode(b"-----BEGIN CERTIFICATE-----\n...\n").decode()
    old = created(csr())
    old["status"] = {"conditions": [APPROVED], "certificate": cert}
    new = copy.deepcopy(old)
    new["status"]["certificate"] = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nz\n").decode()
    assert [f for f, _, _ in errors(new, old, "status")] == ["status.certificate"]
    new = copy.deepcopy(old)
    new["status"]["conditions"] = []
    assert [f for f, _, _ in errors(new, old, "approval")] == ["status.conditions"]


def test_updates_of_the_main_resource_change_metadata_only():
    old = created(csr())
    new = updated(old, lambda n: (n["metadata"].setdefault("labels", {}).update(a="b"),
                                  n["spec"].update(signerName="example.com/x"),
                                  n.update(status={"conditions": [APPROVED]})))
    assert new["spec"] == old["spec"] and "status" not in new
    assert new["metadata"]["labels"] == {"a": "b"}


def test_csrs_have_upstreams_columns():
    assert column_names("certificatesigningrequests") == (
        ["Name", "Age", "SignerName", "Requestor", "RequestedDuration", "Condition"], [])


def test_the_row_says_pending_approved_issued_denied_failed():
    def row(status=None, **spec):
        obj = named("node-csr-1", spec={"signerName": "kubernetes.io/kubelet-serving",
                                        "username": "system:node:node3", **spec})
        obj["metadata"].pop("namespace")
        if status:
            obj["status"] = status
        return cells("certificatesigningrequests", obj)
    assert row() == ["node-csr-1", "5m", "kubernetes.io/kubelet-serving", "system:node:node3",
                     "<none>", "Pending"]
    assert row({"conditions": [APPROVED], "certificate": "eA=="}, expirationSeconds=3600)[4:] == [
        "60m", "Approved,Issued"]
    assert row({"conditions": [DENIED]})[-1] == "Denied"
    assert row({"conditions": [APPROVED, {"type": "Failed", "status": "True"}]})[-1] == \
        "Approved,Failed"
