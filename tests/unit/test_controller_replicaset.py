"""The ReplicaSet controller's reconcile, on FakeApi."""
import pytest

from kfs import meta
from kfs.client import ApiError
from kfs.controllers import controller_utils as cu
from kfs.controllers.manager import SharedInformers
from kfs.controllers.replicaset import ReplicaSetController
from tests.controller_objects import pod, replicaset
from tests.fakes import FakeApi, status_error


def setup(*objects):
    api = FakeApi(*objects)
    return api, ReplicaSetController(api, SharedInformers(api, api.informer))


def owned_pods(api, rs_name="web"):
    return [p for p in api.all("pods")
            if (meta.controller_of(p) or {}).get("name") == rs_name]


def test_missing_pods_are_created_with_generate_name_labels_and_a_controller_reference():
    api, c = setup(replicaset(replicas=3))
    c.reconcile("default/web")
    rs = api.get("replicasets", "web", "default")
    pods = owned_pods(api)
    assert len(pods) == 3
    for p in pods:
        assert p["metadata"]["generateName"] == "web-" and p["metadata"]["name"].startswith("web-")
        assert p["metadata"]["labels"] == {"app": "web"}
        assert meta.controller_of(p)["uid"] == rs["metadata"]["uid"]
        assert p["spec"]["containers"][0]["image"] == "kfs/echo:1"


def test_surplus_pods_are_deleted_down_to_replicas():
    rs = replicaset(replicas=1)
    api, c = setup(rs)
    owner = api.get("replicasets", "web", "default")
    for i in range(3):
        api.create(pod(f"p{i}", owner=owner))
    c.reconcile("default/web")
    assert len(api.all("pods")) == 1 and len(api.verbs("delete")) == 2


def test_no_second_round_of_creations_while_the_first_is_still_in_flight():
    """Expectations: the cache lags behind our own creates; we must not create again."""
    api, c = setup(replicaset(replicas=3))
    api.hold_events()
    c.reconcile("default/web")
    assert len(api.verbs("create")) == 1 + 3  # the ReplicaSet, then 3 pods
    c.reconcile("default/web")  # the cache still shows no pods
    assert len(api.verbs("create")) == 4
    api.release_events()
    c.reconcile("default/web")
    assert len(owned_pods(api)) == 3


def test_no_second_round_of_deletions_while_the_first_is_still_in_flight():
    api, c = setup(replicaset(replicas=1))
    owner = api.get("replicasets", "web", "default")
    for i in range(3):
        api.create(pod(f"p{i}", owner=owner))
    api.hold_events()
    c.reconcile("default/web")
    c.reconcile("default/web")
    assert len(api.verbs("delete")) == 2
    api.release_events()
    c.reconcile("default/web")
    assert len(api.verbs("delete")) == 2 and len(api.all("pods")) == 1


def test_a_lagging_cache_without_expectations_would_over_create():
    """The control experiment for the test above: forgetting expectations over-creates."""
    api, c = setup(replicaset(replicas=3))
    api.hold_events()
    c.reconcile("default/web")
    c.expectations.delete("default/web")
    c.reconcile("default/web")
    assert len(api.verbs("create")) == 1 + 6


@pytest.mark.parametrize("labels, owner, adopted", [
    ({"app": "web"}, None, True),           # a matching orphan is adopted
    ({"app": "db"}, None, False),           # a non-matching orphan is left alone
    ({"app": "web"}, "other", False),       # a pod controlled by someone else is left alone
])
def test_adoption_of_orphans_by_selector(labels, owner, adopted):
    other = replicaset(name="other", labels={"app": "web"}, replicas=0)
    api, c = setup(replicaset(replicas=1), other)
    owner_obj = api.get("replicasets", owner, "default") if owner else None
    api.create(pod("orphan", labels=labels, owner=owner_obj))
    c.reconcile("default/web")
    p = api.get("pods", "orphan", "default")
    assert ((meta.controller_of(p) or {}).get("name") == "web") is adopted
    assert len(owned_pods(api)) == 1  # adopted, or a new one created instead


def being_deleted(api, resource, name):
    api.delete(resource, name, "default", propagation_policy="Foreground")


def replaced(api, resource, name):
    current = api.get(resource, name, "default")
    api.delete(resource, name, "default")
    current["metadata"] = {k: v for k, v in current["metadata"].items()
                           if k in ("name", "namespace", "labels")}
    api.create(current)


def gone(api, resource, name):
    api.delete(resource, name, "default")


OWNER_CHANGES = [being_deleted, replaced, gone]


@pytest.mark.parametrize("change", OWNER_CHANGES, ids=lambda f: f.__name__)
def test_no_orphan_is_adopted_for_a_replicaset_the_cache_shows_but_the_api_server_does_not(change):
    """RecheckDeletionTimestamp: before adopting, the owner is read again from the server."""
    api, c = setup(replicaset(replicas=1), pod("orphan"))
    api.hold_events()  # the cache keeps showing the ReplicaSet as it was
    change(api, "replicasets", "web")
    c.reconcile("default/web")
    assert meta.controller_of(api.get("pods", "orphan", "default")) is None
    api.release_events()


def test_a_pod_that_stops_matching_is_released_and_replaced():
    api, c = setup(replicaset(replicas=1))
    owner = api.get("replicasets", "web", "default")
    api.create(pod("p0", owner=owner, labels={"app": "web"}))
    api.patch("pods", "p0", {"metadata": {"labels": {"app": "debug"}}}, "default")
    c.reconcile("default/web")
    assert meta.controller_of(api.get("pods", "p0", "default")) is None
    assert len(owned_pods(api)) == 1 and owned_pods(api)[0]["metadata"]["name"] != "p0"


def test_terminating_and_finished_pods_do_not_count():
    api, c = setup(replicaset(replicas=2))
    owner = api.get("replicasets", "web", "default")
    api.create(pod("gone", owner=owner, deletionTimestamp=meta.now(), finalizers=["x"]))
    api.create(pod("done", owner=owner, phase="Succeeded"))
    c.reconcile("default/web")
    assert len(api.verbs("create")) == 1 + 2 + 2


def test_a_replicaset_being_deleted_creates_nothing():
    api, c = setup(replicaset(replicas=2, deletionTimestamp=meta.now(), finalizers=["foregroundDeletion"]))
    c.reconcile("default/web")
    assert owned_pods(api) == []


def test_status_counts_replicas_labels_ready_available_and_observed_generation():
    api, c = setup(replicaset(replicas=3, min_ready=30))
    owner = api.get("replicasets", "web", "default")
    api.create(pod("a", owner=owner, ready=True, ready_for=60))     # available
    api.create(pod("b", owner=owner, ready=True, ready_for=1))      # ready, not yet available
    api.create(pod("c", owner=owner, ready=False,
                   labels={"app": "web"}))                          # not ready
    api.patch("replicasets", "web", {"spec": {"template": {"metadata": {"labels": {"app": "web", "v": "2"}}}}}, "default")
    again = c.reconcile("default/web")
    status = api.get("replicasets", "web", "default")["status"]
    assert status == {"replicas": 3, "fullyLabeledReplicas": 0, "readyReplicas": 2,
                      "availableReplicas": 1, "observedGeneration": 2}
    assert again == 30  # look again once b has been ready for minReadySeconds


def test_an_unchanged_status_is_not_written_again():
    api, c = setup(replicaset(replicas=0))
    c.reconcile("default/web")
    writes = len(api.actions)
    c.reconcile("default/web")
    assert len(api.actions) == writes


def test_creation_failures_stop_the_slow_start_and_release_the_expectations():
    api, c = setup(replicaset(replicas=10))
    calls = []

    def failing_create(body, namespace=None, **kw):
        calls.append(body)
        raise status_error(403, "Forbidden", "exceeded quota")
    api.create = failing_create
    with pytest.raises(ApiError):
        c.reconcile("default/web")
    assert len(calls) == 1                       # the first batch of 1 failed: stop there
    assert c.expectations.satisfied("default/web")
    rs = api.get("replicasets", "web", "default")
    assert meta.get_condition(rs["status"], "ReplicaFailure")["reason"] == "FailedCreate"


def test_slow_start_batches_double():
    sizes = []
    done, err = cu.slow_start_batch(20, lambda: sizes.append(1))
    assert done == 20 and err is None and len(sizes) == 20


def test_events_for_pods_enqueue_their_owner_and_lower_expectations():
    api, c = setup(replicaset(replicas=0))
    c.drain()
    owner = api.get("replicasets", "web", "default")
    c.expectations.expect_creations("default/web", 1)
    api.create(pod("p", owner=owner))
    assert c.expectations.satisfied("default/web")
    assert c.queue.get(timeout=0) == "default/web"


def test_an_orphan_pod_enqueues_every_replicaset_selecting_it():
    api, c = setup(replicaset(name="a"), replicaset(name="b"),
                   replicaset(name="db", labels={"app": "db"}))
    c.drain()
    api.create(pod("orphan"))
    keys = {c.queue.get(timeout=0), c.queue.get(timeout=0), c.queue.get(timeout=0)}
    assert keys == {"default/a", "default/b", None}


@pytest.mark.parametrize("first, second", [
    (dict(node=None), dict(node="n1")),                               # unscheduled first
    (dict(phase="Pending"), dict(phase="Running")),                   # pending first
    (dict(ready=False), dict(ready=True)),                            # not ready first
    (dict(ready_for=5), dict(ready_for=500)),                         # ready for less time
    (dict(created_ago=5, ready_for=5), dict(created_ago=500, ready_for=5)),  # newer first
    (dict(node="crowded"), dict(node="alone")),                       # doubled-up first
])
def test_pods_to_delete_ranks_the_least_valuable_first(first, second):
    sibling = pod("sibling", node="crowded")
    a, b = pod("a", **first), pod("b", **second)
    assert cu.pods_to_delete([b, a], [a, b, sibling], 1) == [a]
