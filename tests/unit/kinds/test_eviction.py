"""Evictions (pods/<name>/eviction): the PodDisruptionBudget rules of kfs/apiserver/kinds/
eviction.py, through the API server's real Registry over an in-memory etcd."""
import copy

import pytest

from kfs import meta, resources
from kfs.apiserver import discovery, kinds
from kfs.apiserver.errors import StatusError
from kfs.apiserver.kinds import eviction
from kfs.apiserver.registry import Registry
from tests.fakes import MemoryStorage

PODS, PDBS = resources.lookup("pods"), resources.lookup("poddisruptionbudgets")


@pytest.fixture(autouse=True)
def no_retry_pause(monkeypatch):
    monkeypatch.setattr(eviction, "RETRY_INTERVAL", 0)


class Server:
    """A Registry with the default namespace, pods and budgets written as the server would."""

    def __init__(self, registry_class=Registry):
        storage = MemoryStorage()
        self.registry = registry_class(storage, kinds.for_server(kinds.ServerConfig(storage)))
        self.registry.create(resources.lookup("namespaces"), None, {
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})

    def pod(self, name, phase="Running", ready=True, node="node1", labels=None):
        body = {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "labels": labels or {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "kfs/echo:1"}], "nodeName": node}}
        created = self.registry.create(PODS, "default", body)
        created["status"] = {"phase": phase, "conditions": [
            {"type": "Ready", "status": "True" if ready else "False"}]}
        return self.registry.update(PODS, "default", name, created, "status")[0]

    def pdb(self, name="web", allowed=0, current=3, desired=3, observed=1, selector=None, **spec):
        body = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
                "spec": {"selector": selector if selector is not None else {"matchLabels": {"app": "web"}},
                         **(spec or {"minAvailable": desired})}}
        created = self.registry.create(PDBS, "default", body)
        created["status"] = {"disruptionsAllowed": allowed, "currentHealthy": current,
                             "desiredHealthy": desired, "expectedPods": current,
                             "observedGeneration": observed}
        return self.registry.update(PDBS, "default", name, created, "status")[0]

    def evict(self, name, dry_run=False, **delete_options):
        body = {"apiVersion": "policy/v1", "kind": "Eviction",
                "metadata": {"name": name, "namespace": "default"}}
        if delete_options:
            body["deleteOptions"] = delete_options
        self.registry.kind(PODS).create_subresource(self.registry, "eviction", "default", name,
                                                     body, dry_run)

    def get(self, resource, name):
        try:
            return self.registry.get(resource, "default", name)
        except StatusError as e:
            if e.code == 404:
                return None
            raise


def evicted(pod):
    """Deleted, or (bound to a node) terminating and marked as the Eviction API's target."""
    if pod is None:
        return True
    target = meta.get_condition(pod["status"], "DisruptionTarget")
    return bool(pod["metadata"].get("deletionTimestamp")) and target["reason"] == "EvictionByEvictionAPI"


def test_a_pod_no_budget_selects_is_deleted_gracefully_and_marked_as_the_evictions_target():
    s = Server()
    s.pod("web-1")
    s.pdb(selector={"matchLabels": {"app": "other"}})
    s.evict("web-1")
    pod = s.get(PODS, "web-1")
    assert pod["metadata"]["deletionTimestamp"] and pod["metadata"]["deletionGracePeriodSeconds"] == 30
    target = meta.get_condition(pod["status"], "DisruptionTarget")
    assert (target["status"], target["reason"], target["message"]) == (
        "True", "EvictionByEvictionAPI", "Eviction API: evicting")


def test_a_budget_allowing_no_disruption_answers_429_and_the_pod_stays():
    s = Server()
    s.pod("web-1")
    s.pdb(allowed=0, current=3, desired=3)
    with pytest.raises(StatusError) as e:
        s.evict("web-1")
    assert (e.value.code, e.value.reason, e.value.message) == (
        429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.")
    assert e.value.details == {"causes": [{"reason": "DisruptionBudget", "message":
                                           "The disruption budget web needs 3 healthy pods and has 3 currently"}]}
    assert "Retry-After" not in e.value.headers  # kubectl drain retries after 5 s by itself
    pod = s.get(PODS, "web-1")
    assert not pod["metadata"].get("deletionTimestamp") and not meta.get_condition(pod["status"], "DisruptionTarget")


def test_an_allowed_eviction_spends_the_disruption_and_records_the_pod():
    s = Server()
    s.pod("web-1")
    s.pdb(allowed=1, current=3, desired=2)
    s.evict("web-1")
    assert evicted(s.get(PODS, "web-1"))
    status = s.get(PDBS, "web")["status"]
    assert status["disruptionsAllowed"] == 0 and list(status["disruptedPods"]) == ["web-1"]
    condition = meta.get_condition(status, "DisruptionAllowed")
    assert (condition["status"], condition["reason"], condition["message"]) == ("False", "InsufficientPods", "")


def test_the_last_disruption_is_spent_once_so_the_next_eviction_waits():
    s = Server()
    for name in ("web-1", "web-2"):
        s.pod(name)
    s.pdb(allowed=1, current=3, desired=2)
    s.evict("web-1")
    with pytest.raises(StatusError) as e:
        s.evict("web-2")
    assert e.value.code == 429
    assert not s.get(PODS, "web-2")["metadata"].get("deletionTimestamp")


def test_a_budget_spent_by_a_racing_eviction_is_read_again_and_refuses():
    class Racing(Registry):
        """Between this eviction's read of the budgets and its write, another spends it."""
        raced = False

        def list(self, resource, namespace, *args, **kwargs):
            listed = super().list(resource, namespace, *args, **kwargs)
            if resource is PDBS and not self.raced:
                self.raced = True
                other = self.get(PDBS, namespace, "web")
                other["status"]["disruptionsAllowed"] = 0
                self.update(PDBS, namespace, "web", other, "status")
            return listed

    s = Server(Racing)
    s.pod("web-1")
    s.pdb(allowed=1, current=3, desired=2)
    with pytest.raises(StatusError) as e:
        s.evict("web-1")
    assert e.value.code == 429 and s.registry.raced
    assert not s.get(PODS, "web-1")["metadata"].get("deletionTimestamp")


def test_a_budget_the_controller_has_not_seen_yet_answers_429_with_retry_after():
    s = Server()
    s.pod("web-1")
    s.pdb(allowed=1, observed=0)
    with pytest.raises(StatusError) as e:
        s.evict("web-1")
    assert e.value.code == 429
    assert e.value.details["causes"][0]["message"] == \
        "The disruption budget web is still being processed by the server."
    assert e.value.details["retryAfterSeconds"] == 10 and e.value.headers == {"Retry-After": "10"}


def test_two_budgets_selecting_the_pod_answer_500():
    s = Server()
    s.pod("web-1")
    s.pdb("a", allowed=1)
    s.pdb("b", allowed=1, selector={})   # an empty selector selects every pod (policy/v1)
    with pytest.raises(StatusError) as e:
        s.evict("web-1")
    assert (e.value.code, e.value.message) == (500, eviction.MORE_THAN_ONE)
    assert not s.get(PODS, "web-1")["metadata"].get("deletionTimestamp")


@pytest.mark.parametrize("phase", ["Pending", "Succeeded", "Failed"])
def test_pods_that_serve_nobody_are_evicted_whatever_the_budget(phase):
    s = Server()
    s.pod("web-1", phase=phase, ready=False)
    s.pdb(allowed=0)
    s.evict("web-1")
    assert evicted(s.get(PODS, "web-1"))
    assert "disruptedPods" not in s.get(PDBS, "web")["status"]


def test_a_terminating_pod_is_evicted_whatever_the_budget():
    s = Server()
    s.pod("web-1")
    s.registry.delete(PODS, "default", "web-1", {})
    s.pdb(allowed=0)
    s.evict("web-1")
    assert s.get(PODS, "web-1")["metadata"]["deletionTimestamp"]


@pytest.mark.parametrize("current, desired, policy, allowed", [
    (3, 3, None, True),              # the budget is met without it
    (2, 3, None, False),             # the budget is not met: it may yet become Ready
    (2, 3, "IfHealthyBudget", False),
    (2, 3, "AlwaysAllow", True),     # unhealthy pods may always go
    (0, 0, None, False),             # a budget asking for nothing spends disruptions as usual
])
def test_an_unready_pod_goes_without_spending_when_it_cannot_make_things_worse(current, desired, policy,
                                                                                allowed):
    s = Server()
    s.pod("web-1", ready=False)
    spec = {"minAvailable": desired, **({"unhealthyPodEvictionPolicy": policy} if policy else {})}
    s.pdb(allowed=0, current=current, desired=desired, **spec)
    if allowed:
        s.evict("web-1")
        assert evicted(s.get(PODS, "web-1"))
        assert s.get(PDBS, "web")["status"]["disruptionsAllowed"] == 0
        assert "disruptedPods" not in s.get(PDBS, "web")["status"]
    else:
        with pytest.raises(StatusError) as e:
            s.evict("web-1")
        assert e.value.code == 429


def test_dry_run_changes_neither_the_pod_nor_the_budget():
    s = Server()
    s.pod("web-1")
    s.pdb(allowed=1, current=3, desired=2)
    before = (s.get(PODS, "web-1"), s.get(PDBS, "web"))
    s.evict("web-1", dry_run=True)
    s.evict("web-1", dryRun=["All"])
    assert (s.get(PODS, "web-1"), s.get(PDBS, "web")) == before


def test_the_evictions_delete_options_are_honoured():
    s = Server()
    s.pod("web-1")
    s.evict("web-1", gracePeriodSeconds=0)
    assert s.get(PODS, "web-1") is None
    uid = s.pod("web-2")["metadata"]["uid"]
    with pytest.raises(StatusError) as e:
        s.evict("web-2", preconditions={"uid": uid + "x"})
    assert e.value.code == 409
    s.evict("web-2", preconditions={"uid": uid})
    assert evicted(s.get(PODS, "web-2"))


@pytest.mark.parametrize("status, why", [
    ({"disruptionsAllowed": -1}, "pdb disruptions allowed is negative"),
    ({"disruptedPods": {f"p{i}": "2024-01-01T00:00:00Z" for i in range(2001)}},
     "DisruptedPods map too big - too many evictions not confirmed by PDB controller"),
])
def test_a_broken_budget_is_forbidden(status, why):
    budget = {"metadata": {"name": "web", "generation": 1},
              "status": {"observedGeneration": 1, "disruptionsAllowed": 1, **status}}
    with pytest.raises(StatusError) as e:
        eviction.check_and_decrement(budget, "web-1", False)
    assert (e.value.code, e.value.message) == (403, f'poddisruptionbudget.policy "web" is forbidden: {why}')


def test_check_and_decrement_returns_a_copy():
    budget = {"metadata": {"name": "web", "generation": 1},
              "status": {"observedGeneration": 1, "disruptionsAllowed": 2}}
    before = copy.deepcopy(budget)
    after = eviction.check_and_decrement(budget, "web-1", False, now="2024-01-01T00:00:00Z")
    assert budget == before
    assert after["status"]["disruptionsAllowed"] == 1
    assert after["status"]["disruptedPods"] == {"web-1": "2024-01-01T00:00:00Z"}
    assert "conditions" not in after["status"]  # still allowed: the controller's to say


def test_an_eviction_for_another_pod_than_the_urls_is_refused():
    s = Server()
    s.pod("web-1")
    with pytest.raises(StatusError) as e:
        s.registry.kind(PODS).create_subresource(s.registry, "eviction", "default", "web-1", {
            "apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "web-2"}}, False)
    assert (e.value.code, e.value.message) == (400, "name in URL does not match name in Eviction object")


def test_a_missing_pod_is_404_which_kubectl_drain_counts_as_gone():
    with pytest.raises(StatusError) as e:
        Server().evict("nope")
    assert (e.value.code, e.value.message) == (404, 'pods "nope" not found')


def test_discovery_publishes_pods_eviction_as_policy_v1_for_kubectl_drain():
    [entry] = [r for r in discovery.api_resource_list("", "v1")["resources"] if r["name"] == "pods/eviction"]
    assert (entry["group"], entry["version"], entry["kind"], entry["verbs"]) == (
        "policy", "v1", "Eviction", ["create"])
    assert "policy" in [g["name"] for g in discovery.api_group_list()["groups"]]
    assert kinds.lookup("policy/v1", "Eviction").also_accepts == ("policy/v1beta1",)
