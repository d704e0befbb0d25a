"""RBAC: rule matching, bindings, the 403 wording and the access reviews, as upstream."""
from dataclasses import replace
from types import SimpleNamespace

import pytest

from kfs.apiserver.authn import User
from kfs.apiserver.policy import group, rule, urls, user
from kfs.apiserver.rbac import (Attributes, Authorizer, ReviewInvalid, forbidden_message,
                                rule_allows)

ALICE = User("alice", ("dev", "system:authenticated"))


def res(verb, resource, group="", sub="", name="", ns="", user=ALICE):
    return Attributes(user, verb, group, resource, sub, name, ns)


def path(verb, p, user=ALICE):
    return Attributes(user, verb, resource_request=False, path=p)


@pytest.mark.parametrize("rule, attrs, allowed", [
    (rule(["get"], ["pods"]), res("get", "pods"), True),
    (rule(["get"], ["pods"]), res("list", "pods"), False),
    (rule(["*"], ["pods"]), res("delete", "pods"), True),
    (rule(["get"], ["pods"]), res("get", "deployments", "apps"), False),
    (rule(["get"], ["pods"], ["apps"]), res("get", "pods"), False),
    (rule(["get"], ["deployments"], ["*"]), res("get", "deployments", "apps"), True),
    (rule(["get"], ["*"]), res("get", "pods", sub="log"), True),
    # a subresource is its own resource: "pods" does not give "pods/log"
    (rule(["get"], ["pods"]), res("get", "pods", sub="log"), False),
    (rule(["get"], ["pods/log"]), res("get", "pods", sub="log"), True),
    (rule(["get"], ["pods/log"]), res("get", "pods"), False),
    (rule(["update"], ["*/scale"], ["apps"]), res("update", "deployments", "apps", "scale"), True),
    (rule(["update"], ["*/scale"], ["apps"]), res("update", "deployments", "apps", "status"),
     False),
    (rule(["update"], ["*/scale"], ["apps"]), res("update", "deployments", "apps"), False),
    (rule(["get"], ["nodes"], names=["n1"]), res("get", "nodes", name="n1"), True),
    (rule(["get"], ["nodes"], names=["n1"]), res("get", "nodes", name="n2"), False),
    # resourceNames cannot allow a list: it has no name
    (rule(["list"], ["nodes"], names=["n1"]), res("list", "nodes"), False),
    (urls(["get"], "/healthz"), path("get", "/healthz"), True),
    (urls(["get"], "/healthz"), path("get", "/healthz/etcd"), False),
    (urls(["get"], "/healthz/*"), path("get", "/healthz/etcd"), True),
    (urls(["get"], "/apis*"), path("get", "/apisomething"), True),
    (urls(["get"], "*"), path("get", "/anything"), True),
    (urls(["get"], "/healthz"), path("post", "/healthz"), False),
    # a non-resource rule never allows a resource request, nor the other way round
    (urls(["*"], "*"), res("get", "pods"), False),
    (rule(["*"], ["*"], ["*"]), path("get", "/healthz"), False),
])
def test_a_rule_allows_exactly_what_it_names(rule, attrs, allowed):
    assert rule_allows(attrs, rule) is allowed


# -- bindings ---------------------------------------------------------------------------------

def meta(name, ns=None):
    return {"name": name, **({"namespace": ns} if ns else {})}


def role(kind, name, rules, ns=None):
    return {"kind": kind, "metadata": meta(name, ns), "rules": rules}


def binding(kind, name, role_ref, subjects, ns=None):
    """`role_ref` is "ClusterRole/name" or "Role/name"."""
    ref_kind, ref_name = role_ref.split("/")
    return {"kind": kind, "metadata": meta(name, ns), "subjects": subjects,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": ref_kind,
                        "name": ref_name}}


def crb(name, role_ref, *subjects):
    return binding("ClusterRoleBinding", name, role_ref, list(subjects))


def rb(ns, name, role_ref, *subjects):
    return binding("RoleBinding", name, role_ref, list(subjects), ns)


READ_PODS = [rule(["get", "list"], ["pods"])]
READER = role("ClusterRole", "read", READ_PODS)
SA = "ServiceAccount"


def authorizer(*objects):
    return Authorizer(lambda kind: [o for o in objects if o["kind"] == kind])


def test_nothing_is_allowed_without_a_binding():
    assert authorizer(READER).authorize(res("get", "pods", ns="default")) == (False, "")


def test_a_cluster_role_binding_grants_in_every_namespace_and_names_itself():
    a = authorizer(READER, crb("alice-read", "ClusterRole/read", user("alice")))
    assert a.authorize(res("list", "pods", ns="kube-system")) == (
        True, 'RBAC: allowed by ClusterRoleBinding "alice-read" of ClusterRole "read" '
              'to User "alice"')
    assert a.authorize(res("list", "pods"))[0]


def test_a_role_binding_of_a_cluster_role_grants_only_in_its_namespace():
    a = authorizer(READER, rb("team", "rb", "ClusterRole/read", group("dev")))
    assert a.authorize(res("get", "pods", ns="team")) == (
        True, 'RBAC: allowed by RoleBinding "rb/team" of ClusterRole "read" to Group "dev"')
    assert not a.authorize(res("get", "pods", ns="other"))[0]
    assert not a.authorize(res("list", "pods"))[0]  # nor at the cluster scope


def test_a_role_binding_uses_the_role_of_its_own_namespace():
    a = authorizer(role("Role", "read", READ_PODS, ns="team"), role("Role", "read", [], ns="other"),
                   rb("team", "rb", "Role/read", user("alice")),
                   rb("other", "rb", "Role/read", user("alice")))
    assert a.authorize(res("get", "pods", ns="team"))[0]
    assert not a.authorize(res("get", "pods", ns="other"))[0]


@pytest.mark.parametrize("subject, user_name, groups, allowed", [
    (user("alice"), "alice", (), True),
    (user("alice"), "bob", ("alice",), False),
    (group("dev"), "bob", ("dev",), True),
    (group("dev"), "dev", (), False),  # a user named like a group is not in it
    ({"kind": SA, "name": "builder", "namespace": "team"}, "system:serviceaccount:team:builder",
     (), True),
    # without a namespace the subject means the binding's own namespace
    ({"kind": SA, "name": "builder"}, "system:serviceaccount:team:builder", (), True),
    ({"kind": SA, "name": "builder"}, "system:serviceaccount:other:builder", (), False),
    ({"kind": "Robot", "name": "alice"}, "alice", (), False),
])
def test_subjects_name_users_groups_and_service_accounts(subject, user_name, groups, allowed):
    a = authorizer(READER, rb("team", "rb", "ClusterRole/read", subject))
    attrs = res("get", "pods", ns="team", user=User(user_name, groups))
    assert a.authorize(attrs)[0] is allowed


def test_a_service_account_reason_names_it_with_its_namespace():
    a = authorizer(READER, rb("team", "rb", "ClusterRole/read", {"kind": SA, "name": "builder"}))
    attrs = res("get", "pods", ns="team", user=User("system:serviceaccount:team:builder"))
    assert a.authorize(attrs)[1] == ('RBAC: allowed by RoleBinding "rb/team" of ClusterRole '
                                     '"read" to ServiceAccount "builder/team"')


def test_a_binding_to_a_missing_role_denies_and_says_which_role():
    a = authorizer(crb("b", "ClusterRole/gone", user("alice")),
                   rb("t", "rb", "Role/nope", user("alice")))
    assert a.authorize(res("get", "pods")) == (
        False, 'RBAC: clusterrole.rbac.authorization.k8s.io "gone" not found')
    assert a.authorize(res("get", "pods", ns="t")) == (
        False, 'RBAC: [clusterrole.rbac.authorization.k8s.io "gone" not found, '
               'role.rbac.authorization.k8s.io "nope" not found]')


def test_system_masters_may_do_anything_even_without_bindings():
    admin = User("kubernetes-admin", ("system:masters", "system:authenticated"))
    assert authorizer().authorize(res("delete", "nodes", name="n1", user=admin)) == (True, "")
    assert authorizer().authorize(path("get", "/metrics", user=admin))[0]


# -- the 403 ------------------------------------------------------------------------------------

NODE1 = User("system:node:node1", ("system:nodes", "system:authenticated"))


@pytest.mark.parametrize("attrs, message", [
    (res("list", "pods", ns="default", user=NODE1),
     'pods is forbidden: User "system:node:node1" cannot list resource "pods" in API group "" '
     'in the namespace "default"'),
    (res("get", "nodes", name="node1", user=User("x")),
     'nodes "node1" is forbidden: User "x" cannot get resource "nodes" in API group "" '
     'at the cluster scope'),
    (res("get", "pods", sub="log", name="web-1", ns="default"),
     'pods "web-1" is forbidden: User "alice" cannot get resource "pods/log" in API group "" '
     'in the namespace "default"'),
    (res("patch", "deployments", "apps", sub="scale", name="web", ns="prod"),
     'deployments.apps "web" is forbidden: User "alice" cannot patch resource '
     '"deployments/scale" in API group "apps" in the namespace "prod"'),
    (res("list", "clusterroles", "rbac.authorization.k8s.io"),
     'clusterroles.rbac.authorization.k8s.io is forbidden: User "alice" cannot list resource '
     '"clusterroles" in API group "rbac.authorization.k8s.io" at the cluster scope'),
    (path("get", "/healthz", user=User("x")), 'forbidden: User "x" cannot get path "/healthz"'),
    (res("get", "pods", name="<b>", ns="default", user=User("a&b")),
     'pods "<b>" is forbidden: User "a&amp;b" cannot get resource "pods" in API group "" '
     'in the namespace "default"'),
])
def test_the_forbidden_message_is_the_real_api_servers_word_for_word(attrs, message):
    assert forbidden_message(attrs) == message


def test_a_reason_is_appended_after_a_colon():
    why = 'RBAC: role.rbac.authorization.k8s.io "r" not found'
    assert forbidden_message(path("get", "/x"), why) == \
        f'forbidden: User "alice" cannot get path "/x": {why}'


def test_attributes_are_read_from_a_request_info():
    info = SimpleNamespace(verb="get", api_group="apps", resource="deployments",
                           subresource="scale", name="web", namespace="prod",
                           resource_request=True, api_version="v1",
                           path="/apis/apps/v1/namespaces/prod/deployments/web/scale")
    assert Attributes.of(ALICE, info) == replace(
        res("get", "deployments", "apps", "scale", "web", "prod"), path=info.path, api_version="v1")


# -- access reviews ---------------------------------------------------------------------------

HEALTHZ = urls(["get"], "/healthz")


@pytest.fixture
def reviews():
    return authorizer(role("ClusterRole", "read", READ_PODS + [HEALTHZ]),
                      rb("team", "rb", "ClusterRole/read", group("dev")))


def can_i(verb, resource, ns):
    return {"resourceAttributes": {"namespace": ns, "verb": verb, "resource": resource}}


def can_i_path(verb, p):
    return {"nonResourceAttributes": {"path": p, "verb": verb}}


def test_can_i_answers_with_allowed_and_the_granting_binding(reviews):
    assert reviews.self_subject_access_review(ALICE, can_i("list", "pods", "team")) == {
        "allowed": True,
        "reason": 'RBAC: allowed by RoleBinding "rb/team" of ClusterRole "read" to Group "dev"'}
    assert reviews.self_subject_access_review(ALICE, can_i("list", "pods", "default")) == {
        "allowed": False}


def test_can_i_on_a_path_uses_non_resource_attributes(reviews):
    # a path has no namespace, so a RoleBinding never grants it
    assert not reviews.self_subject_access_review(ALICE, can_i_path("get", "/healthz"))["allowed"]
    a = authorizer(role("ClusterRole", "h", [HEALTHZ]), crb("h", "ClusterRole/h", group("dev")))
    assert a.self_subject_access_review(ALICE, can_i_path("get", "/healthz"))["allowed"]


@pytest.mark.parametrize("spec, field", [
    ({}, "spec.resourceAttributes"),
    ({**can_i("get", "pods", ""), **can_i_path("get", "/")}, "spec.nonResourceAttributes"),
])
def test_a_review_must_name_exactly_one_kind_of_attributes(reviews, spec, field):
    with pytest.raises(ReviewInvalid) as e:
        reviews.self_subject_access_review(ALICE, spec)
    assert e.value.field == field


def test_a_subject_access_review_asks_for_another_user(reviews):
    spec = {"user": "bob", "groups": ["dev"], **can_i("get", "pods", "team")}
    assert reviews.subject_access_review(spec)["allowed"]
    assert not reviews.subject_access_review({**spec, "groups": []})["allowed"]
    with pytest.raises(ReviewInvalid, match="at least one of user or group must be specified"):
        reviews.subject_access_review(can_i("get", "pods", "team"))


def test_can_i_list_shows_the_rules_that_apply_in_the_namespace(reviews):
    assert reviews.self_subject_rules_review(ALICE, {"namespace": "team"}) == {
        "resourceRules": [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}],
        "nonResourceRules": [HEALTHZ],
        "incomplete": False}
    assert reviews.self_subject_rules_review(ALICE, {"namespace": "other"})["resourceRules"] == []
