"""schedule_one and the scheduler's reactions to cluster events, over the FakeApi."""
import pytest

from kfs import meta
from kfs.scheduler import plugins
from kfs.scheduler.framework import Framework, ScorePlugin
from kfs.scheduler.queue import SchedulingQueue
from kfs.scheduler.scheduler import Scheduler
from tests.fakes import FakeApi, status_error
from tests.unit.scheduler_objects import node, pod

TOO_BIG = ("0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: "
           "2 No preemption victims found for incoming pod.")


class Recorder:
    """Stands in for kfs.client.EventRecorder: keeps (type, reason, message, pod key)."""

    def __init__(self):
        self.events = []

    def normal(self, obj, reason, message):
        self.events.append(("Normal", reason, message, meta.key(obj)))

    def warning(self, obj, reason, message):
        self.events.append(("Warning", reason, message, meta.key(obj)))


def new_scheduler(api, name="default-scheduler"):
    framework = Framework(plugins.FILTERS, plugins.default_scores())
    queue = SchedulingQueue(initial_backoff=0.0, queueing_hints=framework.queueing_hints())
    return Scheduler(api, name, framework, queue, recorder=Recorder(),
                     node_informer=api.informer("nodes"), pod_informer=api.informer("pods"),
                     bind_workers=0)


@pytest.fixture
def api():
    return FakeApi()


@pytest.fixture
def sched(api):
    return new_scheduler(api)


def create(api, obj):
    body = {k: v for k, v in obj.items()}
    body["metadata"] = {k: v for k, v in obj["metadata"].items() if k != "uid"}
    return api.create(body)


def drain(sched):
    """Run the scheduling loop until the queue has nothing ready."""
    while sched.run_once(timeout=0) is not None:
        pass


def node_of(api, name, ns="default"):
    return api.get("pods", name, ns)["spec"].get("nodeName")


def test_a_pending_pod_is_bound_through_the_binding_subresource(api, sched):
    create(api, node("node1"))
    create(api, pod("web"))
    drain(sched)
    assert api.verbs("bind") == [("bind", "pods", "default/web", "node1")]
    assert ("Normal", "Scheduled", "Successfully assigned default/web to node1",
            "default/web") in sched.recorder.events


def test_a_pod_too_big_for_any_node_gets_the_condition_and_the_event(api, sched):
    create(api, node("node1", cpu="1"))
    create(api, node("node2", cpu="1"))
    create(api, pod("big", cpu="2"))
    drain(sched)
    got = api.get("pods", "big", "default")
    assert not got["spec"].get("nodeName")
    cond = meta.get_condition(got["status"], "PodScheduled")
    assert (cond["status"], cond["reason"], cond["message"]) == ("False", "Unschedulable", TOO_BIG)
    assert ("Warning", "FailedScheduling", TOO_BIG, "default/big") in sched.recorder.events
    assert sched.queue.pending()["unschedulable"] == ["default/big"]


def test_our_own_status_write_does_not_wake_the_parked_pod(api, sched):
    create(api, node("node1", cpu="1"))
    create(api, pod("big", cpu="2"))
    drain(sched)
    assert api.verbs("patch/status")  # the condition was written (a MODIFIED event) ...
    assert sched.queue.pending() == {"active": [], "backoff": [], "unschedulable": ["default/big"]}


def test_a_parked_pod_is_scheduled_when_a_node_with_room_appears(api, sched):
    create(api, node("node1", cpu="1"))
    create(api, pod("big", cpu="2"))
    drain(sched)
    create(api, node("node2", cpu="4"))
    drain(sched)
    assert node_of(api, "big") == "node2"


def test_a_parked_pod_is_scheduled_when_a_bound_pod_goes_away(api, sched):
    create(api, node("node1", cpu="2"))
    create(api, pod("first", cpu="1500m"))
    drain(sched)
    create(api, pod("second", cpu="1"))
    drain(sched)
    assert node_of(api, "second") is None
    api.delete("pods", "first", "default")
    drain(sched)
    assert node_of(api, "second") == "node1"


def test_a_heartbeat_does_not_wake_parked_pods_but_a_new_label_does(api, sched):
    create(api, node("node1"))
    create(api, pod("picky", node_selector={"disk": "ssd"}))
    drain(sched)
    api.patch("nodes", "node1", {"status": {"conditions": [
        {"type": "Ready", "status": "True", "lastHeartbeatTime": meta.now()}]}})
    assert sched.queue.pending()["unschedulable"] == ["default/picky"]
    api.patch("nodes", "node1", {"metadata": {"labels": {"disk": "ssd"}}})
    drain(sched)
    assert node_of(api, "picky") == "node1"


def test_a_new_label_wakes_the_pod_that_wants_it_but_not_the_one_waiting_for_cpu(api, sched):
    create(api, node("node1", cpu="1"))
    create(api, pod("picky", node_selector={"disk": "ssd"}))
    create(api, pod("big", cpu="2"))
    drain(sched)
    assert sched.queue.pending()["unschedulable"] == ["default/big", "default/picky"]
    api.patch("nodes", "node1", {"metadata": {"labels": {"disk": "ssd"}}})
    assert sched.queue.pending() == {"active": ["default/picky"], "backoff": [],
                                     "unschedulable": ["default/big"]}
    drain(sched)
    assert node_of(api, "picky") == "node1" and node_of(api, "big") is None


def test_more_cpu_on_a_node_wakes_the_pod_waiting_for_cpu(api, sched):
    create(api, node("node1", cpu="1"))
    create(api, pod("big", cpu="2"))
    drain(sched)
    api.patch("nodes", "node1", {"status": {"allocatable": {"cpu": "4"}}})
    drain(sched)
    assert node_of(api, "big") == "node1"


def test_an_uncordoned_node_takes_the_pod_that_waited_for_it(api, sched):
    create(api, node("node1", unschedulable=True))
    create(api, pod("web"))
    drain(sched)
    assert sched.queue.pending()["unschedulable"] == ["default/web"]
    api.patch("nodes", "node1", {"spec": {"unschedulable": False}})
    drain(sched)
    assert node_of(api, "web") == "node1"


class SlowBindApi(FakeApi):
    """Bindings are only written when `flush` is called: the API server is slow."""

    def __init__(self):
        super().__init__()
        self.pending_binds = []

    def bind(self, pod, node_name):
        self.pending_binds.append((pod, node_name))

    def flush(self):
        for p, n in self.pending_binds:
            FakeApi.bind(self, p, n)
        self.pending_binds = []


def test_the_next_decision_counts_a_pod_whose_binding_is_still_in_flight():
    api = SlowBindApi()
    sched = new_scheduler(api)
    create(api, node("node1", cpu="2"))
    create(api, node("node2", cpu="2"))
    create(api, pod("a", cpu="1500m"))
    create(api, pod("b", cpu="1500m"))
    drain(sched)
    assert sorted(n for _, n in api.pending_binds) == ["node1", "node2"]
    api.flush()
    assert {node_of(api, "a"), node_of(api, "b")} == {"node1", "node2"}


def test_a_pod_is_not_scheduled_twice_while_its_binding_is_in_flight():
    api = SlowBindApi()
    sched = new_scheduler(api)
    create(api, node("node1"))
    create(api, pod("a"))
    drain(sched)
    api.patch("pods", "a", {"metadata": {"labels": {"touched": "yes"}}}, "default")
    drain(sched)
    assert len(api.pending_binds) == 1


def test_a_failed_binding_gives_the_node_back_and_retries_the_pod(api, sched):
    create(api, node("node1", cpu="2"))
    create(api, pod("a", cpu="1500m"))
    api.fail["bind"] = status_error(500, "InternalError", "etcd is unhappy")
    sched.run_once(timeout=0)
    assert node_of(api, "a") is None
    assert sched.cache.node_info("node1").requested.milli_cpu == 0
    failed = [e for e in sched.recorder.events if e[1] == "FailedScheduling"]
    assert failed and failed[0][2].startswith("binding rejected: 500 InternalError")
    cond = meta.get_condition(api.get("pods", "a", "default")["status"], "PodScheduled")
    assert cond["reason"] == "SchedulerError"
    drain(sched)
    assert node_of(api, "a") == "node1"


class DeferredBinder:
    """Stands in for the scheduler's binding threads: binding cycles run on `run()`."""

    def __init__(self):
        self.cycles = []

    def submit(self, fn, *args):
        self.cycles.append((fn, args))

    def run(self):
        cycles, self.cycles = self.cycles, []
        for fn, args in cycles:
            fn(*args)

    def shutdown(self, wait=True):
        pass


def test_a_failed_binding_wakes_the_pod_parked_for_the_room_it_held(api, sched):
    """upstream's handleBindingCycleError: forgetting the assumed pod is an
    AssignedPodDelete to the parked pods; the failed pod goes back through backoff."""
    sched.binder = DeferredBinder()
    create(api, node("node1", cpu="2"))
    create(api, pod("a", cpu="1500m"))
    sched.run_once(timeout=0)          # a assumed on node1, its binding in flight
    create(api, pod("b", cpu="1500m"))
    sched.run_once(timeout=0)          # no room for b while a is counted: parked
    assert sched.queue.pending()["unschedulable"] == ["default/b"]
    api.fail["bind"] = status_error(500, "InternalError", "etcd is unhappy")
    sched.binder.run()                 # a's binding fails
    assert sched.queue.pending()["unschedulable"] == []
    assert not sched.cache.is_assumed(api.get("pods", "a", "default"))
    drain(sched)
    sched.binder.run()
    bound = {node_of(api, "a"), node_of(api, "b")}
    assert bound == {"node1", None}    # one of them got the room, the other waits for it


def test_a_binding_that_raises_anything_forgets_the_pod_and_retries_it(api, sched):
    class Broken(Exception):
        pass
    create(api, node("node1", cpu="2"))
    create(api, pod("a", cpu="1500m"))
    api.fail["bind"] = Broken("a bug in the client")
    sched.run_once(timeout=0)
    assert sched.cache.node_info("node1").requested.milli_cpu == 0
    assert sched.queue.pending()["backoff"] == ["default/a"]
    drain(sched)
    assert node_of(api, "a") == "node1"


def test_a_pod_for_another_scheduler_is_left_alone(api, sched):
    create(api, node("node1"))
    create(api, pod("theirs", scheduler_name="my-scheduler"))
    drain(sched)
    assert api.verbs("bind") == []
    other = new_scheduler(api, "my-scheduler")
    other.on_pod("ADDED", api.get("pods", "theirs", "default"), None)
    other.on_node("ADDED", api.get("nodes", "node1"), None)
    drain(other)
    assert node_of(api, "theirs") == "node1"


def test_a_tainted_node_gets_only_pods_that_tolerate_the_taint(api, sched):
    taint = [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]
    create(api, node("node1", taints=taint))
    create(api, pod("web"))
    create(api, pod("db", tolerations=[{"key": "dedicated", "operator": "Equal",
                                        "value": "db", "effect": "NoSchedule"}]))
    drain(sched)
    assert node_of(api, "web") is None and node_of(api, "db") == "node1"
    msg = meta.get_condition(api.get("pods", "web", "default")["status"], "PodScheduled")["message"]
    assert msg.startswith("0/1 nodes are available: "
                          "1 node(s) had untolerated taint {dedicated: db}.")


def test_a_restarted_scheduler_counts_bound_pods_and_binds_only_pending_ones(api, sched):
    create(api, node("node1", cpu="2"))
    create(api, node("node2", cpu="2"))
    create(api, pod("a", cpu="1500m"))
    drain(sched)
    create(api, pod("b", cpu="1500m"))  # the first scheduler is "killed" before b
    fresh = new_scheduler(api)
    for n in api.all("nodes"):  # what the informers' first list delivers
        fresh.on_node("ADDED", n, None)
    for p in api.all("pods"):
        fresh.on_pod("ADDED", p, None)
    drain(fresh)
    assert len(api.verbs("bind")) == 2
    assert {node_of(api, "a"), node_of(api, "b")} == {"node1", "node2"}


def test_a_pod_deleted_while_parked_is_forgotten(api, sched):
    create(api, node("node1", cpu="1"))
    create(api, pod("big", cpu="2"))
    drain(sched)
    api.delete("pods", "big", "default")
    assert sched.queue.pending() == {"active": [], "backoff": [], "unschedulable": []}


def test_no_nodes_at_all_is_reported_in_upstreams_words(api, sched):
    create(api, pod("lonely"))
    drain(sched)
    assert ("Warning", "FailedScheduling", "no nodes available to schedule pods",
            "default/lonely") in sched.recorder.events


def test_an_attendee_plugin_that_crashes_is_a_scheduler_error_not_a_dead_scheduler(api):
    sched = new_scheduler(api)
    sched.queue = SchedulingQueue(initial_backoff=10.0)
    sched.framework = Framework(plugins.FILTERS, [ScorePlugin("oops", lambda p, n: {}["x"])])
    create(api, node("node1"))
    create(api, node("node2"))
    create(api, pod("web"))
    drain(sched)
    cond = meta.get_condition(api.get("pods", "web", "default")["status"], "PodScheduled")
    assert (cond["reason"], cond["message"]) == (
        "SchedulerError", "plugin 'oops' failed with: KeyError: 'x'")
    assert node_of(api, "web") is None and sched.queue.pending()["backoff"] == ["default/web"]
