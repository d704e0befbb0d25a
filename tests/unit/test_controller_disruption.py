"""The disruption controller's reconcile, on FakeApi: what each PodDisruptionBudget can spare."""
import pytest

from kfs import meta
from kfs.controllers import disruption
from kfs.controllers.disruption import DisruptionController
from kfs.controllers.manager import SharedInformers
from kfs.kubelet.events import ListRecorder
from tests.controller_objects import ago, deployment, pod, replicaset
from tests.fakes import FakeApi, status_error

NOW = 1_700_000_000.0


def pdb(name="web", selector=None, **spec):
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"selector": selector if selector is not None else {"matchLabels": {"app": "web"}},
                     **spec}}


def setup(*objects, clock=lambda: NOW):
    api = FakeApi(*objects)
    recorder = ListRecorder()
    return api, DisruptionController(api, SharedInformers(api, api.informer), recorder,
                                     clock=clock), recorder


def owned_pods(api, replicas=3, deployment_replicas=None, ready=(True, True, True), deployed=True,
               terminating=()):
    """A Deployment (or a lone ReplicaSet) and `len(ready)` pods of its ReplicaSet, those
    numbered in `terminating` being deleted."""
    owner = None
    if deployed:
        owner = api.create(deployment(replicas=deployment_replicas or replicas))
    rs = replicaset(replicas=replicas)
    if owner is not None:
        rs["metadata"]["ownerReferences"] = [meta.owner_reference(owner)]
    rs = api.create(rs)
    for i, r in enumerate(ready):
        extra = {"deletionTimestamp": ago(1)} if i in terminating else {}
        api.create(pod(f"web-{i}", owner=rs, ready=r, **extra))
    return rs


def status(api, name="web"):
    return api.get("poddisruptionbudgets", name, "default").get("status", {})


def counts(s):
    return s["currentHealthy"], s["desiredHealthy"], s["expectedPods"], s["disruptionsAllowed"]


@pytest.mark.parametrize("spec, ready, replicas, expected", [
    # (currentHealthy, desiredHealthy, expectedPods, disruptionsAllowed)
    ({"minAvailable": 2}, (True, True, True), 3, (3, 2, 3, 1)),
    ({"minAvailable": 3}, (True, True, True), 3, (3, 3, 3, 0)),
    ({"minAvailable": 2}, (True, True, False), 3, (2, 2, 3, 0)),        # an unready pod is no help
    ({"minAvailable": 4}, (True, True, True), 3, (3, 4, 3, 0)),         # never negative
    ({"maxUnavailable": 1}, (True, True, True), 3, (3, 2, 3, 1)),
    ({"maxUnavailable": "50%"}, (True, True, True), 3, (3, 1, 3, 2)),   # 1.5 rounded up: 2
    ({"minAvailable": "50%"}, (True, True, True), 3, (3, 2, 3, 1)),     # 1.5 rounded up: 2
    ({"minAvailable": "50%"}, (True, True, True), 6, (3, 3, 6, 0)),     # the owner wants 6
    ({"maxUnavailable": 0}, (True, True, True), 3, (3, 3, 3, 0)),
    ({}, (True, True, True), 3, (3, 0, 0, 0)),                          # neither: nothing spared
])
def test_the_budget_counts_healthy_desired_and_expected_pods(spec, ready, replicas, expected):
    api, c, _ = setup(pdb(**spec))
    owned_pods(api, replicas=replicas, ready=ready)
    c.reconcile("default/web")
    assert counts(status(api)) == expected


def test_a_budget_matching_no_pod_allows_nothing_and_says_so():
    api, c, recorder = setup(pdb(minAvailable=0))
    c.reconcile("default/web")
    assert counts(status(api)) == (0, 0, 0, 0)  # a first pod is protected before it is counted
    assert ("web", "Normal", "NoPods", "No matching pods found") in recorder.events


def test_the_status_says_which_generation_it_is_about_and_whether_disruptions_are_allowed():
    api, c, _ = setup(pdb(minAvailable=2))
    owned_pods(api)
    c.reconcile("default/web")
    s = status(api)
    assert s["observedGeneration"] == 1
    condition = meta.get_condition(s, "DisruptionAllowed")
    assert (condition["status"], condition["reason"], condition["message"],
            condition["observedGeneration"]) == ("True", "SufficientPods", "", 1)
    api.patch("poddisruptionbudgets", "web", {"spec": {"minAvailable": 3}}, "default")
    c.reconcile("default/web")
    s = status(api)
    condition = meta.get_condition(s, "DisruptionAllowed")
    assert s["observedGeneration"] == 2 and s["disruptionsAllowed"] == 0
    assert (condition["status"], condition["reason"]) == ("False", "InsufficientPods")


def test_nothing_is_written_when_nothing_changed():
    api, c, _ = setup(pdb(minAvailable=2))
    owned_pods(api)
    c.reconcile("default/web")
    writes = len(api.actions)
    c.reconcile("default/web")
    assert len(api.actions) == writes


def test_terminating_pods_are_expected_but_not_healthy():
    api, c, _ = setup(pdb(minAvailable=2))
    owned_pods(api, terminating=(0,))
    c.reconcile("default/web")
    assert counts(status(api)) == (2, 2, 3, 0)


def test_an_evicted_pod_counts_as_down_until_it_is_deleted_and_is_looked_at_again_when_it_expires():
    api, c, _ = setup(pdb(minAvailable=1))
    owned_pods(api)
    budget = api.get("poddisruptionbudgets", "web", "default")
    budget["status"] = {"disruptedPods": {"web-0": _rfc3339(NOW - 10)}}
    api.update_status(budget)
    again = c.reconcile("default/web")
    s = status(api)
    assert counts(s) == (2, 1, 3, 1) and list(s["disruptedPods"]) == ["web-0"]
    assert again == pytest.approx(disruption.DELETION_TIMEOUT - 10)


def test_an_evicted_pod_seen_terminating_or_gone_leaves_disrupted_pods():
    api, c, _ = setup(pdb(minAvailable=1))
    owned_pods(api, terminating=(0,))
    budget = api.get("poddisruptionbudgets", "web", "default")
    budget["status"] = {"disruptedPods": {"web-0": _rfc3339(NOW - 10), "gone": _rfc3339(NOW - 10)}}
    api.update_status(budget)
    assert c.reconcile("default/web") is None
    s = status(api)
    assert "disruptedPods" not in s and counts(s) == (2, 1, 3, 1)


def test_an_evicted_pod_not_deleted_within_the_timeout_counts_again_with_a_warning():
    api, c, recorder = setup(pdb(minAvailable=1))
    owned_pods(api)
    budget = api.get("poddisruptionbudgets", "web", "default")
    budget["status"] = {"disruptedPods": {"web-0": _rfc3339(NOW - disruption.DELETION_TIMEOUT - 1)}}
    api.update_status(budget)
    c.reconcile("default/web")
    s = status(api)
    assert "disruptedPods" not in s and counts(s) == (3, 1, 3, 2)
    assert ("web-0", "Warning", "NotDeleted",
            "Pod was expected by PDB default/web to be deleted but it wasn't") in recorder.events


def test_pods_without_a_controller_are_reported_for_a_percentage_budget():
    api, c, recorder = setup(pdb(minAvailable="50%"), pod("lone"))
    c.reconcile("default/web")
    assert counts(status(api)) == (1, 0, 0, 0)
    assert [e[2] for e in recorder.events] == ["UnmanagedPods"]


def test_a_lone_replicasets_replicas_are_the_expected_pods():
    api, c, _ = setup(pdb(maxUnavailable=1))
    owned_pods(api, replicas=4, ready=(True, True, True), deployed=False)
    c.reconcile("default/web")
    assert counts(status(api)) == (3, 3, 4, 0)


def test_an_owner_that_cannot_be_found_closes_the_budget():
    gone = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "gone", "uid": "u-gone",
            "controller": True}
    api, c, _ = setup(pdb(maxUnavailable=1), pod("web-0", ownerReferences=[gone]))
    budget = api.get("poddisruptionbudgets", "web", "default")
    budget["status"] = {"disruptionsAllowed": 1}
    api.update_status(budget)
    assert c.reconcile("default/web") is None
    s = status(api)
    condition = meta.get_condition(s, "DisruptionAllowed")
    assert s["disruptionsAllowed"] == 0
    assert (condition["status"], condition["reason"], condition["message"]) == (
        "False", "SyncFailed", 'found no controllers for pod "web-0"')


def test_a_conflicting_write_is_retried_later_not_failed_safe():
    api, c, _ = setup(pdb(minAvailable=2))
    owned_pods(api)
    api.fail["update"] = status_error(409, "Conflict", "the object has been modified")
    with pytest.raises(Exception, match="409"):
        c.reconcile("default/web")
    assert "disruptionsAllowed" not in status(api)  # no fail-safe write either
    c.reconcile("default/web")
    assert status(api)["disruptionsAllowed"] == 1


def test_a_pods_changes_wake_the_budget_selecting_it_and_several_budgets_are_warned_about():
    api, c, recorder = setup(pdb("a", minAvailable=1), pdb("b", selector={}, minAvailable=1),
                             pdb("other", selector={"matchLabels": {"app": "db"}}, minAvailable=1))
    while c.queue.get(timeout=0) is not None:  # the budgets' own ADDED events
        pass
    api.create(pod("web-0"))
    assert c.queue.get(timeout=0) == "default/a" and c.queue.get(timeout=0) is None
    assert [e[2] for e in recorder.events] == ["MultiplePodDisruptionBudgets"]
    assert recorder.events[0][3] == ('Pod "default"/"web-0" matches multiple PodDisruptionBudgets.  '
                                     'Chose "a" arbitrarily.')


def test_a_deleted_budget_is_forgotten():
    api, c, _ = setup(pdb(minAvailable=1))
    api.delete("poddisruptionbudgets", "web", "default")
    writes = len(api.actions)
    assert c.reconcile("default/web") is None and len(api.actions) == writes


def _rfc3339(seconds):
    from datetime import datetime, timezone
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
