"""csrapproving (kfs/controllers/sarapprove.py) on FakeApi: kubelet client CSRs approved
when a SubjectAccessReview, answered by RBAC over the bootstrap policy, allows it."""
from kfs.apiserver import policy, rbac
from kfs.controllers.manager import SharedInformers
from kfs.controllers.sarapprove import NODE_MESSAGE, SELF_MESSAGE, SARApprover
from tests.controller_objects import csr
from tests.fakes import FakeApi

POLICY = policy.bootstrap_policy()
AUTHORIZER = rbac.Authorizer(lambda kind: [o for o in POLICY if o["kind"] == kind])


class ReviewingApi(FakeApi):
    """FakeApi that answers SubjectAccessReviews as the API server does: by RBAC."""

    def create(self, body, **kwargs):
        if body.get("kind") == "SubjectAccessReview":
            self.actions.append(("create", "subjectaccessreviews", "", body))
            return {**body, "status": AUTHORIZER.subject_access_review(body["spec"])}
        return super().create(body, **kwargs)


def setup(*objects):
    api = ReviewingApi(*objects)
    controller = SARApprover(api, SharedInformers(api, api.informer))
    api.replay()
    return api, controller


def conditions(api, name="csr-1"):
    return [(c["type"], c["reason"], c["message"])
            for c in api.get("certificatesigningrequests", name).get("status", {}).get(
                "conditions", [])]


def test_a_bootstrapping_kubelets_client_csr_is_approved_as_nodeclient():
    api, c = setup(csr())
    c.drain()
    assert conditions(api) == [("Approved", "AutoApproved", NODE_MESSAGE)]
    review = api.verbs("create")[-1][3]["spec"]
    assert review["user"] == "system:bootstrap:abcdef"
    assert review["resourceAttributes"]["subresource"] == "nodeclient"
    assert [a[0] for a in api.verbs() if a[1] == "certificatesigningrequests"][-1] == \
        "update/approval"


def test_a_nodes_renewal_of_its_own_certificate_is_approved_as_selfnodeclient():
    api, c = setup(csr(username="system:node:node3", groups=("system:nodes",)))
    c.drain()
    assert conditions(api) == [("Approved", "AutoApproved", SELF_MESSAGE)]


def test_a_node_asking_for_another_nodes_client_certificate_is_not_approved():
    api, c = setup(csr(username="system:node:node1", groups=("system:nodes",)))
    c.drain()
    assert conditions(api) == []
    assert [a[3]["spec"]["resourceAttributes"]["subresource"] for a in api.verbs("create")
            if a[1] == "subjectaccessreviews"] == ["nodeclient"]


def test_a_requester_rbac_does_not_allow_is_not_approved():
    api, c = setup(csr(username="alice", groups=("students", "system:authenticated")))
    c.drain()
    assert conditions(api) == []


def test_serving_csrs_are_left_to_someone_else():
    api, c = setup(csr(signer="kubernetes.io/kubelet-serving", ips=("192.168.62.13",),
                       usages=("digital signature", "server auth")))
    c.drain()
    assert conditions(api) == []
    assert not [a for a in api.verbs("create") if a[1] == "subjectaccessreviews"]


def test_a_client_csr_with_sans_or_a_foreign_organization_is_not_recognized():
    api, c = setup(csr(name="sans", ips=("10.0.0.1",)), csr(name="org", orgs=("admins",)))
    c.drain()
    assert conditions(api, "sans") == [] and conditions(api, "org") == []


def test_a_denied_csr_is_not_approved():
    denied = csr()
    denied["status"] = {"conditions": [{"type": "Denied", "status": "True", "reason": "No",
                                        "message": "no"}]}
    api, c = setup(denied)
    c.drain()
    assert conditions(api) == [("Denied", "No", "no")]
