"""The scheduling queue: active, backoff, unschedulable, the in-flight subtlety, and the
queueing hints that decide which parked pods an event wakes."""
from kfs.scheduler import events, plugins
from kfs.scheduler.framework import Framework
from kfs.scheduler.queue import SchedulingQueue
from tests.unit.scheduler_objects import node, pod


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def queue(**kw):
    clock = Clock()
    return SchedulingQueue(clock=clock, **kw), clock


def test_higher_priority_first_then_first_come_first_served():
    q, _ = queue()
    q.add("ns/a")
    q.add("ns/b", priority=10)
    q.add("ns/c")
    assert [q.pop(0)[0] for _ in range(3)] == ["ns/b", "ns/a", "ns/c"]


def test_a_pod_added_twice_is_popped_once():
    q, _ = queue()
    q.add("ns/a")
    q.add("ns/a")
    assert q.pop(0)[0] == "ns/a" and q.pop(0) is None


def test_an_unschedulable_pod_waits_for_a_cluster_event():
    q, clock = queue()
    q.add("ns/a")
    key, cycle = q.pop(0)
    q.add_unschedulable(key, cycle)
    q.done(key)
    clock.now += 60
    assert q.pop(0) is None and q.pending()["unschedulable"] == ["ns/a"]
    q.move_all_to_active_or_backoff(events.NODE_ADD)
    assert q.pop(0)[0] == "ns/a"


def test_an_event_can_leave_out_the_pod_it_is_about():
    """A failed binding's AssignedPodDelete wakes the others, not the failed pod itself."""
    q, clock = queue()
    for key in ("ns/a", "ns/b"):
        q.add(key)
        k, cycle = q.pop(0)
        q.add_unschedulable(k, cycle)
        q.done(k)
    clock.now += 60
    q.move_all_to_active_or_backoff(events.ASSIGNED_POD_DELETE, skip="ns/a")
    assert q.pending()["unschedulable"] == ["ns/a"] and q.pop(0)[0] == "ns/b"


def test_a_moved_pod_still_serves_its_backoff():
    q, clock = queue(initial_backoff=1.0)
    q.add("ns/a")
    key, cycle = q.pop(0)
    q.add_unschedulable(key, cycle)
    q.done(key)
    q.move_all_to_active_or_backoff(events.NODE_ADD)  # at once: the 1 s backoff is not over
    assert q.pending()["backoff"] == ["ns/a"] and q.pop(0) is None
    clock.now += 1.0
    assert q.pop(0)[0] == "ns/a"


def test_an_event_during_the_attempt_sends_the_failed_pod_to_backoff_not_to_sleep():
    q, clock = queue()
    q.add("ns/a")
    key, cycle = q.pop(0)
    q.move_all_to_active_or_backoff(events.NODE_ADD)  # a node appeared while we were deciding
    q.add_unschedulable(key, cycle)
    q.done(key)
    assert q.pending()["unschedulable"] == [] and q.pending()["backoff"] == ["ns/a"]
    clock.now += 1.0
    assert q.pop(0)[0] == "ns/a"


def test_backoff_doubles_per_failure_up_to_the_maximum():
    q, _ = queue(initial_backoff=1.0, max_backoff=10.0)
    durations = []
    for _ in range(6):
        q.add_backoff("ns/a")
        durations.append(q.backoff_duration("ns/a"))
    assert durations == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    q.forget("ns/a")
    q.add_backoff("ns/a")
    assert q.backoff_duration("ns/a") == 1.0


def test_leftover_unschedulable_pods_are_retried_after_the_maximum_wait():
    q, clock = queue(max_in_unschedulable=30.0)
    q.add("ns/a")
    key, cycle = q.pop(0)
    q.add_unschedulable(key, cycle)
    q.done(key)
    clock.now += 29
    q.flush_unschedulable_leftover()
    assert q.pop(0) is None
    clock.now += 1
    q.flush_unschedulable_leftover()
    assert q.pop(0)[0] == "ns/a"


def test_a_changed_pod_leaves_the_unschedulable_pool():
    q, clock = queue()
    q.add("ns/a")
    key, cycle = q.pop(0)
    q.add_unschedulable(key, cycle)
    q.done(key)
    clock.now += 5
    q.update("ns/a")  # e.g. a toleration added
    assert q.pop(0)[0] == "ns/a"


def test_a_deleted_pod_is_never_popped():
    q, _ = queue()
    q.add("ns/a")
    q.add("ns/b")
    q.delete("ns/a")
    assert q.pop(0)[0] == "ns/b" and q.pop(0) is None


def test_close_wakes_a_waiting_pop():
    import threading
    q, _ = queue()
    got = []
    t = threading.Thread(target=lambda: got.append(q.pop()))
    t.start()
    q.close()
    t.join(5)
    assert not t.is_alive() and got == [None]


# -- queueing hints: an event wakes only the pods it may help -----------------------------

def hinted_queue(**kw):
    """A queue that asks the default plugins' hints, as the scheduler's does (no backoff,
    so that a woken pod is active at once)."""
    hints = Framework(plugins.FILTERS, plugins.default_scores()).queueing_hints()
    return queue(queueing_hints=hints, initial_backoff=0.0, **kw)


def park(q, key, p, *rejected_by):
    q.add(key)
    popped, cycle = q.pop(0)
    q.add_unschedulable(popped, cycle, p, rejected_by)
    q.done(popped)


def test_a_node_label_change_wakes_the_pod_waiting_for_that_label_not_the_one_waiting_for_cpu():
    q, _ = hinted_queue()
    park(q, "ns/picky", pod("picky", node_selector={"disk": "ssd"}), "NodeAffinity")
    park(q, "ns/big", pod("big", cpu="8"), "NodeResourcesFit")
    q.move_all_to_active_or_backoff(events.NODE_LABEL_CHANGE, node(),
                                    node(labels={"disk": "ssd"}))
    assert q.pending() == {"active": ["ns/picky"], "backoff": [], "unschedulable": ["ns/big"]}


def test_a_label_the_pod_does_not_ask_for_wakes_nobody():
    q, _ = hinted_queue()
    park(q, "ns/picky", pod("picky", node_selector={"disk": "ssd"}), "NodeAffinity")
    q.move_all_to_active_or_backoff(events.NODE_LABEL_CHANGE, node(),
                                    node(labels={"zone": "a"}))
    assert q.pending()["unschedulable"] == ["ns/picky"] and q.pop(0) is None


def test_a_bound_pod_deleted_wakes_the_pod_waiting_for_cpu_not_the_one_waiting_for_a_label():
    q, _ = hinted_queue()
    park(q, "ns/picky", pod("picky", node_selector={"disk": "ssd"}), "NodeAffinity")
    park(q, "ns/big", pod("big", cpu="1"), "NodeResourcesFit")
    q.move_all_to_active_or_backoff(events.ASSIGNED_POD_DELETE,
                                    pod("gone", cpu="2", node_name="node1"), None)
    assert q.pending() == {"active": ["ns/big"], "backoff": [], "unschedulable": ["ns/picky"]}


def test_a_pod_rejected_by_two_plugins_is_woken_when_either_may_help():
    q, _ = hinted_queue()  # picky on one node, too big for the other
    park(q, "ns/a", pod("a", cpu="1", node_selector={"disk": "ssd"}), "NodeAffinity",
         "NodeResourcesFit")
    q.move_all_to_active_or_backoff(events.ASSIGNED_POD_DELETE, pod("gone", node_name="node2"))
    assert q.pending()["active"] == ["ns/a"]


def test_a_pod_no_plugin_rejected_is_woken_by_any_event():
    q, _ = hinted_queue()
    park(q, "ns/lonely", pod("lonely"))  # no nodes at all: no plugin said no
    q.move_all_to_active_or_backoff(events.NODE_CONDITION_CHANGE, node(ready="False"), node())
    assert q.pending()["active"] == ["ns/lonely"]


def test_a_hint_that_fails_wakes_the_pod_rather_than_leave_it_parked():
    def broken(pod, old, new):
        raise KeyError("spec")
    registered = events.ClusterEvent(events.NODE, events.ActionType.ADD)
    q, _ = queue(queueing_hints={registered: [("Broken", broken)]}, initial_backoff=0.0)
    park(q, "ns/a", pod("a"), "Broken")
    q.move_all_to_active_or_backoff(events.NODE_ADD, None, node())
    assert q.pending()["active"] == ["ns/a"]


def test_a_pod_whose_plugins_hear_nothing_is_still_retried_after_the_maximum_wait():
    q, clock = hinted_queue(max_in_unschedulable=30.0)
    park(q, "ns/picky", pod("picky", node_selector={"disk": "ssd"}), "NodeAffinity")
    q.move_all_to_active_or_backoff(events.NODE_ALLOCATABLE_CHANGE, node(), node(cpu="8"))
    clock.now += 29
    q.flush_unschedulable_leftover()
    assert q.pop(0) is None
    clock.now += 1
    q.flush_unschedulable_leftover()
    assert q.pop(0)[0] == "ns/picky"
