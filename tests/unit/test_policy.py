"""The bootstrap policy: each component may do what its loop needs, and no more."""
import copy

import pytest

from kfs.apiserver.authn import User
from kfs.apiserver.policy import bootstrap_policy, reconcile
from kfs.apiserver.rbac import Attributes, Authorizer, forbidden_message

AUTH = "system:authenticated"
ADMIN = User("kubernetes-admin", ("system:masters", AUTH))
SCHEDULER = User("system:kube-scheduler", (AUTH,))
CM = User("system:kube-controller-manager", (AUTH,))
NODE = User("system:node:node1", ("system:nodes", AUTH))
PROXY = User("system:kube-proxy", (AUTH,))
FLANNEL = User("flanneld", (AUTH,))
CCM = User("system:cloud-controller-manager", (AUTH,))
NOBODY = User("alice", (AUTH,))


def policy_authorizer():
    objects = bootstrap_policy()
    # the RBAC authorizer alone: no privileged-group shortcut, so cluster-admin's binding is tested
    return Authorizer(lambda kind: [o for o in objects if o["kind"] == kind], privileged_groups=())


def res(user, verb, resource, ns="", group="", sub="", name=""):
    return Attributes(user, verb, group, resource, sub, name, ns)


def url(user, verb, path):
    return Attributes(user, verb, resource_request=False, path=path)


APPS, COORD = "apps", "coordination.k8s.io"

CASES = [
    # admin
    (res(ADMIN, "delete", "nodes", name="node1"), True),
    (res(ADMIN, "create", "clusterrolebindings", group="rbac.authorization.k8s.io"), True),
    (res(ADMIN, "create", "pods", "default", sub="eviction", name="web-1"), True),  # drain
    (url(ADMIN, "get", "/metrics"), True),
    # everyone signed in: discovery, health, can-i
    *[(url(NOBODY, "get", p), True) for p in
      ("/api", "/api/v1", "/apis", "/apis/apps/v1", "/openapi/v2", "/version", "/healthz",
       "/livez", "/readyz")],
    (url(NOBODY, "post", "/api"), False),
    (url(NOBODY, "get", "/metrics"), False),
    (res(NOBODY, "create", "selfsubjectaccessreviews", group="authorization.k8s.io"), True),
    (res(NOBODY, "create", "selfsubjectrulesreviews", group="authorization.k8s.io"), True),
    (res(NOBODY, "create", "subjectaccessreviews", group="authorization.k8s.io"), False),
    (res(NOBODY, "list", "pods", "default"), False),
    # scheduler
    (res(SCHEDULER, "watch", "pods"), True),
    (res(SCHEDULER, "list", "nodes"), True),
    (res(SCHEDULER, "create", "pods", "default", sub="binding", name="web-1"), True),
    (res(SCHEDULER, "patch", "pods", "default", sub="status", name="web-1"), True),
    (res(SCHEDULER, "create", "events", "default"), True),
    (res(SCHEDULER, "create", "leases", "kube-system", COORD), True),
    (res(SCHEDULER, "update", "leases", "kube-system", COORD, name="kube-scheduler"), True),
    (res(SCHEDULER, "update", "leases", "kube-system", COORD, name="kube-controller-manager"),
     False),
    (res(SCHEDULER, "create", "leases", "kube-node-lease", COORD), False),
    (res(SCHEDULER, "create", "pods", "default"), False),
    (res(SCHEDULER, "delete", "pods", "default", name="web-1"), False),
    (res(SCHEDULER, "update", "nodes", name="node1"), False),
    (res(SCHEDULER, "list", "deployments", group=APPS), False),
    # controller manager
    (res(CM, "watch", "deployments", group=APPS), True),
    (res(CM, "update", "deployments", "default", APPS, "status", "web"), True),
    (res(CM, "create", "replicasets", "default", APPS), True),
    (res(CM, "delete", "replicasets", "default", APPS, name="web-1"), True),
    (res(CM, "patch", "replicasets", "default", APPS, "status", "web-1"), True),
    (res(CM, "create", "pods", "default"), True),
    (res(CM, "delete", "pods", "default", name="web-1"), True),
    (res(CM, "patch", "pods", "default", name="web-1"), True),
    (res(CM, "update", "pods", "default", sub="status", name="web-1"), True),
    (res(CM, "update", "endpoints", "default", name="web"), True),
    (res(CM, "create", "endpointslices", "default", "discovery.k8s.io"), True),
    (res(CM, "patch", "endpointslices", "default", "discovery.k8s.io", name="web-x"), True),
    (res(CM, "watch", "services"), True),
    (res(CM, "patch", "nodes", sub="status", name="node1"), True),
    (res(CM, "create", "events", "default"), True),
    (res(CM, "update", "leases", "kube-system", COORD, name="kube-controller-manager"), True),
    (res(CM, "watch", "poddisruptionbudgets", group="policy"), True),
    (res(CM, "update", "poddisruptionbudgets", "default", "policy", "status", "web"), True),
    (res(CM, "update", "poddisruptionbudgets", "default", "policy", name="web"), False),
    (res(CM, "delete", "certificatesigningrequests", group="certificates.k8s.io",
         name="csr-1"), True),                                      # csrcleaner
    (res(CM, "create", "certificatesigningrequests", group="certificates.k8s.io"), False),
    (res(CM, "create", "pods", "default", sub="eviction", name="web-1"), False),  # kubectl's
    (res(CM, "create", "deployments", "default", APPS), False),   # users create deployments
    (res(CM, "delete", "deployments", "default", APPS, name="web"), False),
    (res(CM, "update", "services", "default", name="web"), False),
    (res(CM, "delete", "nodes", name="node1"), False),
    (res(CM, "create", "pods", "default", sub="binding", name="web-1"), False),  # scheduler's job
    (res(CM, "update", "leases", "kube-system", COORD, name="kube-scheduler"), False),
    # kubelets
    (res(NODE, "watch", "pods"), True),
    (res(NODE, "create", "pods", "kube-system"), True),      # mirror pods
    (res(NODE, "delete", "pods", "default", name="web-1"), True),
    (res(NODE, "patch", "pods", "default", sub="status", name="web-1"), True),
    (res(NODE, "create", "nodes"), True),
    (res(NODE, "patch", "nodes", sub="status", name="node1"), True),
    (res(NODE, "list", "services"), True),
    (res(NODE, "create", "events", "default"), True),
    (res(NODE, "update", "leases", "kube-node-lease", COORD, name="node1"), True),
    (res(NODE, "update", "leases", "kube-system", COORD, name="kube-scheduler"), False),
    (res(NODE, "delete", "nodes", name="node2"), False),
    (res(NODE, "update", "pods", "default", name="web-1"), False),
    (res(NODE, "create", "pods", "default", sub="binding", name="web-1"), False),
    (res(NODE, "list", "replicasets", group=APPS), False),
    # proxy
    (res(PROXY, "watch", "services"), True),
    (res(PROXY, "list", "endpoints"), True),
    (res(PROXY, "watch", "endpointslices", group="discovery.k8s.io"), True),
    (res(PROXY, "delete", "endpointslices", "default", "discovery.k8s.io", name="web-x"), False),
    (res(PROXY, "get", "nodes", name="node1"), True),
    (res(PROXY, "create", "events", "default"), True),
    (res(PROXY, "get", "services", "default", name="web"), False),
    (res(PROXY, "update", "endpoints", "default", name="web"), False),
    (res(PROXY, "list", "pods"), False),
    # flannel
    (res(FLANNEL, "watch", "nodes"), True),
    (res(FLANNEL, "patch", "nodes", sub="status", name="node1"), True),
    (res(FLANNEL, "patch", "nodes", name="node1"), False),
    (res(FLANNEL, "list", "pods"), False),
    # cloud-controller-manager
    (res(CCM, "watch", "nodes"), True),
    (res(CCM, "update", "nodes", name="node1"), True),       # providerID, labels, taint off
    (res(CCM, "delete", "nodes", name="node2"), True),       # its machine is gone
    (res(CCM, "update", "nodes", sub="status", name="node1"), True),  # the cloud's addresses
    (res(CCM, "patch", "services", "default", name="web"), True),     # the finalizer
    (res(CCM, "patch", "services", "default", sub="status", name="web"), True),
    (res(CCM, "create", "events", "default"), True),
    (res(CCM, "list", "pods"), False),
    (res(CCM, "delete", "services", "default", name="web"), False),
]


@pytest.mark.parametrize("attrs, allowed", CASES, ids=[
    f"{a.user.name}-{a.verb}-{a.resource}{'/' + a.subresource if a.subresource else ''}"
    f"{a.path}-{a.namespace or 'cluster'}{'-' + a.name if a.name else ''}" for a, _ in CASES])
def test_each_component_may_do_what_its_loop_needs_and_no_more(attrs, allowed):
    assert policy_authorizer().authorize(attrs)[0] is allowed


def test_a_refused_scheduler_reads_as_the_real_api_server_says_it():
    attrs = res(SCHEDULER, "delete", "pods", "default", name="web-1")
    assert policy_authorizer().authorize(attrs) == (False, "")
    assert forbidden_message(attrs) == (
        'pods "web-1" is forbidden: User "system:kube-scheduler" cannot delete resource "pods" '
        'in API group "" in the namespace "default"')


def test_an_allowed_kubelet_request_names_the_binding():
    assert policy_authorizer().authorize(res(NODE, "watch", "pods"))[1] == (
        'RBAC: allowed by ClusterRoleBinding "system:node" of ClusterRole "system:node" '
        'to Group "system:nodes"')


def test_every_bootstrap_object_is_marked_as_upstreams_are():
    for obj in bootstrap_policy():
        assert obj["apiVersion"] == "rbac.authorization.k8s.io/v1"
        assert obj["metadata"]["labels"] == {"kubernetes.io/bootstrapping": "rbac-defaults"}
        assert obj["metadata"]["annotations"] == {
            "rbac.authorization.kubernetes.io/autoupdate": "true"}


def test_every_binding_refers_to_a_role_written_before_it():
    seen = set()
    for obj in bootstrap_policy():
        ns = obj["metadata"].get("namespace")
        if obj["kind"] in ("ClusterRole", "Role"):
            seen.add((obj["kind"], ns, obj["metadata"]["name"]))
        else:
            ref = obj["roleRef"]
            assert (ref["kind"], ns if ref["kind"] == "Role" else None, ref["name"]) in seen


def test_roles_live_only_in_the_system_namespaces():
    assert {o["metadata"].get("namespace") for o in bootstrap_policy()} == {
        None, "kube-system", "kube-node-lease"}


def test_each_call_returns_fresh_objects():
    first = bootstrap_policy()
    first[0]["rules"].clear()
    assert bootstrap_policy()[0]["rules"]


# -- reconcile ----------------------------------------------------------------------------------

def wanted(name):
    return next(o for o in bootstrap_policy() if o["metadata"]["name"] == name and
                o["kind"] == "ClusterRole")


def stored(obj, **meta):
    out = copy.deepcopy(obj)
    out["metadata"].update(resourceVersion="7", uid="u-1", **meta)
    return out


def test_reconcile_creates_what_is_missing_and_leaves_what_is_right():
    role = wanted("flannel")
    assert reconcile(None, role) == role
    assert reconcile(stored(role), role) is None


def test_reconcile_adds_back_a_removed_rule_and_keeps_additions():
    role = wanted("flannel")
    existing = stored(role)
    existing["rules"] = [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}]
    out = reconcile(existing, role)
    assert out["rules"] == existing["rules"] + role["rules"]
    assert out["metadata"]["resourceVersion"] == "7"


def test_reconcile_leaves_an_object_whose_autoupdate_is_false_alone():
    role = wanted("flannel")
    existing = stored(role, annotations={"rbac.authorization.kubernetes.io/autoupdate": "false"})
    existing["rules"] = []
    assert reconcile(existing, role) is None


def test_reconcile_replaces_a_binding_whose_role_ref_changed():
    crb = next(o for o in bootstrap_policy() if o["kind"] == "ClusterRoleBinding")
    existing = stored(crb)
    existing["roleRef"]["name"] = "other"
    assert reconcile(existing, crb) == crb
