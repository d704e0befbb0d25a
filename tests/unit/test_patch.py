"""Strategic merge patch, JSON merge patch, JSON patch and apply (kfs.apiserver.patch).

STRATEGIC holds (kind, original, patch, expected). The "apply-*", label and finalizer
patches are the bodies the real kubectl 1.32.4 sent on `kubectl apply` (recorded once with
a stub server on loopback; its last-applied annotation left out); the rest exercise each
merge key and directive. tests/unit/test_patch_upstream.py replays the same table through
the real kubectl's own strategic merge (`kubectl patch --local`).
"""
import copy

import pytest

from kfs.apiserver.patch import PatchError, apply, json_merge, json_patch, strategic_merge

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def deployment(containers, **spec):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"replicas": 2, **spec, "template": {"spec": {"containers": containers}}}}


def containers_patch(**pod_spec):
    return {"spec": {"template": {"spec": pod_spec}}}


KFS_ONLY = set()  # ids of cases where kfs differs from upstream on purpose


def case(id_, kind, original, patch, expected, upstream=True):
    """upstream=False: kfs differs from upstream on purpose (see the module docstring)."""
    if not upstream:
        KFS_ONLY.add(id_)
    return pytest.param(kind, original, patch, expected, id=id_)


WEB = {"name": "web", "image": "x:1", "ports": [{"containerPort": 80}],
       "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}
SIDECAR = {"name": "log", "image": "log:1"}

STRATEGIC = [
    # -- what kubectl apply sends -------------------------------------------------------
    case("apply-changed-image-keeps-the-containers-other-fields", "Deployment",
         deployment([WEB, SIDECAR]),
         {"metadata": {"annotations": {LAST_APPLIED: "{}"}},
          **containers_patch(**{"$setElementOrder/containers": [{"name": "web"}],
                                "containers": [{"image": "x:2", "name": "web"}]})},
         {**deployment([{**WEB, "image": "x:2"}, SIDECAR]),
          "metadata": {"name": "d", "annotations": {LAST_APPLIED: "{}"}}}),
    case("apply-removing-an-env-var", "Deployment",
         deployment([WEB]),
         containers_patch(**{"$setElementOrder/containers": [{"name": "web"}],
                             "containers": [{"$setElementOrder/env": [{"name": "A"}],
                                             "env": [{"$patch": "delete", "name": "B"}],
                                             "name": "web"}]}),
         deployment([{**WEB, "env": [{"name": "A", "value": "1"}]}])),
    case("apply-adding-an-env-var-puts-it-where-the-file-has-it", "Deployment",
         deployment([WEB]),
         containers_patch(**{"$setElementOrder/containers": [{"name": "web"}],
                             "containers": [{"$setElementOrder/env": [
                                 {"name": "A"}, {"name": "Z"}, {"name": "B"}],
                                 "env": [{"name": "Z", "value": "26"}], "name": "web"}]}),
         deployment([{**WEB, "env": [{"name": "A", "value": "1"}, {"name": "Z", "value": "26"},
                                     {"name": "B", "value": "2"}]}])),
    case("apply-deleting-a-container", "Deployment",
         deployment([WEB, SIDECAR]),
         containers_patch(**{"$setElementOrder/containers": [{"name": "log"}],
                             "containers": [{"$patch": "delete", "name": "web"}]}),
         deployment([SIDECAR])),
    case("apply-adding-a-container-in-the-middle", "Deployment",
         deployment([WEB, SIDECAR]),
         containers_patch(**{"$setElementOrder/containers": [
             {"name": "web"}, {"name": "new"}, {"name": "log"}],
             "containers": [{"image": "n:1", "name": "new"}]}),
         deployment([WEB, {"name": "new", "image": "n:1"}, SIDECAR])),
    case("apply-switching-strategy-to-recreate-clears-rolling-update", "Deployment",
         deployment([SIDECAR], strategy={"type": "RollingUpdate",
                                         "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}),
         {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": None,
                                "type": "Recreate"}}},
         deployment([SIDECAR], strategy={"type": "Recreate"})),
    case("apply-switching-strategy-when-rolling-update-was-defaulted", "Deployment",
         deployment([SIDECAR], strategy={"type": "RollingUpdate",
                                         "rollingUpdate": {"maxSurge": "25%"}}),
         {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
         deployment([SIDECAR], strategy={"type": "Recreate"})),
    case("apply-switching-a-volume-from-emptydir-to-hostpath", "Pod",
         {"metadata": {"name": "p"}, "spec": {"containers": [SIDECAR], "volumes": [
             {"name": "v", "emptyDir": {}}, {"name": "w", "emptyDir": {}}]}},
         {"spec": {"$setElementOrder/volumes": [{"name": "v"}, {"name": "w"}],
                   "volumes": [{"$retainKeys": ["hostPath", "name"], "emptyDir": None,
                                "hostPath": {"path": "/x"}, "name": "v"}]}},
         {"metadata": {"name": "p"}, "spec": {"containers": [SIDECAR], "volumes": [
             {"name": "v", "hostPath": {"path": "/x"}}, {"name": "w", "emptyDir": {}}]}}),
    case("label-removed-with-null-and-annotation-added", "Pod",
         {"metadata": {"name": "p", "labels": {"app": "web", "tier": "front"}}},
         {"metadata": {"labels": {"tier": None}, "annotations": {"note": "hi"}}},
         {"metadata": {"name": "p", "labels": {"app": "web"}, "annotations": {"note": "hi"}}}),
    case("finalizer-added-in-order", "Pod",
         {"metadata": {"name": "p", "finalizers": ["a/x", "c/z"]}},
         {"metadata": {"$setElementOrder/finalizers": ["a/x", "b/y", "c/z"],
                       "finalizers": ["b/y"]}},
         {"metadata": {"name": "p", "finalizers": ["a/x", "b/y", "c/z"]}}),
    case("finalizer-removed-with-delete-from-primitive-list", "Pod",
         {"metadata": {"name": "p", "finalizers": ["a/x", "b/y", "other/z"]}},
         {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b/y"],
                       "$setElementOrder/finalizers": ["a/x"]}},
         {"metadata": {"name": "p", "finalizers": ["a/x", "other/z"]}}),
    case("finalizers-merge-as-a-set", "Pod",
         {"metadata": {"name": "p", "finalizers": ["a/x"]}},
         {"metadata": {"finalizers": ["a/x", "b/y"]}},
         {"metadata": {"name": "p", "finalizers": ["a/x", "b/y"]}}),
    # -- merge keys per kind ------------------------------------------------------------
    case("container-ports-merge-by-container-port", "Pod",
         {"metadata": {"name": "p"}, "spec": {"containers": [WEB]}},
         {"spec": {"containers": [{"name": "web", "ports": [{"containerPort": 80,
                                                             "name": "http"}]}]}},
         {"metadata": {"name": "p"}, "spec": {"containers": [
             {**WEB, "ports": [{"containerPort": 80, "name": "http"}]}]}}),
    case("volume-mounts-merge-by-mount-path", "Pod",
         {"metadata": {"name": "p"}, "spec": {"containers": [
             {"name": "c", "volumeMounts": [{"name": "v", "mountPath": "/a"}]}]}},
         {"spec": {"containers": [{"name": "c", "volumeMounts": [
             {"mountPath": "/a", "readOnly": True}, {"name": "w", "mountPath": "/b"}]}]}},
         {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "volumeMounts": [
             {"name": "v", "mountPath": "/a", "readOnly": True},
             {"name": "w", "mountPath": "/b"}]}]}}),
    case("init-containers-and-image-pull-secrets-merge-by-name", "Pod",
         {"metadata": {"name": "p"}, "spec": {
             "initContainers": [{"name": "i", "image": "i:1"}],
             "imagePullSecrets": [{"name": "s1"}]}},
         {"spec": {"initContainers": [{"name": "i", "image": "i:2"}],
                   "imagePullSecrets": [{"name": "s2"}]}},
         {"metadata": {"name": "p"}, "spec": {
             "initContainers": [{"name": "i", "image": "i:2"}],
             "imagePullSecrets": [{"name": "s2"}, {"name": "s1"}]}}),
    case("host-aliases-merge-by-ip", "Pod",
         {"metadata": {"name": "p"}, "spec": {"hostAliases": [
             {"ip": "10.0.0.1", "hostnames": ["a"]}, {"ip": "10.0.0.2", "hostnames": ["b"]}]}},
         {"spec": {"hostAliases": [{"ip": "10.0.0.2", "hostnames": ["c"]}]}},
         {"metadata": {"name": "p"}, "spec": {"hostAliases": [
             {"ip": "10.0.0.1", "hostnames": ["a"]}, {"ip": "10.0.0.2", "hostnames": ["c"]}]}}),
    case("tolerations-are-replaced-whole", "Pod",
         {"metadata": {"name": "p"}, "spec": {"tolerations": [
             {"key": "a", "operator": "Exists"}, {"key": "b", "operator": "Exists"}]}},
         {"spec": {"tolerations": [{"key": "c", "operator": "Exists"}]}},
         {"metadata": {"name": "p"}, "spec": {"tolerations": [
             {"key": "c", "operator": "Exists"}]}}),
    case("container-args-are-replaced-whole", "Pod",
         {"metadata": {"name": "p"}, "spec": {"containers": [
             {"name": "c", "args": ["a", "b"], "envFrom": [{"configMapRef": {"name": "x"}}]}]}},
         {"spec": {"containers": [{"name": "c", "args": ["z"], "envFrom": []}]}},
         {"metadata": {"name": "p"}, "spec": {"containers": [
             {"name": "c", "args": ["z"], "envFrom": []}]}}),
    case("pod-status-conditions-merge-by-type", "Pod",
         {"metadata": {"name": "p"}, "status": {"phase": "Pending", "conditions": [
             {"type": "PodScheduled", "status": "True"},
             {"type": "Ready", "status": "False"}]}},
         {"status": {"phase": "Running", "$setElementOrder/conditions": [
             {"type": "PodScheduled"}, {"type": "Ready"}],
             "conditions": [{"type": "Ready", "status": "True"}],
             "podIPs": [{"ip": "10.1.0.5"}]}},
         {"metadata": {"name": "p"}, "status": {"phase": "Running", "conditions": [
             {"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"}],
             "podIPs": [{"ip": "10.1.0.5"}]}}),
    case("service-ports-merge-by-port", "Service",
         {"metadata": {"name": "s"}, "spec": {"selector": {"app": "web"}, "ports": [
             {"port": 80, "targetPort": 8080}, {"port": 443, "targetPort": 8443}]}},
         {"spec": {"ports": [{"port": 80, "nodePort": 30080}]}},
         {"metadata": {"name": "s"}, "spec": {"selector": {"app": "web"}, "ports": [
             {"port": 80, "targetPort": 8080, "nodePort": 30080},
             {"port": 443, "targetPort": 8443}]}}),
    case("endpoints-subsets-are-replaced-whole", "Endpoints",
         {"metadata": {"name": "s"}, "subsets": [
             {"addresses": [{"ip": "10.1.0.5"}], "ports": [{"port": 80}]}]},
         {"subsets": [{"addresses": [{"ip": "10.1.0.6"}]}]},
         {"metadata": {"name": "s"}, "subsets": [{"addresses": [{"ip": "10.1.0.6"}]}]}),
    case("node-addresses-and-conditions-merge-by-type", "Node",
         {"metadata": {"name": "n"}, "status": {
             "addresses": [{"type": "InternalIP", "address": "192.168.56.11"},
                           {"type": "Hostname", "address": "node1"}],
             "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}},
         {"status": {"addresses": [{"type": "InternalIP", "address": "192.168.56.12"}],
                     "conditions": [{"type": "Ready", "status": "Unknown"}]}},
         {"metadata": {"name": "n"}, "status": {
             "addresses": [{"type": "InternalIP", "address": "192.168.56.12"},
                           {"type": "Hostname", "address": "node1"}],
             "conditions": [{"type": "Ready", "status": "Unknown", "reason": "KubeletReady"}]}}),
    case("node-pod-cidrs-merge-as-a-set-and-taints-are-replaced", "Node",
         {"metadata": {"name": "n"}, "spec": {"podCIDRs": ["10.1.1.0/24"],
                                              "taints": [{"key": "a", "effect": "NoSchedule"}]}},
         {"spec": {"podCIDRs": ["10.1.1.0/24"], "taints": [{"key": "b", "effect": "NoSchedule"}]}},
         {"metadata": {"name": "n"}, "spec": {"podCIDRs": ["10.1.1.0/24"],
                                              "taints": [{"key": "b", "effect": "NoSchedule"}]}}),
    case("owner-references-merge-by-uid", "ReplicaSet",
         {"metadata": {"name": "rs", "ownerReferences": [
             {"uid": "1", "kind": "Deployment", "name": "d", "controller": True}]}},
         {"metadata": {"ownerReferences": [{"uid": "1", "controller": False},
                                           {"uid": "2", "kind": "Deployment", "name": "e"}]}},
         {"metadata": {"name": "rs", "ownerReferences": [
             {"uid": "1", "kind": "Deployment", "name": "d", "controller": False},
             {"uid": "2", "kind": "Deployment", "name": "e"}]}}),
    case("replicaset-template-containers-merge-by-name", "ReplicaSet",
         {"metadata": {"name": "rs"}, "spec": {"template": {
             "metadata": {"labels": {"app": "web"}}, "spec": {"containers": [WEB, SIDECAR]}}}},
         {"spec": {"template": {"spec": {"containers": [{"name": "log", "image": "log:2"}]}}}},
         {"metadata": {"name": "rs"}, "spec": {"template": {
             "metadata": {"labels": {"app": "web"}},
             "spec": {"containers": [WEB, {"name": "log", "image": "log:2"}]}}}}),
    case("deployment-status-conditions-merge-by-type", "Deployment",
         {"metadata": {"name": "d"}, "status": {"conditions": [
             {"type": "Available", "status": "False"},
             {"type": "Progressing", "status": "True"}]}},
         {"status": {"conditions": [{"type": "Available", "status": "True"}],
                     "availableReplicas": 2}},
         {"metadata": {"name": "d"}, "status": {"availableReplicas": 2, "conditions": [
             {"type": "Available", "status": "True"},
             {"type": "Progressing", "status": "True"}]}}),
    case("namespace-status-conditions-merge-spec-finalizers-replaced", "Namespace",
         {"metadata": {"name": "ns"}, "spec": {"finalizers": ["kubernetes"]},
          "status": {"phase": "Active", "conditions": [{"type": "A", "status": "True"}]}},
         {"spec": {"finalizers": ["other"]},
          "status": {"conditions": [{"type": "B", "status": "True"}]}},
         {"metadata": {"name": "ns"}, "spec": {"finalizers": ["other"]},
          "status": {"phase": "Active", "conditions": [{"type": "B", "status": "True"},
                                                      {"type": "A", "status": "True"}]}}),
    case("role-rules-are-replaced-whole", "Role",
         {"metadata": {"name": "r"}, "rules": [{"apiGroups": [""], "resources": ["pods"],
                                                "verbs": ["get"]}]},
         {"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]},
         {"metadata": {"name": "r"}, "rules": [{"apiGroups": [""], "resources": ["pods"],
                                                "verbs": ["list"]}]}),
    case("scale-spec-replicas", "Scale",
         {"metadata": {"name": "d"}, "spec": {"replicas": 2}, "status": {"replicas": 2}},
         {"spec": {"replicas": 5}},
         {"metadata": {"name": "d"}, "spec": {"replicas": 5}, "status": {"replicas": 2}}),
    # -- the directives on their own (shapes from upstream's patch_test.go) -------------
    case("patch-replace-in-a-list-replaces-the-list", "Pod",
         {"metadata": {"name": "p"}, "spec": {"containers": [WEB, SIDECAR]}},
         {"spec": {"containers": [{"$patch": "replace"}, {"name": "z", "image": "z:1"}]}},
         {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "z", "image": "z:1"}]}}),
    case("patch-replace-in-a-map-replaces-the-map", "Pod",
         {"metadata": {"name": "p", "labels": {"a": "1", "b": "2"}}},
         {"metadata": {"labels": {"$patch": "replace", "c": "3"}}},
         {"metadata": {"name": "p", "labels": {"c": "3"}}}),
    case("patch-delete-in-a-map-empties-it", "Pod",
         {"metadata": {"name": "p", "labels": {"x": "1"}, "annotations": {"a": "1"}}},
         {"metadata": {"annotations": {"$patch": "delete"}}},
         {"metadata": {"name": "p", "labels": {"x": "1"}, "annotations": {}}}),
    case("patch-delete-removes-every-element-with-that-key", "Pod",
         {"metadata": {"name": "p"}, "spec": {"containers": [
             {"name": "a"}, {"name": "a", "image": "dup"}, {"name": "b"}]}},
         {"spec": {"containers": [{"name": "a", "$patch": "delete"}]}},
         {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "b"}]}}),
    case("a-new-element-without-set-element-order-comes-first", "Pod",
         {"metadata": {"name": "p"}, "spec": {"containers": [WEB, SIDECAR]}},
         {"spec": {"containers": [{"name": "new", "image": "n:1"}]}},
         {"metadata": {"name": "p"}, "spec": {"containers": [
             {"name": "new", "image": "n:1"}, WEB, SIDECAR]}}),
    case("patch-order-wins-server-only-elements-keep-their-place", "Pod",
         {"metadata": {"name": "p"}, "spec": {"containers": [
             {"name": "1"}, {"name": "2", "image": "b"}, {"name": "3"}]}},
         {"spec": {"containers": [{"name": "3", "image": "c"}, {"name": "1", "image": "a"}]}},
         {"metadata": {"name": "p"}, "spec": {"containers": [
             {"name": "2", "image": "b"}, {"name": "3", "image": "c"},
             {"name": "1", "image": "a"}]}}),
    case("set-element-order-alone-reorders-and-ignores-unknown-names", "Pod",
         {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "1"}, {"name": "3"}]}},
         {"spec": {"$setElementOrder/containers": [{"name": "3"}, {"name": "2"}, {"name": "1"}]}},
         {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "3"}, {"name": "1"}]}}),
    case("a-new-container-is-stripped-of-directives-and-nulls", "Pod",
         {"metadata": {"name": "p"}, "spec": {"containers": [SIDECAR]}},
         {"spec": {"$setElementOrder/containers": [{"name": "log"}, {"name": "n"}],
                   "containers": [{"name": "n", "image": None, "$setElementOrder/env": [
                       {"name": "A"}], "env": [{"name": "A", "value": "1"}]}]}},
         {"metadata": {"name": "p"}, "spec": {"containers": [
             SIDECAR, {"name": "n", "env": [{"name": "A", "value": "1"}]}]}}),
    case("a-list-of-a-new-field-gets-its-set-element-order", "Pod",
         {"metadata": {"name": "p"}},
         {"metadata": {"$setElementOrder/finalizers": ["b", "a"], "finalizers": ["b", "a"]}},
         {"metadata": {"name": "p", "finalizers": ["b", "a"]}}),
    case("a-value-of-another-type-replaces", "Pod",
         {"metadata": {"name": "p"}, "spec": {"nodeSelector": "oops"}},
         {"spec": {"nodeSelector": {"disk": "ssd"}}},
         {"metadata": {"name": "p"}, "spec": {"nodeSelector": {"disk": "ssd"}}}),
    # -- kfs's own choices: upstream differs (see the module docstring) -----------------
    case("an-unknown-kind-replaces-lists", "Widget",
         {"metadata": {"name": "w"}, "spec": {"containers": [{"name": "a"}]}},
         {"spec": {"containers": [{"name": "b"}]}},
         {"metadata": {"name": "w"}, "spec": {"containers": [{"name": "b"}]}}, upstream=False),
    case("patch-merge-is-the-default-spelled-out", "Pod",
         {"metadata": {"name": "p", "labels": {"a": "1"}}, "spec": {"containers": [WEB]}},
         {"metadata": {"labels": {"$patch": "merge", "b": "2"}},
          "spec": {"containers": [{"$patch": "merge", "name": "web", "image": "x:9"}]}},
         {"metadata": {"name": "p", "labels": {"a": "1", "b": "2"}},
          "spec": {"containers": [{**WEB, "image": "x:9"}]}}, upstream=False),
    case("a-new-map-with-patch-replace-keeps-its-content", "Pod",
         {"metadata": {"name": "p"}, "spec": {}},
         {"spec": {"nodeSelector": {"$patch": "replace", "disk": "ssd"}}},
         {"metadata": {"name": "p"}, "spec": {"nodeSelector": {"disk": "ssd"}}},
         upstream=False),
]

ERROR_ORIGINAL = {"metadata": {"name": "p", "labels": {"a": "1"}, "finalizers": ["a"]},
                  "spec": {"containers": [{"name": "a"}]}}
STRATEGIC_ERRORS = [
    pytest.param({"spec": {"containers": [{"image": "x"}]}}, 'merge key "name"',
                 id="an-element-without-its-merge-key"),
    pytest.param({"spec": {"containers": [{"$patch": "delete"}]}}, 'merge key "name"',
                 id="a-delete-without-the-merge-key"),
    pytest.param({"spec": {"containers": [{"name": "a", "$patch": "remove"}]}}, '"remove"',
                 id="an-unknown-patch-directive-in-a-list"),
    pytest.param({"metadata": {"labels": {"$patch": "zap"}}}, '"zap"',
                 id="an-unknown-patch-directive-in-a-map"),
    pytest.param({"spec": {"$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
                           "containers": [{"name": "b"}, {"name": "a"}]}}, "doesn't match",
                 id="a-patch-list-out-of-set-element-order"),
    pytest.param({"spec": {"$setElementOrder/containers": [{"name": "a"}],
                           "containers": [{"name": "z"}]}}, "doesn't match",
                 id="a-patch-item-missing-from-set-element-order"),
    pytest.param({"spec": {"$setElementOrder/containers": {"name": "a"}}}, "hold a list",
                 id="a-set-element-order-that-is-not-a-list"),
    pytest.param({"metadata": {"$setElementOrder/finalizers": [], "finalizers": None}},
                 "not a list", id="a-null-list-with-set-element-order"),
    pytest.param({"spec": {"$retainKeys": ["a"], "b": 1}}, '"b"',
                 id="a-field-missing-from-retain-keys"),
    pytest.param({"spec": {"$retainKeys": "a"}}, "$retainKeys",
                 id="retain-keys-that-is-not-a-list"),
    pytest.param({"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}}, "hold a list",
                 id="a-delete-from-primitive-list-that-is-not-a-list"),
    pytest.param({"spec": {"$foo": 1}}, '"$foo"', id="an-unknown-directive"),
    pytest.param({"spec": {"containers": [["a"]]}}, "lists of lists",
                 id="a-list-of-lists"),
    pytest.param({"metadata": {"finalizers": ["a", {"b": 1}]}}, "mixes",
                 id="a-merging-list-of-mixed-elements"),
]


def directives_in(value):
    if isinstance(value, dict):
        return [k for k in value if k.startswith("$")] + \
            [d for v in value.values() for d in directives_in(v)]
    if isinstance(value, list):
        return [d for v in value for d in directives_in(v)]
    return []


@pytest.mark.parametrize("kind, original, patch, expected", STRATEGIC)
def test_strategic_merge_patches_as_kubectl_expects(kind, original, patch, expected):
    assert strategic_merge(original, patch, "v1", kind) == expected


@pytest.mark.parametrize("kind, original, patch, expected", STRATEGIC)
def test_strategic_merge_leaves_its_inputs_alone_and_no_directive_behind(
        kind, original, patch, expected):
    before = copy.deepcopy((original, patch))
    result = strategic_merge(original, patch, "v1", kind)
    assert (original, patch) == before
    assert directives_in(result) == []


@pytest.mark.parametrize("patch, fragment", STRATEGIC_ERRORS)
def test_a_bad_strategic_merge_patch_is_a_patch_error(patch, fragment):
    with pytest.raises(PatchError) as err:
        strategic_merge(ERROR_ORIGINAL, patch, "v1", "Pod")
    assert str(err.value).startswith("the patch could not be applied: ")
    assert fragment in str(err.value)


def test_a_strategic_merge_patch_must_be_an_object():
    with pytest.raises(PatchError, match="must be a JSON object"):
        strategic_merge({}, [{"op": "add"}], "v1", "Pod")


def test_patch_delete_at_the_top_empties_the_object():
    assert strategic_merge({"metadata": {"name": "p"}}, {"$patch": "delete"}, "v1", "Pod") == {}


# -- JSON merge patch (RFC 7386) -----------------------------------------------------------

@pytest.mark.parametrize("original, patch, expected", [
    # the examples of RFC 7386 appendix A that patch an object
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    # what kubectl scale sends to /scale
    ({"spec": {"replicas": 2}, "status": {"replicas": 2}}, {"spec": {"replicas": 3}},
     {"spec": {"replicas": 3}, "status": {"replicas": 2}}),
    # lists are values: the other container is gone (why kubectl apply uses strategic merge)
    ({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}},
     {"spec": {"containers": [{"name": "a", "image": "x:2"}]}},
     {"spec": {"containers": [{"name": "a", "image": "x:2"}]}}),
])
def test_json_merge_follows_rfc_7386(original, patch, expected):
    before = copy.deepcopy(original)
    assert json_merge(original, patch) == expected
    assert original == before


def test_a_json_merge_patch_must_be_an_object():
    with pytest.raises(PatchError, match="must be a JSON object"):
        json_merge({"a": 1}, ["a"])


# -- JSON patch (RFC 6902) -----------------------------------------------------------------

POD = {"metadata": {"name": "p", "labels": {"app": "web"}},
       "spec": {"containers": [{"name": "a", "image": "x:1"}]}}


@pytest.mark.parametrize("operations, expected", [
    ([{"op": "replace", "path": "/spec/containers/0/image", "value": "x:2"}],
     {**POD, "spec": {"containers": [{"name": "a", "image": "x:2"}]}}),
    ([{"op": "add", "path": "/metadata/labels/tier", "value": "front"},
      {"op": "remove", "path": "/metadata/labels/app"}],
     {**POD, "metadata": {"name": "p", "labels": {"tier": "front"}}}),
    ([{"op": "add", "path": "/spec/containers/-", "value": {"name": "b"}}],
     {**POD, "spec": {"containers": [{"name": "a", "image": "x:1"}, {"name": "b"}]}}),
    ([{"op": "test", "path": "/metadata/name", "value": "p"},
      {"op": "copy", "from": "/metadata/name", "path": "/metadata/generateName"}],
     {**POD, "metadata": {**POD["metadata"], "generateName": "p"}}),
    ([], POD),
])
def test_json_patch_applies_rfc_6902_operations(operations, expected):
    before = copy.deepcopy(POD)
    assert json_patch(POD, operations) == expected
    assert POD == before


@pytest.mark.parametrize("operations, fragment", [
    ([{"op": "test", "path": "/metadata/name", "value": "q"}], "not equal"),
    ([{"op": "remove", "path": "/metadata/nope"}], "non-existent"),
    ([{"op": "frobnicate", "path": "/a"}], "Unknown operation"),
    ([{"op": "add", "path": "metadata", "value": 1}], "must start with /"),
    ([{"op": "add", "path": "/spec/containers/7", "value": {}}], "outside of list"),
    ({"op": "add", "path": "/a", "value": 1}, "JSON array"),
    ([{"op": "replace", "path": "", "value": [1]}], "not a JSON object"),
])
def test_a_bad_json_patch_is_a_patch_error_and_changes_nothing(operations, fragment):
    before = copy.deepcopy(POD)
    with pytest.raises(PatchError, match="^the patch could not be applied: ") as err:
        json_patch(POD, operations)
    assert fragment in str(err.value)
    assert POD == before


# -- server-side apply -----------------------------------------------------------------------

def test_apply_without_a_live_object_creates_the_applied_configuration():
    applied = deployment([WEB])
    assert apply(None, applied, "apps/v1", "Deployment") == applied


def test_apply_merges_onto_the_live_object_and_keeps_what_it_leaves_out():
    live = deployment([WEB, SIDECAR], strategy={"type": "RollingUpdate"})
    live["metadata"].update(uid="u1", resourceVersion="7")
    live["status"] = {"replicas": 2}
    applied = deployment([{"name": "web", "image": "x:2", "ports": [
        {"containerPort": 80, "protocol": "TCP"}]}])
    applied["spec"]["replicas"] = 3
    applied["metadata"]["labels"] = {"app": "web"}
    result = apply(live, applied, "apps/v1", "Deployment")
    assert result["metadata"] == {"name": "d", "uid": "u1", "resourceVersion": "7",
                                  "labels": {"app": "web"}}
    assert result["spec"]["replicas"] == 3
    assert result["spec"]["strategy"] == {"type": "RollingUpdate"}
    assert result["status"] == {"replicas": 2}
    assert result["spec"]["template"]["spec"]["containers"] == [
        {**WEB, "image": "x:2", "ports": [{"containerPort": 80, "protocol": "TCP"}]}, SIDECAR]


def test_apply_replaces_lists_without_a_merge_key():
    live = {"metadata": {"name": "p"}, "spec": {"tolerations": [{"key": "a"}]}}
    applied = {"metadata": {"name": "p"}, "spec": {"tolerations": [{"key": "b"}]}}
    assert apply(live, applied, "v1", "Pod")["spec"]["tolerations"] == [{"key": "b"}]


@pytest.mark.parametrize("applied", [
    {"metadata": {"name": "p", "labels": {"$patch": "replace"}}},
    {"spec": {"containers": [{"name": "a", "$patch": "delete"}]}},
    {"metadata": {"$deleteFromPrimitiveList/finalizers": ["x"]}},
])
def test_apply_refuses_patch_directives(applied):
    with pytest.raises(PatchError, match="cannot hold the patch directive"):
        apply({"metadata": {"name": "p"}}, applied, "v1", "Pod")


def test_apply_needs_an_object():
    with pytest.raises(PatchError, match="must be a JSON object"):
        apply(None, ["x"], "v1", "Pod")
