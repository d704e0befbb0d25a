"""The generic registry strategy: system fields on create, what an update keeps, generations,
whatever the kind (kfs/apiserver/strategy.py); each kind's own preparation is tested with
its kind in tests/unit/kinds/."""
import random

import pytest

from kfs import resources
from kfs.apiserver import kinds, strategy
from kfs.apiserver.strategy import generate_name
from tests.unit.kind_objects import NOW, created, pod_with, service, updated, workload


def test_create_fills_a_new_uid_and_the_creation_time():
    a, b = created(workload()), created(workload())
    assert a["metadata"]["creationTimestamp"] == NOW and a["metadata"]["uid"] != b["metadata"]["uid"]


def test_create_ignores_a_deletion_timestamp_the_client_sent():
    d = workload()
    d["metadata"].update(deletionTimestamp=NOW, deletionGracePeriodSeconds=30)
    assert not {"deletionTimestamp", "deletionGracePeriodSeconds"} & set(created(d)["metadata"])


def test_generate_name_appends_five_random_consonants_and_digits():
    name = generate_name("web-", random.Random(1))
    assert name.startswith("web-") and len(name) == 9 and set(name[4:]) <= set(strategy.NAME_CHARS)


def test_generate_name_cuts_a_long_prefix_to_fit_63_characters():
    assert len(generate_name("x" * 80)) == 63


def test_create_names_an_object_from_its_generate_name():
    p = pod_with()
    p["metadata"] = {"generateName": "web-", "namespace": "default"}
    assert created(p)["metadata"]["name"].startswith("web-")


def test_create_drops_the_namespace_of_a_cluster_scoped_object():
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n", "namespace": "default"}}
    assert "namespace" not in created(node)["metadata"]


@pytest.mark.parametrize("obj, generation", [
    (workload(), 1), (workload("ReplicaSet"), 1), (pod_with(), None), (service(), None),
])
def test_generation_starts_at_one_for_the_kinds_that_count_it(obj, generation):
    assert created(obj)["metadata"].get("generation") == generation


@pytest.mark.parametrize("obj, status", [
    (workload(), {}),
    (workload("ReplicaSet"), {}),
    (pod_with(), {"phase": "Pending", "qosClass": "BestEffort"}),
    (service(), {"loadBalancer": {}}),
    ({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}, "status": {"phase": "Terminating"}},
     {"phase": "Active"}),
])
def test_create_starts_the_status_afresh(obj, status):
    obj["status"] = {"replicas": 99}
    assert created(obj)["status"] == status


@pytest.mark.parametrize("obj", [workload(), workload("ReplicaSet"), pod_with(), service(),
                                 {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}}],
                         ids=lambda o: o["kind"])
def test_an_update_of_the_main_resource_keeps_the_stored_status(obj):
    old = created(obj)
    old["status"] = {"phase": "Running", "replicas": 2}
    new = updated(old, lambda o: o.update(status={"phase": "Lies", "replicas": 100}))
    assert new["status"] == old["status"]


def test_an_update_keeps_the_system_metadata_the_client_left_out():
    old = created(workload())
    old["metadata"]["deletionTimestamp"] = NOW
    new = updated(old, lambda d: [d["metadata"].pop(f) for f in ("uid", "creationTimestamp", "deletionTimestamp")])
    assert {f: new["metadata"][f] for f in ("uid", "creationTimestamp", "deletionTimestamp")} == {
        f: old["metadata"][f] for f in ("uid", "creationTimestamp", "deletionTimestamp")}


def test_an_update_leaves_a_changed_uid_for_validation_to_refuse():
    new = updated(created(pod_with()), lambda p: p["metadata"].update(uid="other"))
    assert new["metadata"]["uid"] == "other"


@pytest.mark.parametrize("resource, has", [
    ("pods", True), ("deployments", True), ("deploy", True), ("replicasets", True), ("services", True),
    ("nodes", True), ("namespaces", True), ("endpoints", False), ("events", False), ("leases", False),
    ("roles", False),
])
def test_has_status_subresource(resource, has):
    assert kinds.for_resource(resources.lookup(resource)).has_status is has
