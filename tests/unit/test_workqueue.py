import threading

from kfs.util import wait_for
from kfs.workqueue import WorkQueue, start_workers


def test_a_key_added_twice_before_processing_is_handed_out_once():
    q = WorkQueue()
    q.add("a"), q.add("a"), q.add("b")
    assert [q.get(timeout=0), q.get(timeout=0), q.get(timeout=0)] == ["a", "b", None]


def test_a_key_being_processed_is_not_handed_out_again_until_done():
    q = WorkQueue()
    q.add("a")
    assert q.get(timeout=0) == "a"
    q.add("a")
    assert q.get(timeout=0) is None
    q.done("a")
    assert q.get(timeout=0) == "a"


def test_done_without_a_new_add_does_not_requeue():
    q = WorkQueue()
    q.add("a")
    q.done(q.get(timeout=0))
    assert q.get(timeout=0) is None


def test_add_after_delays_the_key():
    q = WorkQueue()
    q.add_after("a", 0.2)
    assert q.get(timeout=0.01) is None
    assert q.get(timeout=2) == "a"


def test_rate_limited_adds_back_off_exponentially_until_forgotten():
    q = WorkQueue(base_delay=0.01, max_delay=1)
    for _ in range(3):
        q.add_rate_limited("a")
    assert q.num_requeues("a") == 3
    q.forget("a")
    assert q.num_requeues("a") == 0


def test_shutdown_wakes_blocked_workers_with_none():
    q = WorkQueue()
    got = []
    t = threading.Thread(target=lambda: got.append(q.get()))
    t.start()
    q.shutdown()
    t.join(5)
    assert got == [None]


def test_workers_requeue_a_failing_key_until_reconcile_succeeds():
    q = WorkQueue(base_delay=0.001)
    attempts = []

    def reconcile(key):
        attempts.append(key)
        if len(attempts) < 3:
            raise RuntimeError("not yet")
    start_workers(q, reconcile, count=2)
    q.add("ns/x")
    wait_for(lambda: len(attempts) == 3, timeout=5, what="three attempts")
    wait_for(lambda: q.num_requeues("ns/x") == 0, timeout=5, what="the key to be forgotten")
    q.shutdown()


def test_reconcile_returning_seconds_looks_at_the_key_again_later():
    q = WorkQueue()
    seen = []
    start_workers(q, lambda key: seen.append(key) or (0.05 if len(seen) < 2 else None))
    q.add("k")
    wait_for(lambda: len(seen) == 2, timeout=5, what="the key to come back")
    q.shutdown()
