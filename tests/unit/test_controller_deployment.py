"""The Deployment controller's reconcile, on FakeApi, with the ReplicaSet controller beside it
and a stand-in kubelet that marks pods Ready when told to."""
import time

import pytest

from kfs import meta
from kfs.client import ApiError
from kfs.controllers import deployment_util as du
from kfs.controllers.deployment import DeploymentController
from kfs.controllers.manager import SharedInformers
from kfs.controllers.replicaset import ReplicaSetController
from tests.controller_objects import deployment, replicaset
from tests.fakes import FakeApi
from tests.unit.test_controller_replicaset import OWNER_CHANGES


class Cluster:
    def __init__(self, *objects):
        self.api = FakeApi(*objects)
        self.now = time.time()
        informers = SharedInformers(self.api, self.api.informer)
        self.rsc = ReplicaSetController(self.api, informers)
        self.dc = DeploymentController(self.api, informers, clock=lambda: self.now)
        for d in self.api.all("deployments"):
            self.dc.enqueue(d)

    def settle(self, ready=True, rounds=100, check=None):
        """Run both controllers (and make pods Ready, if asked) until nothing changes."""
        for _ in range(rounds):
            self.dc.drain()
            self.rsc.drain()
            if check:
                check(self)
            if ready and self.make_ready(limit=None if ready is True else ready):
                continue
            if not len(self.dc.queue) and not len(self.rsc.queue):
                return self
        raise AssertionError("controllers did not settle")

    def make_ready(self, limit=None):
        """Mark not-yet-ready pods Running and Ready (at most `limit`); how many."""
        waiting = [p for p in self.api.all("pods") if not meta.condition_true(p, "Ready")]
        for p in waiting[:limit]:
            self.api.patch("pods", meta.name(p), {"status": {
                "phase": "Running", "conditions": [{"type": "Ready", "status": "True",
                                                    "lastTransitionTime": meta.now()}]}},
                "default", subresource="status")
        return len(waiting[:limit])

    def d(self, name="web"):
        return self.api.get("deployments", name, "default")

    def rs_list(self):
        return self.api.all("replicasets")

    def new_rs(self, name="web"):
        return du.find_new_replicaset(self.d(name), self.rs_list())

    def image_of(self, pod):
        return pod["spec"]["containers"][0]["image"]

    def set_image(self, image, name="web"):
        self.api.patch("deployments", name, {"spec": {"template": {"spec": {
            "containers": [{"name": "c", "image": image}]}}}}, "default")

    def rollout_done(self, name="web"):
        """kubectl rollout status's test."""
        d = self.d(name)
        s, r = d.get("status") or {}, d["spec"]["replicas"]
        return (d["metadata"]["generation"] <= s.get("observedGeneration", 0)
                and s.get("updatedReplicas", 0) == r and s.get("replicas", 0) == r
                and s.get("availableReplicas", 0) == r)


@pytest.mark.parametrize("surge, unavailable, replicas, expected", [
    ("25%", "25%", 4, (1, 1)),
    ("25%", "25%", 5, (2, 1)),     # surge rounds up, unavailable down
    ("25%", "25%", 1, (1, 0)),
    (0, "25%", 3, (0, 1)),         # both 0 after rounding: unavailable becomes 1
    (2, 0, 3, (2, 0)),
    ("100%", "50%", 3, (3, 1)),
    (None, None, 10, (3, 2)),      # defaults 25% / 25%
])
def test_fenceposts_round_as_upstream(surge, unavailable, replicas, expected):
    assert du.resolve_fenceposts(surge, unavailable, replicas) == expected


def test_the_template_hash_is_stable_safe_and_moves_with_template_and_collisions():
    t = deployment()["spec"]["template"]
    h = du.compute_hash(t)
    assert h == du.compute_hash(dict(reversed(list(t.items()))))
    assert set(h) <= set(du.SAFE_ALPHABET)
    other = deployment(image="kfs/echo:2")["spec"]["template"]
    assert len({h, du.compute_hash(other), du.compute_hash(t, 1)}) == 3


def test_a_new_deployment_gets_a_replicaset_named_by_hash_with_revision_and_conditions():
    c = Cluster(deployment(replicas=3)).settle(ready=False)
    d = c.d()
    [rs] = c.rs_list()
    h = du.compute_hash(d["spec"]["template"])
    assert meta.name(rs) == f"web-{h}"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", du.HASH_LABEL: h}
    assert rs["spec"]["template"]["metadata"]["labels"][du.HASH_LABEL] == h
    assert meta.controller_of(rs)["uid"] == d["metadata"]["uid"]
    assert meta.annotations(rs)[du.REVISION] == "1" == meta.annotations(d)[du.REVISION]
    assert meta.annotations(rs)[du.DESIRED_REPLICAS] == "3"
    assert meta.annotations(rs)[du.MAX_REPLICAS] == "4"  # 3 + 25% rounded up
    assert rs["spec"]["replicas"] == 3 and len(c.api.all("pods")) == 3
    progressing = meta.get_condition(d["status"], "Progressing")
    assert progressing["reason"] in (du.NEW_RS_CREATED, du.RS_UPDATED)
    assert meta.get_condition(d["status"], "Available")["status"] == "False"


def test_a_rollout_completes_with_the_status_kubectl_rollout_status_waits_for():
    c = Cluster(deployment(replicas=3)).settle()
    d = c.d()
    assert c.rollout_done()
    assert {k: d["status"].get(k, 0) for k in ("replicas", "updatedReplicas", "readyReplicas",
                                               "availableReplicas", "unavailableReplicas")} == \
        {"replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3,
         "unavailableReplicas": 0}
    assert meta.get_condition(d["status"], "Progressing")["reason"] == du.NEW_RS_AVAILABLE
    avail = meta.get_condition(d["status"], "Available")
    assert (avail["status"], avail["reason"]) == ("True", du.MIN_AVAILABLE)


@pytest.mark.parametrize("replicas, surge, unavailable", [
    (4, "25%", "25%"), (5, 1, 0), (5, 0, 2), (3, "50%", "50%"), (10, 3, 2),
])
def test_a_rolling_update_stays_within_max_surge_and_max_unavailable(replicas, surge, unavailable):
    strategy = {"type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}
    c = Cluster(deployment(replicas=replicas, strategy=strategy)).settle()
    max_surge = du.max_surge(c.d())
    max_unavailable = du.max_unavailable(c.d())
    c.set_image("kfs/echo:2")

    def check(cluster):
        pods = [p for p in cluster.api.all("pods") if not p["metadata"].get("deletionTimestamp")]
        ready = [p for p in pods if meta.condition_true(p, "Ready")]
        assert len(pods) <= replicas + max_surge
        assert len(ready) >= replicas - max_unavailable
    c.settle(ready=1, check=check)  # one pod becomes Ready per round
    assert c.rollout_done()
    assert {c.image_of(p) for p in c.api.all("pods")} == {"kfs/echo:2"}
    assert meta.annotations(c.d())[du.REVISION] == "2"


def test_recreate_scales_old_pods_to_zero_before_creating_the_new_replicaset():
    c = Cluster(deployment(replicas=3, strategy={"type": "Recreate"})).settle()
    c.set_image("kfs/echo:2")
    c.dc.drain()
    assert len(c.rs_list()) == 1 and c.rs_list()[0]["spec"]["replicas"] == 0
    c.settle()
    assert c.rollout_done()
    assert sorted(rs["spec"]["replicas"] for rs in c.rs_list()) == [0, 3]
    assert {c.image_of(p) for p in c.api.all("pods")} == {"kfs/echo:2"}


def test_scaling_a_stable_deployment_scales_its_replicaset_without_a_new_revision():
    c = Cluster(deployment(replicas=3)).settle()
    for n in (8, 2):
        c.api.patch("deployments", "web", {"spec": {"replicas": n}}, "default")
        c.settle()
        assert len(c.rs_list()) == 1 and len(c.api.all("pods")) == n and c.rollout_done()
    assert meta.annotations(c.d())[du.REVISION] == "1"


def test_scaling_in_the_middle_of_a_rollout_is_proportional():
    c = Cluster(deployment(replicas=10, strategy={"type": "RollingUpdate", "rollingUpdate": {
        "maxSurge": 3, "maxUnavailable": 2}})).settle()
    c.set_image("kfs/echo:2")
    c.settle(ready=False)   # new pods stay unready: the rollout is stuck half way
    new = meta.name(c.new_rs())

    def sizes():
        return sorted((meta.name(rs) == new, rs["spec"]["replicas"]) for rs in c.rs_list())
    assert sizes() == [(False, 8), (True, 5)]   # 10 - maxUnavailable 2; 13 = 10 + maxSurge 3
    c.api.patch("deployments", "web", {"spec": {"replicas": 20}}, "default")
    c.settle(ready=False)
    # 23 = 20 + 3 shared in proportion 8:5 -> 14.15 and 8.85, rounded
    assert sizes() == [(False, 14), (True, 9)]


def test_rollout_undo_makes_the_old_replicaset_new_again_with_the_next_revision():
    c = Cluster(deployment(replicas=2)).settle()
    first = c.new_rs()
    c.set_image("kfs/echo:2")
    c.settle()
    # what kubectl 1.32 does: the old ReplicaSet's template (minus the hash label) goes back
    template = first["spec"]["template"]
    template["metadata"]["labels"].pop(du.HASH_LABEL)
    c.api.patch("deployments", "web", {"spec": {"template": template}}, "default")
    c.settle()
    new = c.new_rs()
    assert meta.name(new) == meta.name(first)
    assert meta.annotations(new)[du.REVISION] == "3"
    assert meta.annotations(new)[du.REVISION_HISTORY] == "1"
    assert {c.image_of(p) for p in c.api.all("pods")} == {"kfs/echo:1"} and c.rollout_done()


def test_revision_history_limit_deletes_the_oldest_scaled_down_replicasets():
    c = Cluster(deployment(replicas=1, revisionHistoryLimit=2)).settle()
    for i in range(2, 7):
        c.set_image(f"kfs/echo:{i}")
        c.settle()
    revisions = sorted(du.revision(rs) for rs in c.rs_list())
    assert revisions == [4, 5, 6]


def test_a_paused_deployment_does_not_roll_out_until_resumed():
    c = Cluster(deployment(replicas=2)).settle()
    c.api.patch("deployments", "web", {"spec": {"paused": True}}, "default")
    c.set_image("kfs/echo:2")
    c.settle()
    assert len(c.rs_list()) == 1
    cond = meta.get_condition(c.d()["status"], "Progressing")
    assert (cond["status"], cond["reason"]) == ("Unknown", du.PAUSED)
    c.api.patch("deployments", "web", {"spec": {"paused": False}}, "default")
    c.settle()
    assert len(c.rs_list()) == 2 and c.rollout_done()
    assert {c.image_of(p) for p in c.api.all("pods")} == {"kfs/echo:2"}


def test_a_paused_deployment_still_scales():
    c = Cluster(deployment(replicas=2)).settle()
    c.api.patch("deployments", "web", {"spec": {"paused": True}}, "default")
    c.api.patch("deployments", "web", {"spec": {"replicas": 4}}, "default")
    c.settle()
    assert len(c.api.all("pods")) == 4 and len(c.rs_list()) == 1


def test_a_deployment_created_paused_creates_nothing():
    c = Cluster(deployment(replicas=2, paused=True)).settle()
    assert c.rs_list() == [] and c.api.all("pods") == []


def test_rollout_restart_annotation_in_the_template_rolls_new_pods():
    c = Cluster(deployment(replicas=2)).settle()
    old = {meta.name(p) for p in c.api.all("pods")}
    c.api.patch("deployments", "web", {"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z"}}}}}, "default")
    c.settle()
    assert not old & {meta.name(p) for p in c.api.all("pods")} and c.rollout_done()


def test_a_rollout_without_progress_past_its_deadline_reports_progress_deadline_exceeded():
    c = Cluster(deployment(replicas=2, progressDeadlineSeconds=30)).settle()
    c.set_image("kfs/echo:2")
    c.settle(ready=False)
    c.now += 31
    again = c.dc.reconcile("default/web")
    cond = meta.get_condition(c.d()["status"], "Progressing")
    assert (cond["status"], cond["reason"]) == ("False", du.TIMED_OUT), again


def test_a_stuck_rollout_asks_to_be_looked_at_when_its_deadline_passes():
    c = Cluster(deployment(replicas=2, progressDeadlineSeconds=30)).settle()
    c.set_image("kfs/echo:2")
    c.settle(ready=False)
    assert 0 < c.dc.reconcile("default/web") <= 32


def test_an_orphan_replicaset_matching_the_selector_is_adopted():
    orphan = replicaset(name="stray", labels={"app": "web"}, replicas=0)
    c = Cluster(orphan, deployment(replicas=1)).settle()
    assert meta.controller_of(c.api.get("replicasets", "stray", "default"))["kind"] == "Deployment"


@pytest.mark.parametrize("change", OWNER_CHANGES, ids=lambda f: f.__name__)
def test_no_orphan_replicaset_is_adopted_for_a_deployment_the_api_server_no_longer_has(change):
    """RecheckDeletionTimestamp: before adopting, the owner is read again from the server."""
    orphan = replicaset(name="stray", labels={"app": "web"}, replicas=0)
    c = Cluster(orphan, deployment(replicas=1))
    c.api.hold_events()  # the cache keeps showing the Deployment as it was
    change(c.api, "deployments", "web")
    try:
        c.dc.reconcile("default/web")
    except ApiError as e:  # its status write from the stale copy is refused: fine
        assert e.conflict
    assert meta.controller_of(c.api.get("replicasets", "stray", "default")) is None
    c.api.release_events()


def test_a_deployment_being_deleted_creates_no_replicaset():
    c = Cluster(deployment(replicas=2, ))
    c.api.delete("deployments", "web", "default", propagation_policy="Foreground")
    c.settle()
    assert c.rs_list() == []
