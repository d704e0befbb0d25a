"""SelfSubjectReviews: who the requesting user is, what ``kubectl auth whoami`` prints
(kfs/apiserver/kinds/selfsubjectreview.py)."""
from kfs.apiserver import kinds
from kfs.apiserver.authn import User
from kfs.apiserver.rbac import Authorizer

NOBODY = Authorizer(lambda kind: [])


def whoami(user):
    rules = kinds.lookup("authentication.k8s.io/v1", "SelfSubjectReview")
    return rules.review(NOBODY, user, {})


def test_a_review_answers_with_the_user_authentication_saw():
    alice = User("alice", ("dev", "system:authenticated"), "1001")
    assert whoami(alice) == {"userInfo": {"username": "alice", "uid": "1001",
                                          "groups": ["dev", "system:authenticated"]}}


def test_extra_attributes_are_lists_of_values_and_an_empty_uid_is_left_out():
    admin = User("kubernetes-admin", ("system:masters",),
                 extra={"authentication.kubernetes.io/credential-id": ("X509SHA256=ab",)})
    assert whoami(admin)["userInfo"] == {
        "username": "kubernetes-admin", "groups": ["system:masters"],
        "extra": {"authentication.kubernetes.io/credential-id": ["X509SHA256=ab"]}}


def test_self_subject_reviews_are_never_stored_and_live_in_authentication_k8s_io():
    rules = kinds.lookup("authentication.k8s.io/v1", "SelfSubjectReview")
    assert rules.resource.group == "authentication.k8s.io"
    assert not rules.resource.stored and rules.resource.verbs == ("create",)
