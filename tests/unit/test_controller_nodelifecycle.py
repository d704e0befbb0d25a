"""The node lifecycle controller's reconcile, on FakeApi, with a fake clock."""
import pytest

from kfs import meta
from kfs.controllers.manager import SharedInformers
from kfs.controllers.nodelifecycle import NOT_READY, UNREACHABLE, NodeLifecycleController
from tests.controller_objects import lease, node, pod
from tests.fakes import FakeApi


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def setup(*objects, grace=20, toleration=30):
    api = FakeApi(*objects)
    clock = Clock()
    c = NodeLifecycleController(api, SharedInformers(api, api.informer), grace_period=grace,
                                default_unreachable_toleration=toleration,
                                default_not_ready_toleration=toleration, clock=clock)
    return api, c, clock


def renew(api, name):
    current = api.get("leases", name, "kube-node-lease")
    current["spec"]["renewTime"] = meta.now() + f"#{current['metadata']['resourceVersion']}"
    api.replace(current)


def taints(api, name="node1"):
    return sorted((t["key"], t["effect"]) for t in
                  api.get("nodes", name)["spec"].get("taints") or [])


def ready_status(api, name="node1"):
    c = meta.get_condition(api.get("nodes", name)["status"], "Ready")
    return c["status"], c.get("reason")


def test_a_node_renewing_its_lease_stays_ready_and_untainted():
    api, c, clock = setup(node("node1"), lease("node1"))
    for _ in range(5):
        c.reconcile("node1")
        clock.t += 15
        renew(api, "node1")
    c.reconcile("node1")
    assert ready_status(api) == ("True", "KubeletReady") and taints(api) == []


def test_a_silent_node_becomes_unknown_tainted_unreachable_and_its_pods_not_ready():
    api, c, clock = setup(node("node1"), lease("node1"), pod("a", node="node1"),
                          pod("b", node="node2"))
    assert c.reconcile("node1") == pytest.approx(20.1)   # look again when the grace ends
    clock.t += 21
    c.reconcile("node1")
    assert ready_status(api) == ("Unknown", "NodeStatusUnknown")
    assert taints(api) == [(UNREACHABLE, "NoExecute"), (UNREACHABLE, "NoSchedule")]
    assert not meta.condition_true(api.get("pods", "a", "default"), "Ready")
    assert meta.condition_true(api.get("pods", "b", "default"), "Ready")


def test_the_grace_period_counts_from_the_last_renewal_seen():
    api, c, clock = setup(node("node1"), lease("node1"))
    c.reconcile("node1")
    clock.t += 15
    renew(api, "node1")
    c.reconcile("node1")
    clock.t += 15                                  # 30 s since start, 15 since renewal
    c.reconcile("node1")
    assert ready_status(api)[0] == "True"


def test_a_node_that_never_posted_status_becomes_unknown_after_the_grace_period():
    bare = node("node1")
    bare["status"] = {}
    api, c, clock = setup(bare)
    c.reconcile("node1")
    assert taints(api) == []
    clock.t += 21
    c.reconcile("node1")
    assert ready_status(api) == ("Unknown", "NodeStatusNeverUpdated")


def test_a_node_reporting_not_ready_is_tainted_not_ready():
    api, c, clock = setup(node("node1", ready=False), lease("node1"))
    c.reconcile("node1")
    assert taints(api) == [(NOT_READY, "NoExecute"), (NOT_READY, "NoSchedule")]


def test_a_node_coming_back_gets_its_taints_removed():
    api, c, clock = setup(node("node1"), lease("node1"))
    c.reconcile("node1")
    clock.t += 21
    c.reconcile("node1")
    assert taints(api)
    renew(api, "node1")                       # the kubelet is back: lease and status
    n = api.get("nodes", "node1")
    meta.get_condition(n["status"], "Ready").update(status="True", reason="KubeletReady",
                                                    lastHeartbeatTime=meta.now())
    api.update_status(n)
    c.reconcile("node1")
    assert taints(api) == [] and ready_status(api)[0] == "True"


def test_other_taints_are_left_alone():
    api, c, clock = setup(node("node1", taints=[{"key": "gpu", "effect": "NoSchedule"}]),
                          lease("node1"))
    c.reconcile("node1")
    clock.t += 21
    c.reconcile("node1")
    assert ("gpu", "NoSchedule") in taints(api)


@pytest.mark.parametrize("toleration, taint, expected", [
    ({"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute"},
     {"key": UNREACHABLE, "effect": "NoExecute"}, True),
    ({"operator": "Exists"}, {"key": "anything", "effect": "NoExecute"}, True),
    ({"key": "k", "value": "v", "effect": "NoExecute"}, {"key": "k", "value": "v", "effect": "NoExecute"}, True),
    ({"key": "k", "value": "v"}, {"key": "k", "value": "w", "effect": "NoExecute"}, False),
    ({"key": UNREACHABLE, "operator": "Exists", "effect": "NoSchedule"},
     {"key": UNREACHABLE, "effect": "NoExecute"}, False),
    ({"key": NOT_READY, "operator": "Exists"}, {"key": UNREACHABLE, "effect": "NoExecute"}, False),
])
def test_tolerations_match_taints_by_key_operator_value_and_effect(toleration, taint, expected):
    assert meta.tolerates(toleration, taint) is expected


UNREACHABLE_TAINT = [{"key": UNREACHABLE, "effect": "NoExecute"}]


@pytest.mark.parametrize("tolerations, taint_list, delay", [
    ([], UNREACHABLE_TAINT, 30),                                  # the course-sized default
    ([{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute",
       "tolerationSeconds": 5}], UNREACHABLE_TAINT, 5),           # explicit seconds win
    ([{"key": UNREACHABLE, "operator": "Exists"}], UNREACHABLE_TAINT, None),  # forever
    ([{"operator": "Exists", "tolerationSeconds": 50},
      {"key": UNREACHABLE, "operator": "Exists", "tolerationSeconds": 10}],
     UNREACHABLE_TAINT, 10),                                      # the smallest
    ([], [{"key": "dedicated", "effect": "NoExecute"}], 0),      # not tolerated: now
    ([{"key": "dedicated", "operator": "Exists"}],
     [{"key": "dedicated", "effect": "NoExecute"}] + UNREACHABLE_TAINT, 30),
])
def test_how_long_a_pod_may_stay_on_a_tainted_node(tolerations, taint_list, delay):
    api, c, clock = setup()
    p = pod("a")
    p["spec"]["tolerations"] = tolerations
    assert c.eviction_delay(p, taint_list) == delay


def test_pods_are_evicted_when_their_toleration_runs_out_and_not_before():
    patient = pod("patient", node="node1")
    patient["spec"]["tolerations"] = [{"key": UNREACHABLE, "operator": "Exists",
                                       "effect": "NoExecute", "tolerationSeconds": 3600}]
    api, c, clock = setup(node("node1"), lease("node1"), pod("a", node="node1"), patient,
                          pod("elsewhere", node="node2"), node("node2"), lease("node2"))
    c.reconcile("node1")
    c.reconcile("node2")
    clock.t += 21
    renew(api, "node2")
    c.reconcile("node2")
    wait = c.reconcile("node1")
    assert sorted(meta.name(p) for p in api.all("pods")) == ["a", "elsewhere", "patient"]
    assert 29 < wait <= 30.1                       # a's default toleration of 30 s
    t = c.wall
    c.wall = lambda: t() + 31
    c.reconcile("node1")
    assert sorted(meta.name(p) for p in api.all("pods")) == ["elsewhere", "patient"]


def test_the_resync_enqueues_every_node():
    api, c, clock = setup(node("node1"), node("node2"))
    c.drain()
    c.resync()
    assert {c.queue.get(timeout=0), c.queue.get(timeout=0)} == {"node1", "node2"}


def test_nothing_is_evicted_when_every_node_went_silent_at_once():
    """Full disruption: more likely our own connectivity than every node at once."""
    api, c, clock = setup(node("node1"), lease("node1"), pod("a", node="node1"))
    c.reconcile("node1")
    clock.t += 21
    c.reconcile("node1")
    t = c.wall
    c.wall = lambda: t() + 300
    c.reconcile("node1")
    assert taints(api) and [meta.name(p) for p in api.all("pods")] == ["a"]
