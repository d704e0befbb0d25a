"""SelfSubjectRulesReviews: the rules RBAC grants the requesting user in a namespace, what
``kubectl auth can-i --list`` prints (kfs/apiserver/kinds/selfsubjectrulesreview.py)."""
from kfs.apiserver import kinds, policy
from kfs.apiserver.authn import User
from kfs.apiserver.rbac import Authorizer

ADMIN = User("kubernetes-admin", ("system:masters", "system:authenticated"))
ALICE = User("alice", ("dev", "system:authenticated"))


def bootstrap_authorizer(*extra):
    objects = policy.bootstrap_policy() + list(extra)
    return Authorizer(lambda kind: [o for o in objects if o["kind"] == kind])


def review(user, namespace="default", authorizer=None):
    rules = kinds.lookup("authorization.k8s.io/v1", "SelfSubjectRulesReview")
    return rules.review(authorizer or bootstrap_authorizer(), user, {"namespace": namespace})


def test_everyone_authenticated_may_review_themselves_and_discover_the_api():
    status = review(ALICE)
    assert {"verbs": ["create"], "apiGroups": ["authentication.k8s.io"],
            "resources": ["selfsubjectreviews"]} in status["resourceRules"]
    assert {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
            "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]} \
        in status["resourceRules"]
    assert any("/version" in r["nonResourceURLs"] for r in status["nonResourceRules"])
    assert status["incomplete"] is False


def test_an_admins_rules_are_cluster_admins_from_its_binding_and_the_everyones():
    status = review(ADMIN)
    assert status["resourceRules"][0] == {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}
    assert status["nonResourceRules"][0] == {"verbs": ["*"], "nonResourceURLs": ["*"]}
    assert len(status["resourceRules"]) > 1  # the everyone rules too, as upstream lists them


def test_a_role_binding_counts_only_in_its_namespace():
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "reader", "namespace": "team"},
            "rules": [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}]}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "alice-reads", "namespace": "team"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                           "name": "reader"},
               "subjects": [{"kind": "User", "name": "alice"}]}
    authorizer = bootstrap_authorizer(role, binding)
    reads = {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}
    assert reads in review(ALICE, "team", authorizer)["resourceRules"]
    assert reads not in review(ALICE, "default", authorizer)["resourceRules"]


def test_a_binding_to_a_missing_role_makes_the_answer_incomplete():
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": "dangling"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                           "name": "gone"},
               "subjects": [{"kind": "Group", "name": "dev"}]}
    status = review(ALICE, authorizer=bootstrap_authorizer(binding))
    assert status["incomplete"] is True
    assert status["evaluationError"] == 'clusterrole.rbac.authorization.k8s.io "gone" not found'


def test_rules_reviews_are_never_stored_and_anyone_may_create_them():
    rules = kinds.lookup("authorization.k8s.io/v1", "SelfSubjectRulesReview")
    assert not rules.resource.stored and rules.resource.verbs == ("create",)
    assert not rules.namespaced
