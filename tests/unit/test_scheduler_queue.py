"""The scheduling queue: active, backoff, unschedulable, and the in-flight subtlety."""
from kfs.scheduler.queue import SchedulingQueue


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
    q.move_all_to_active_or_backoff("NodeAdd")
    assert q.pop(0)[0] == "ns/a"


def test_a_moved_pod_still_serves_its_backoff():
    q, clock = queue(initial_backoff=1.0)
    q.add("ns/a")
    key, cycle = q.pop(0)
    q.add_unschedulable(key, cycle)
    q.done(key)
    q.move_all_to_active_or_backoff("NodeAdd")  # at once: the 1 s backoff is not over
    assert q.pending()["backoff"] == ["ns/a"] and q.pop(0) is None
    clock.now += 1.0
    assert q.pop(0)[0] == "ns/a"


def test_an_event_during_the_attempt_sends_the_failed_pod_to_backoff_not_to_sleep():
    q, clock = queue()
    q.add("ns/a")
    key, cycle = q.pop(0)
    q.move_all_to_active_or_backoff("NodeAdd")  # a node appeared while we were deciding
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
