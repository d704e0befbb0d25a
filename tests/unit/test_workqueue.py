import threading

from kfs.util import wait_for
from kfs.workqueue import ItemExponentialFailureRateLimiter, WorkQueue, start_workers


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


class Clock:
    """A clock that moves only when told."""

    def __init__(self, t=100.0):
        self.t = t

    def __call__(self):
        return self.t


def test_a_delayed_key_comes_out_when_the_queues_clock_says_so():
    clock = Clock()
    q = WorkQueue(clock=clock)
    q.add_after("a", 30)
    clock.t += 29.9
    assert q.get(timeout=0) is None
    clock.t += 0.1
    assert q.get(timeout=0) == "a"


BACKOFF = [0.005 * 2 ** n for n in range(14)] + [60.0, 60.0]  # 5 ms ... 40.96 s, then 60 s


def test_rate_limited_adds_back_off_from_5ms_doubling_up_to_60s_until_forgotten():
    clock = Clock()
    q = WorkQueue(clock=clock)
    seen = []
    for expected in BACKOFF + [None] + BACKOFF[:3]:
        if expected is None:
            q.forget("a")
            assert q.num_requeues("a") == 0
            continue
        start = clock.t
        q.add_rate_limited("a")
        clock.t = start + expected * 0.99
        early = q.get(timeout=0)
        clock.t = start + expected
        seen.append((expected, early, q.get(timeout=0)))
        q.done("a")
    assert seen == [(d, None, "a") for d in BACKOFF + BACKOFF[:3]]
    assert q.num_requeues("a") == 3


def test_the_back_off_is_counted_per_key():
    rl = ItemExponentialFailureRateLimiter(base_delay=0.005, max_delay=1000)
    assert [rl.when("a"), rl.when("a"), rl.when("b"), rl.when("a")] == [0.005, 0.01, 0.005, 0.02]
    assert [rl.when("a") for _ in range(17)][-2:] == [1000, 1000]  # upstream's cap


def test_shutdown_wakes_blocked_workers_with_none():
    q = WorkQueue()
    got = []
    t = threading.Thread(target=lambda: got.append(q.get()))
    t.start()
    q.shutdown()
    t.join(5)
    assert got == [None]


def test_workers_requeue_a_failing_key_until_reconcile_succeeds():
    q = WorkQueue(ItemExponentialFailureRateLimiter(base_delay=0.001))
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
