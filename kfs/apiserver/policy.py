"""The bootstrap policy: the roles and bindings the API server writes when it starts.

RBAC allows nothing until a binding says so, so a fresh cluster needs a few: the admin
may do anything, everyone authenticated may discover the API, and each component may do
exactly what its loop needs and nothing more. Who is who comes from the certificates
(``kfs.pki``): the CN is the user, the O the group.

| component   | may (read = get, list, watch)                   | so that it                       |
|-------------|-------------------------------------------------|----------------------------------|
| admin       | everything, every path                          | is the operator (and drains:     |
|             |                                                 | create pods/eviction)            |
| everyone    | get /api*, /apis*, /openapi*, /version          | finds the API before using it    |
|             | get /healthz, /livez, /readyz                   | checks the server is up          |
|             | create selfsubject{access,rules}reviews ...     | can run `kubectl auth can-i`     |
| scheduler   | read pods, nodes                                | sees unbound pods and the nodes  |
|             | create pods/binding                             | binds a pod to a node            |
|             | update, patch pods/status                       | marks a pod unschedulable        |
|             | create, patch events                            | reports FailedScheduling         |
|             | create leases; get, update its lease (*)        | is the one active scheduler      |
| controllers | read, update, patch deployments                 | rolls Deployments out            |
|             | update, patch deployments/status                | reports rollout progress         |
|             | read, create, update, patch, delete replicasets | makes, scales, prunes RSs        |
|             | update, patch replicasets/status                | reports replica counts           |
|             | read, create, patch, delete pods                | makes, adopts, removes pods      |
|             | update, patch pods/status                       | marks lost nodes' pods NotReady  |
|             | read, create, update, delete endpoints          | keeps Endpoints = ready pods     |
|             | read, create, update, patch, delete             | ... and their EndpointSlices     |
|             |   endpointslices                                |                                  |
|             | read poddisruptionbudgets                       | counts what each can spare       |
|             | update poddisruptionbudgets/status              | ... and says so                  |
|             | read services, nodes                            | selects pods, watches nodes      |
|             | update, patch nodes/status                      | marks silent nodes Unknown       |
|             | patch nodes                                     | taints unreachable nodes         |
|             | read, delete leases                             | hears kubelets' heartbeats       |
|             | create, patch events                            | records what it did              |
|             | create leases; get, update its lease (*)        | is the one active manager        |
| kubelet     | read, create, delete pods                       | runs its pods, mirrors static    |
|             | update, patch pods/status                       | reports pod status               |
|             | read, create, update, patch nodes               | registers its Node               |
|             | update, patch nodes/status                      | reports node conditions          |
|             | read services, endpoints                        | sets service env variables       |
|             | create, patch events                            | reports container events         |
|             | get, create, update, patch leases (**)          | heartbeats                       |
| proxy       | list, watch services, endpoints, endpointslices | renders iptables from them       |
|             | read nodes                                      | finds its node                   |
|             | create, patch events                            | reports sync problems            |
| flanneld    | read nodes                                      | learns the other nodes           |
|             | patch nodes/status                              | annotates its own node           |
| dns         | list, watch services, endpointslices,           | answers Services by name         |
|             |   namespaces                                    |                                  |
| controllers | read, delete certificatesigningrequests         | csrapproving, csrsigning;        |
|             |                                                 | csrcleaner deletes old ones      |
|  (more)     | update csr/approval, csr/status                 | approves, then signs             |
|             | create subjectaccessreviews                     | asks RBAC whether the requester  |
|             |                                                 | may have its CSR auto-approved   |
| kubelet     | create, read certificatesigningrequests         | asks for its serving certificate |
|  (more)     |                                                 | and renews its client one        |
| bootstrapper| create, read certificatesigningrequests         | a joining kubelet asks for its   |
|             |                                                 | client certificate               |
| nodeclient  | create csr/nodeclient (a virtual subresource)   | csrapproving approves a new      |
|             |                                                 | node's client CSR (its SAR)      |
| selfnode-   | create csr/selfnodeclient                       | ... and a node's renewal of its  |
|   client    |                                                 | own client certificate           |
| cloud-      | read, update, patch, delete nodes               | describes Nodes; deletes gone    |
|  controller-| update, patch nodes/status                      | writes the cloud's addresses     |
|  manager    | read, update, patch services                    | adds the cleanup finalizer       |
|             | update, patch services/status                   | writes status.loadBalancer       |
|             | create, patch, update events                    | records what it did              |

(*) in kube-system, the lease named after the component; (**) in kube-node-lease only.
"everyone" is every authenticated user; a "bootstrapper" is a joining kubelet
authenticated by a bootstrap token (``kfs.apiserver.authn``) whose Secret puts it in the
group ``system:bootstrappers:kubeadm:default-node-token``, as kubeadm's tokens do. Who gets
which role:

| role                                     | bound to                                          |
|------------------------------------------|---------------------------------------------------|
| cluster-admin                            | Group system:masters                              |
| system:discovery, system:basic-user      | Group system:authenticated                        |
| system:public-info-viewer                | system:authenticated, system:unauthenticated      |
| system:kube-scheduler                    | User system:kube-scheduler                        |
| system:kube-controller-manager           | User system:kube-controller-manager               |
| system:node                              | Group system:nodes                                |
| system:node-proxier                      | User system:kube-proxy                            |
| flannel                                  | User flanneld                                     |
| system:kube-dns                          | User system:kube-dns                              |
| system:node-bootstrapper                 | Group system:bootstrappers:kubeadm:default-node-token |
|   (binding kubeadm:kubelet-bootstrap)    |                                                   |
| system:certificates.k8s.io:certificate-  | Group system:bootstrappers:kubeadm:default-node-token |
|   signingrequests:nodeclient (binding    |                                                   |
|   kubeadm:node-autoapprove-bootstrap)    |                                                   |
| system:certificates.k8s.io:certificate-  | Group system:nodes                                |
|   signingrequests:selfnodeclient (binding|                                                   |
|   kubeadm:node-autoapprove-certificate-rotation) |                                         |
| system:cloud-controller-manager          | User system:cloud-controller-manager              |
| system::leader-locking-kube-scheduler    | (Role in kube-system) User system:kube-scheduler  |
| system::leader-locking-kube-controller-manager | (Role in kube-system) the controller manager |
| system:node-heartbeat                    | (Role in kube-node-lease) Group system:nodes      |

Every object carries upstream's label ``kubernetes.io/bootstrapping=rbac-defaults`` and
annotation ``rbac.authorization.kubernetes.io/autoupdate=true``: at each start the API
server `reconcile`s them, adding back missing rules and subjects; set the annotation to
"false" and it leaves that object alone. The Roles live in ``kube-system`` and
``kube-node-lease`` (`SYSTEM_NAMESPACES`), which the API server must create first.

Mirrors plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go, namespace_policy.go
and pkg/registry/rbac/reconciliation, shrunk to the kinds kfs serves.

What real Kubernetes does differently: ~60 default roles (view/edit/admin aggregated by
label, one per controller used with service-account credentials); kubelets are bound by
the Node authorizer and the NodeRestriction admission plugin, which confine each to its
own Node and pods (here any kubelet may touch any pod or node); leases for leader
election are granted cluster-wide by name.
"""
import copy

RBAC_API_VERSION = "rbac.authorization.k8s.io/v1"
LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
ANNOTATIONS = {"rbac.authorization.kubernetes.io/autoupdate": "true"}
SYSTEM_NAMESPACES = ("kube-system", "kube-node-lease")

READ = ("get", "list", "watch")
APPS, COORDINATION, DISCOVERY = "apps", "coordination.k8s.io", "discovery.k8s.io"
POLICY = "policy"
CERTIFICATES = "certificates.k8s.io"
CSRS = "certificatesigningrequests"
NODE_TOKEN_GROUP = "system:bootstrappers:kubeadm:default-node-token"   # kubeadm's
NODECLIENT = "system:certificates.k8s.io:certificatesigningrequests:nodeclient"
SELFNODECLIENT = "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient"


def rule(verbs, resources, groups=("",), names=()):
    out = {"verbs": list(verbs), "apiGroups": list(groups), "resources": list(resources)}
    if names:
        out["resourceNames"] = list(names)
    return out


def urls(verbs, *paths):
    return {"verbs": list(verbs), "nonResourceURLs": list(paths)}


def events_rule():
    return rule(("create", "patch"), ["events"])


def leader_election(name):
    return [rule(["create"], ["leases"], [COORDINATION]),
            rule(["get", "update"], ["leases"], [COORDINATION], names=[name])]


def user(name):
    return {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": name}


def group(name):
    return {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": name}


CLUSTER_ROLES = {
    "cluster-admin": [rule(["*"], ["*"], ["*"]), urls(["*"], "*")],
    "system:discovery": [urls(["get"], "/livez", "/readyz", "/healthz", "/version", "/version/",
                              "/openapi", "/openapi/*", "/api", "/api/*", "/apis", "/apis/*")],
    "system:basic-user": [
        rule(["create"], ["selfsubjectreviews"], ["authentication.k8s.io"]),
        rule(["create"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
             ["authorization.k8s.io"])],
    "system:public-info-viewer": [urls(["get"], "/livez", "/readyz", "/healthz", "/version",
                                       "/version/")],
    "system:kube-scheduler": [
        rule(READ, ["pods"]),
        rule(["create"], ["pods/binding"]),
        rule(["update", "patch"], ["pods/status"]),
        rule(READ, ["nodes"]),
        events_rule()],
    "system:kube-controller-manager": [
        rule((*READ, "update", "patch"), ["deployments"], [APPS]),
        rule(("create", *READ, "update", "patch", "delete"), ["replicasets"], [APPS]),
        rule(("update", "patch"), ["deployments/status", "replicasets/status"], [APPS]),
        rule(("create", *READ, "patch", "delete"), ["pods"]),
        rule(("update", "patch"), ["pods/status", "nodes/status"]),
        rule(("create", *READ, "update", "delete"), ["endpoints"]),
        rule(("create", *READ, "update", "patch", "delete"), ["endpointslices"],  # gc: patch
             [DISCOVERY]),
        rule(READ, ["poddisruptionbudgets"], [POLICY]),
        rule(["update"], ["poddisruptionbudgets/status"], [POLICY]),
        rule(READ, ["services", "nodes"]),
        rule(["patch"], ["nodes"]),                        # node lifecycle: taints
        rule((*READ, "delete"), ["leases"], [COORDINATION]),  # heartbeats; a gone node's lease
        rule((*READ, "delete"), [CSRS], [CERTIFICATES]),   # csrapproving, -signing, -cleaner
        rule(["update"], [f"{CSRS}/approval", f"{CSRS}/status"], [CERTIFICATES]),
        rule(["create"], ["subjectaccessreviews"], ["authorization.k8s.io"]),  # sarapprove
        events_rule()],
    "system:node": [
        rule(("create", *READ, "delete"), ["pods"]),
        rule(("update", "patch"), ["pods/status", "nodes/status"]),
        rule(("create", *READ, "update", "patch"), ["nodes"]),
        rule(READ, ["services", "endpoints"]),
        rule(("create", *READ), [CSRS], [CERTIFICATES]),   # serving certificate, renewals
        events_rule()],
    "system:node-bootstrapper": [rule(("create", *READ), [CSRS], [CERTIFICATES])],
    NODECLIENT: [rule(["create"], [f"{CSRS}/nodeclient"], [CERTIFICATES])],
    SELFNODECLIENT: [rule(["create"], [f"{CSRS}/selfnodeclient"], [CERTIFICATES])],
    "system:node-proxier": [
        rule(("list", "watch"), ["services", "endpoints"]),
        rule(("list", "watch"), ["endpointslices"], [DISCOVERY]),
        rule(READ, ["nodes"]),
        events_rule()],
    "flannel": [
        rule(READ, ["nodes"]),
        rule(["patch"], ["nodes/status"])],
    "system:kube-dns": [
        rule(("list", "watch"), ["services", "namespaces"]),
        rule(("list", "watch"), ["endpointslices"], [DISCOVERY])],
    # upstream's cloud-controller-manager ClusterRole (k8s.io/cloud-provider's docs), less
    # what kfs's loops do not use (serviceaccounts, persistentvolumes, endpoints, leases)
    "system:cloud-controller-manager": [
        rule((*READ, "update", "patch", "delete"), ["nodes"]),
        rule(("update", "patch"), ["nodes/status"]),
        rule((*READ, "update", "patch"), ["services"]),
        rule(("update", "patch"), ["services/status"]),
        rule(("create", "patch", "update"), ["events"])],
}

CLUSTER_ROLE_BINDINGS = {  # binding name = role name
    "cluster-admin": [group("system:masters")],
    "system:discovery": [group("system:authenticated")],
    "system:basic-user": [group("system:authenticated")],
    "system:public-info-viewer": [group("system:authenticated"), group("system:unauthenticated")],
    "system:kube-scheduler": [user("system:kube-scheduler")],
    "system:kube-controller-manager": [user("system:kube-controller-manager")],
    "system:node": [group("system:nodes")],
    "system:node-proxier": [user("system:kube-proxy")],
    "flannel": [user("flanneld")],
    "system:kube-dns": [user("system:kube-dns")],
    "system:cloud-controller-manager": [user("system:cloud-controller-manager")],
}
# kubeadm's bindings, named as kubeadm names them: binding name -> (role, subjects)
NAMED_CLUSTER_ROLE_BINDINGS = {
    "kubeadm:kubelet-bootstrap": ("system:node-bootstrapper", [group(NODE_TOKEN_GROUP)]),
    "kubeadm:node-autoapprove-bootstrap": (NODECLIENT, [group(NODE_TOKEN_GROUP)]),
    "kubeadm:node-autoapprove-certificate-rotation": (SELFNODECLIENT,
                                                      [group("system:nodes")]),
}

ROLES = {  # (namespace, name): (rules, subjects); binding name = role name
    ("kube-system", "system::leader-locking-kube-scheduler"):
        (leader_election("kube-scheduler"), [user("system:kube-scheduler")]),
    ("kube-system", "system::leader-locking-kube-controller-manager"):
        (leader_election("kube-controller-manager"), [user("system:kube-controller-manager")]),
    ("kube-node-lease", "system:node-heartbeat"):
        ([rule(("get", "create", "update", "patch"), ["leases"], [COORDINATION])],
         [group("system:nodes")]),
}


def _object(kind, name, namespace=None, **fields):
    metadata = {"name": name, "labels": dict(LABELS), "annotations": dict(ANNOTATIONS)}
    if namespace:
        metadata["namespace"] = namespace
    return {"apiVersion": RBAC_API_VERSION, "kind": kind, "metadata": metadata, **fields}


def _role_ref(kind, name):
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name}


def bootstrap_policy():
    """The ClusterRoles, ClusterRoleBindings, Roles and RoleBindings to write at start,
    roles before the bindings that refer to them."""
    objects = [_object("ClusterRole", n, rules=copy.deepcopy(r)) for n, r in CLUSTER_ROLES.items()]
    objects += [_object("ClusterRoleBinding", n, roleRef=_role_ref("ClusterRole", n),
                        subjects=copy.deepcopy(s)) for n, s in CLUSTER_ROLE_BINDINGS.items()]
    objects += [_object("ClusterRoleBinding", n, roleRef=_role_ref("ClusterRole", role),
                        subjects=copy.deepcopy(s))
                for n, (role, s) in NAMED_CLUSTER_ROLE_BINDINGS.items()]
    objects += [_object("Role", n, ns, rules=copy.deepcopy(r)) for (ns, n), (r, _) in ROLES.items()]
    objects += [_object("RoleBinding", n, ns, roleRef=_role_ref("Role", n),
                        subjects=copy.deepcopy(s)) for (ns, n), (_, s) in ROLES.items()]
    return objects


def reconcile(existing, wanted):
    """What to write for a bootstrap object: `wanted` if there is none, None if nothing is
    to change, else `existing` with the missing labels, annotations, rules and subjects
    added back. An object annotated autoupdate="false" is left alone; a binding whose
    roleRef changed is replaced (roleRef is immutable: delete, then create `wanted`)."""
    if existing is None:
        return copy.deepcopy(wanted)
    annotations = existing.get("metadata", {}).get("annotations") or {}
    if annotations.get("rbac.authorization.kubernetes.io/autoupdate") == "false":
        return None
    if "roleRef" in wanted and existing.get("roleRef") != wanted["roleRef"]:
        return copy.deepcopy(wanted)
    out = copy.deepcopy(existing)
    m = out.setdefault("metadata", {})
    m["labels"] = {**(m.get("labels") or {}), **wanted["metadata"]["labels"]}
    m["annotations"] = {**(m.get("annotations") or {}), **wanted["metadata"]["annotations"]}
    for field in ("rules", "subjects"):
        if field in wanted:
            have = out.setdefault(field, None) or []
            out[field] = have + [x for x in wanted[field] if x not in have]
    return None if out == existing else out
