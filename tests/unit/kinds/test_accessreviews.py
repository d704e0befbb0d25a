"""SelfSubjectAccessReviews and SubjectAccessReviews: answered by the authorizer, never
stored (kfs/apiserver/kinds/selfsubjectaccessreview.py, subjectaccessreview.py)."""
from kfs.apiserver import kinds
from kfs.apiserver.authn import User
from kfs.apiserver.rbac import Authorizer

READ_PODS = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
             "metadata": {"name": "read"},
             "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]}
BINDING = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
           "metadata": {"name": "read"},
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "read"},
           "subjects": [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}]}
AUTHORIZER = Authorizer(lambda kind: {"ClusterRole": [READ_PODS], "ClusterRoleBinding": [BINDING]}.get(kind, []))
LIST_PODS = {"resourceAttributes": {"verb": "list", "resource": "pods", "namespace": "default"}}


def test_a_self_subject_access_review_answers_for_the_requesting_user():
    review = kinds.lookup("authorization.k8s.io/v1", "SelfSubjectAccessReview")
    assert review.review(AUTHORIZER, User("alice"), LIST_PODS)["allowed"] is True
    assert review.review(AUTHORIZER, User("bob"), LIST_PODS)["allowed"] is False


def test_a_subject_access_review_answers_for_the_user_it_names():
    review = kinds.lookup("authorization.k8s.io/v1", "SubjectAccessReview")
    assert review.review(AUTHORIZER, User("admin"), {**LIST_PODS, "user": "alice"})["allowed"] is True
    assert review.review(AUTHORIZER, User("admin"), {**LIST_PODS, "user": "bob"})["allowed"] is False


def test_reviews_are_never_stored():
    assert not any(kinds.lookup("authorization.k8s.io/v1", k).resource.stored
                   for k in ("SelfSubjectAccessReview", "SubjectAccessReview"))
