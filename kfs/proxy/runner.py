"""Run a function soon after it is asked for, but never more often than a minimum interval.

Mirrors ``pkg/util/async/bounded_frequency_runner.go`` (``BoundedFrequencyRunner``), shrunk:
``run()`` asks for a call (many asks before it happens make one call), ``retry_after(s)``
asks for one in `s` seconds at the latest, and the loop calls the function at least every
``max_interval`` even if nobody asked. Consecutive calls are at least ``min_interval``
apart (``--min-sync-period``): a burst of Service changes costs one sync, not one each.

What real Kubernetes does differently: a token bucket allows a few back-to-back calls
(``burstSyncs``) before the minimum interval applies.
"""
import logging
import threading
import time

log = logging.getLogger("kfs.proxy.runner")


class BoundedFrequencyRunner:
    def __init__(self, name, fn, min_interval, max_interval, clock=time.monotonic):
        self.name, self.fn = name, fn
        self.min_interval, self.max_interval = min_interval, max_interval
        self.clock = clock
        self.cond = threading.Condition()
        self.requested = False
        self.retry_at = None
        self.last_run = None
        self.stopped = False

    def run(self):
        with self.cond:
            self.requested = True
            self.cond.notify()

    def retry_after(self, seconds):
        with self.cond:
            at = self.clock() + seconds
            self.retry_at = at if self.retry_at is None else min(self.retry_at, at)
            self.cond.notify()

    def stop(self):
        with self.cond:
            self.stopped = True
            self.cond.notify()

    def next_run(self):
        """When the next call is due (``clock`` time), given what was asked."""
        now = self.clock()
        due = (self.last_run or now) + self.max_interval
        if self.requested:
            due = now
        if self.retry_at is not None:
            due = min(due, self.retry_at)
        if self.last_run is not None:
            due = max(due, self.last_run + self.min_interval)
        return due

    def loop(self):
        """Call the function as asked until ``stop()``; run this in its own thread."""
        while True:
            with self.cond:
                while not self.stopped and self.next_run() > self.clock():
                    self.cond.wait(max(0.0, self.next_run() - self.clock()))
                if self.stopped:
                    return
                self.requested, self.retry_at = False, None
                self.last_run = self.clock()
            try:
                self.fn()
            except Exception:
                log.exception("%s: call failed", self.name)

    def start(self):
        threading.Thread(target=self.loop, daemon=True, name=self.name).start()
        return self
