"""The work queue every controller drains: client-go's ``util/workqueue``, shrunk.

Keys go in ("default/web"), workers take them out and reconcile. Three promises make
controllers simple and correct (the "stingy" queue):

- a key added many times before a worker takes it is processed once (``dirty`` set);
- a key is never handed to two workers at once: added while being processed, it is
  queued again only when the worker calls ``done`` (``processing`` set);
- a failing key comes back later and later (``add_rate_limited``, through the queue's
  rate limiter: 5 ms, 10 ms, 20 ms, ... per key, as upstream's
  ``ItemExponentialFailureRateLimiter``), and ``forget`` resets its count once it succeeds.

The queue reads the time from ``clock`` (``time.monotonic`` by default), so a test can
hand it a fake clock and check exactly when a delayed key comes out; ``get(timeout)``
blocks for at most `timeout` real seconds (``timeout=0`` never blocks).

What real Kubernetes does differently: client-go's default controller rate limiter is the
larger of this per-key back-off (capped at 1000 s) and a token bucket for the whole queue
(10 keys a second, bursts of 100); the delaying queue runs timers on its clock (a fake
clock's ``Step`` releases keys); metrics for queue depth, latency and retries.
"""
import heapq
import itertools
import logging
import threading
import time

log = logging.getLogger("kfs.workqueue")


class ItemExponentialFailureRateLimiter:
    """Per-key back-off: `base_delay` * 2 ** (failures so far), at most `max_delay`.

    Upstream's default is 5 ms to 1000 s. kfs caps at 60 s on purpose: a key that keeps
    failing in the course (a missing image, a broken admission, an API server that was
    down) is tried again within a minute of its cause being fixed, not up to 16 minutes
    later; a fix made through the API (a changed object) needs no retry at all, as the
    informer's event queues the key at once.
    """

    def __init__(self, base_delay=0.005, max_delay=60.0):
        self.base_delay, self.max_delay = base_delay, max_delay
        self.failures = {}
        self.lock = threading.Lock()

    def when(self, key):
        """The delay before `key`'s next try; counts one more failure."""
        with self.lock:
            n = self.failures.get(key, 0)
            self.failures[key] = n + 1
        return min(self.base_delay * 2 ** n, self.max_delay)

    def forget(self, key):
        with self.lock:
            self.failures.pop(key, None)

    def num_requeues(self, key):
        with self.lock:
            return self.failures.get(key, 0)


class WorkQueue:
    def __init__(self, rate_limiter=None, clock=time.monotonic):
        self.rate_limiter = rate_limiter or ItemExponentialFailureRateLimiter()
        self.clock = clock
        self.queue, self.dirty, self.processing = [], set(), set()
        self.waiting = []  # heap of (ready time on self.clock, sequence, key) for add_after
        self.shutting_down = False
        self.cond = threading.Condition()
        self._seq = itertools.count()

    def add(self, key):
        with self.cond:
            if self.shutting_down or key in self.dirty:
                return
            self.dirty.add(key)
            if key not in self.processing:
                self.queue.append(key)
                self.cond.notify()

    def add_after(self, key, delay):
        if delay <= 0:
            return self.add(key)
        with self.cond:
            heapq.heappush(self.waiting, (self.clock() + delay, next(self._seq), key))
            self.cond.notify()

    def add_rate_limited(self, key):
        self.add_after(key, self.rate_limiter.when(key))

    def forget(self, key):
        self.rate_limiter.forget(key)

    def num_requeues(self, key):
        return self.rate_limiter.num_requeues(key)

    def get(self, timeout=None):
        """The next key (marked as processing), or None when shut down or timed out."""
        deadline = None if timeout is None else time.monotonic() + timeout  # real time
        with self.cond:
            while True:
                self._promote_ready()
                if self.queue:
                    key = self.queue.pop(0)
                    self.processing.add(key)
                    self.dirty.discard(key)
                    return key
                if self.shutting_down:
                    return None
                if deadline is not None and time.monotonic() >= deadline:
                    return None  # (a delayed key falling due is no reason to give up)
                self.cond.wait(self._next_wait(deadline))

    def _promote_ready(self):
        now = self.clock()
        while self.waiting and self.waiting[0][0] <= now:
            key = heapq.heappop(self.waiting)[2]
            if key not in self.dirty:
                self.dirty.add(key)
                if key not in self.processing:
                    self.queue.append(key)

    def _next_wait(self, deadline):
        candidates = []
        if self.waiting:
            candidates.append(self.waiting[0][0] - self.clock())
        if deadline is not None:
            candidates.append(deadline - time.monotonic())
        return max(min(candidates), 0) if candidates else None

    def done(self, key):
        with self.cond:
            self.processing.discard(key)
            if key in self.dirty:
                self.queue.append(key)
                self.cond.notify()

    def shutdown(self):
        with self.cond:
            self.shutting_down = True
            self.cond.notify_all()

    def __len__(self):
        with self.cond:
            return len(self.queue)


def run_worker(queue, reconcile, name="worker"):
    """Drain `queue` into `reconcile(key)` until the queue shuts down.

    reconcile may return a number of seconds after which to look at the key again (for
    time-based work: a backoff ending, a toleration running out). An exception requeues the
    key with backoff.
    """
    while (key := queue.get()) is not None:
        try:
            again = reconcile(key)
            queue.forget(key)
            if again:
                queue.add_after(key, again)
        except Exception as e:
            log.warning("%s: error syncing %r (retry %d): %s", name, key,
                        queue.num_requeues(key) + 1, e, exc_info=log.isEnabledFor(logging.DEBUG))
            queue.add_rate_limited(key)
        finally:
            queue.done(key)


def start_workers(queue, reconcile, count=1, name="worker"):
    threads = [threading.Thread(target=run_worker, args=(queue, reconcile, f"{name}-{i}"),
                                daemon=True, name=f"{name}-{i}") for i in range(count)]
    for t in threads:
        t.start()
    return threads
