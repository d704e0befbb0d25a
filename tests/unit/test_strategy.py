import copy
import random

import pytest

from kfs import resources
from kfs.apiserver import kinds, strategy
from kfs.apiserver.kinds import default
from kfs.apiserver.kinds.apps import from_scale, to_scale
from kfs.apiserver.kinds.pod import pod_qos_class
from kfs.apiserver.strategy import generate_name

NOW = "2024-01-01T00:00:00Z"


def deployment(kind="Deployment"):
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "web", "namespace": "default"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


def pod(*resources):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": f"c{i}", "image": "x", "resources": r}
                                    for i, r in enumerate(resources or [{}])]}}


def service(**spec):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"ports": [{"port": 80}], **spec}}


def created(obj):
    default(obj)
    strategy.before_create(kinds.for_object(obj), obj, now=NOW)
    obj["metadata"]["resourceVersion"] = "7"
    return obj


def updated(old, change, subresource=None):
    new = copy.deepcopy(old)
    change(new)
    strategy.before_update(kinds.for_object(new), new, old, subresource)
    return new


# -- create -----------------------------------------------------------------------------------

def test_create_fills_a_new_uid_and_the_creation_time():
    a, b = created(deployment()), created(deployment())
    assert a["metadata"]["creationTimestamp"] == NOW and a["metadata"]["uid"] != b["metadata"]["uid"]


def test_create_ignores_a_deletion_timestamp_the_client_sent():
    d = deployment()
    d["metadata"].update(deletionTimestamp=NOW, deletionGracePeriodSeconds=30)
    assert not {"deletionTimestamp", "deletionGracePeriodSeconds"} & set(created(d)["metadata"])


def test_generate_name_appends_five_random_consonants_and_digits():
    name = generate_name("web-", random.Random(1))
    assert name.startswith("web-") and len(name) == 9 and set(name[4:]) <= set(strategy.NAME_CHARS)


def test_generate_name_cuts_a_long_prefix_to_fit_63_characters():
    assert len(generate_name("x" * 80)) == 63


def test_create_names_an_object_from_its_generate_name():
    p = pod()
    p["metadata"] = {"generateName": "web-", "namespace": "default"}
    assert created(p)["metadata"]["name"].startswith("web-")


def test_create_drops_the_namespace_of_a_cluster_scoped_object():
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n", "namespace": "default"}}
    assert "namespace" not in created(node)["metadata"]


@pytest.mark.parametrize("obj, generation", [
    (deployment(), 1), (deployment("ReplicaSet"), 1), (pod(), None), (service(), None),
])
def test_generation_starts_at_one_for_the_kinds_that_count_it(obj, generation):
    assert created(obj)["metadata"].get("generation") == generation


@pytest.mark.parametrize("obj, status", [
    (deployment(), {}),
    (deployment("ReplicaSet"), {}),
    (pod(), {"phase": "Pending", "qosClass": "BestEffort"}),
    (service(), {"loadBalancer": {}}),
    ({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}, "status": {"phase": "Terminating"}},
     {"phase": "Active"}),
])
def test_create_starts_the_status_afresh(obj, status):
    obj["status"] = {"replicas": 99}
    assert created(obj)["status"] == status


def test_a_node_keeps_the_status_it_registers_with():
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}, "status": {"capacity": {"cpu": "2"}}}
    assert created(node)["status"]["capacity"] == {"cpu": "2"}


def test_a_new_namespace_gets_the_kubernetes_finalizer():
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}}
    assert created(ns)["spec"] == {"finalizers": ["kubernetes"]}


def test_a_new_service_gets_cluster_ips_from_its_cluster_ip():
    assert created(service(clusterIP="10.96.0.10"))["spec"]["clusterIPs"] == ["10.96.0.10"]


@pytest.mark.parametrize("resources, qos", [
    ([{}], "BestEffort"),
    ([{"requests": {"cpu": "100m"}}], "Burstable"),
    ([{"limits": {"cpu": "1", "memory": "1Gi"}}], "Guaranteed"),          # requests defaulted from limits
    ([{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}], "Burstable"),
    ([{"limits": {"cpu": "1"}}], "Burstable"),
    ([{"limits": {"cpu": "1", "memory": "1Gi"}}, {}], "Burstable"),
    ([{"requests": {"ephemeral-storage": "1Gi"}}], "BestEffort"),
])
def test_a_new_pods_qos_class_follows_its_requests_and_limits(resources, qos):
    assert created(pod(*resources))["status"]["qosClass"] == qos


def test_qos_class_of_an_undefaulted_pod():
    assert pod_qos_class(pod({"limits": {"cpu": "1", "memory": "1Gi"}})) == "Burstable"


# -- update -----------------------------------------------------------------------------------

@pytest.mark.parametrize("obj", [deployment(), deployment("ReplicaSet"), pod(), service(),
                                 {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}}],
                         ids=lambda o: o["kind"])
def test_an_update_of_the_main_resource_keeps_the_stored_status(obj):
    old = created(obj)
    old["status"] = {"phase": "Running", "replicas": 2}
    new = updated(old, lambda o: o.update(status={"phase": "Lies", "replicas": 100}))
    assert new["status"] == old["status"]


@pytest.mark.parametrize("kind, change, subresource, generation", [
    ("Deployment", lambda d: d["spec"].update(replicas=5), None, 2),
    ("Deployment", lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="nginx:2"), None, 2),
    ("Deployment", lambda d: d["metadata"].update(labels={"team": "a"}), None, 1),
    ("Deployment", lambda d: d["metadata"].update(annotations={"note": "x"}), None, 2),
    ("ReplicaSet", lambda d: d["metadata"].update(annotations={"note": "x"}), None, 1),
    ("Deployment", lambda d: d.update(status={"observedGeneration": 1}), "status", 1),
    ("Deployment", lambda d: d["spec"].update(replicas=5), "status", 1),
    ("Deployment", lambda d: d["spec"].update(replicas=5), "scale", 2),
    ("ReplicaSet", lambda d: d["spec"].update(replicas=0), None, 2),
    ("Deployment", lambda d: d["metadata"].update(generation=40), None, 1),
])
def test_generation_moves_only_when_the_spec_changes(kind, change, subresource, generation):
    assert updated(created(deployment(kind)), change, subresource)["metadata"]["generation"] == generation


def test_generation_moves_one_step_per_spec_change():
    d = created(deployment())
    for replicas in (3, 4, 5):
        d = updated(d, lambda o: o["spec"].update(replicas=replicas))
    assert d["metadata"]["generation"] == 4


@pytest.mark.parametrize("kind", ["Deployment", "ReplicaSet"])
def test_a_status_write_keeps_a_workloads_spec_and_labels_but_takes_its_annotations(kind):
    old = created(deployment(kind))
    old["metadata"]["labels"] = {"app": "web"}
    new = updated(old, lambda d: (d["spec"].update(replicas=9), d["metadata"].update(
        labels={"x": "y"}, annotations={"a": "b"}), d.update(status={"replicas": 2})), "status")
    assert (new["spec"], new["metadata"]["labels"]) == (old["spec"], old["metadata"]["labels"])
    assert new["metadata"]["annotations"] == {"a": "b"} and new["status"] == {"replicas": 2}


def test_a_pod_status_write_keeps_the_owner_references_and_the_qos_class():
    old = created(pod())
    old["metadata"]["ownerReferences"] = [{"kind": "ReplicaSet", "name": "rs", "uid": "1", "controller": True}]
    new = updated(old, lambda p: (p["metadata"].pop("ownerReferences"), p.update(status={"phase": "Running"})),
                  "status")
    assert new["metadata"]["ownerReferences"] == old["metadata"]["ownerReferences"]
    assert new["status"] == {"phase": "Running", "qosClass": "BestEffort"}


def test_an_update_keeps_the_system_metadata_the_client_left_out():
    old = created(deployment())
    old["metadata"]["deletionTimestamp"] = NOW
    new = updated(old, lambda d: [d["metadata"].pop(f) for f in ("uid", "creationTimestamp", "deletionTimestamp")])
    assert {f: new["metadata"][f] for f in ("uid", "creationTimestamp", "deletionTimestamp")} == {
        f: old["metadata"][f] for f in ("uid", "creationTimestamp", "deletionTimestamp")}


def test_an_update_leaves_a_changed_uid_for_validation_to_refuse():
    new = updated(created(pod()), lambda p: p["metadata"].update(uid="other"))
    assert new["metadata"]["uid"] == "other"


def test_an_applied_service_manifest_without_cluster_ip_and_node_port_keeps_them():
    old = created(service(type="NodePort", clusterIP="10.96.0.10", ports=[{"name": "http", "port": 80,
                                                                           "nodePort": 30080}]))
    new = updated(old, lambda s: s.update(spec={"type": "NodePort", "ports": [{"name": "http", "port": 8080}]}))
    assert (new["spec"]["clusterIP"], new["spec"]["clusterIPs"], new["spec"]["ports"][0]["nodePort"]) == (
        "10.96.0.10", ["10.96.0.10"], 30080)


def test_a_namespace_update_keeps_its_finalizers():
    old = created({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}})
    assert updated(old, lambda n: n["spec"].update(finalizers=[]))["spec"]["finalizers"] == ["kubernetes"]


@pytest.mark.parametrize("resource, has", [
    ("pods", True), ("deployments", True), ("deploy", True), ("replicasets", True), ("services", True),
    ("nodes", True), ("namespaces", True), ("endpoints", False), ("events", False), ("leases", False),
    ("roles", False),
])
def test_has_status_subresource(resource, has):
    assert kinds.for_resource(resources.lookup(resource)).has_status is has


# -- scale ------------------------------------------------------------------------------------

def test_a_scale_shows_desired_and_current_replicas_and_the_selector_as_a_string():
    d = created(deployment())
    d["status"] = {"replicas": 1}
    assert to_scale(d) == {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": "web", "namespace": "default", "uid": d["metadata"]["uid"], "resourceVersion": "7",
                     "creationTimestamp": NOW},
        "spec": {"replicas": 2}, "status": {"replicas": 1, "selector": "app=web"}}


def test_a_scale_selector_prints_match_expressions_in_kubectls_syntax():
    rs = created(deployment("ReplicaSet"))
    rs["spec"]["selector"] = {"matchLabels": {"app": "web"},
                              "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]}
    assert to_scale(rs)["status"]["selector"] == "app=web,tier in (a,b)"


def test_from_scale_changes_only_the_replicas_of_a_copy():
    d = created(deployment())
    new = from_scale(d, {"spec": {"replicas": 7}})
    assert new["spec"]["replicas"] == 7 and d["spec"]["replicas"] == 2
    assert {**new, "spec": {**new["spec"], "replicas": 2}} == d


def test_from_scale_takes_the_scales_resource_version_as_the_precondition():
    d = created(deployment())
    assert from_scale(d, {"metadata": {"resourceVersion": "3"}, "spec": {"replicas": 1}})["metadata"][
        "resourceVersion"] == "3"
