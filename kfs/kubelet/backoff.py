"""Exponential back-off per key: why a crashing container waits 10s, 20s, 40s ... to restart.

Mirrors ``k8s.io/client-go/util/flowcontrol/backoff.go``: ``next(key)`` starts at
``initial`` and doubles up to ``maximum``; ``in_backoff_since(key, t)`` says whether
something that happened at ``t`` (a container's exit) is still inside the current window.
An entry untouched for twice the maximum expires, so a container that ran fine for a while
starts over at ``initial``. The kubelet keys it by pod, container and spec hash (restarts)
and by pod and image (pulls). ``clock`` is injectable so tests move time without sleeping.

What real Kubernetes does differently: the cap is 5 minutes (``MaxContainerBackOff``), with
a little jitter on image pulls; kfs makes the cap a flag (``--max-backoff``) so a notebook can
show a crash loop in seconds.
"""
import threading
import time


class Backoff:
    def __init__(self, initial=10.0, maximum=300.0, clock=time.time):
        self.initial, self.maximum, self.clock = min(initial, maximum), maximum, clock
        self.entries = {}   # key -> (current back-off, last update)
        self.lock = threading.Lock()

    def _expired(self, entry, now):
        return now - entry[1] > 2 * self.maximum

    def get(self, key):
        """The current back-off for `key` (0 if none)."""
        with self.lock:
            entry = self.entries.get(key)
        return entry[0] if entry else 0.0

    def next(self, key):
        """Move `key` one step: initial the first time (or after expiry), then doubled."""
        now = self.clock()
        with self.lock:
            entry = self.entries.get(key)
            if entry is None or self._expired(entry, now):
                delay = self.initial
            else:
                delay = min(entry[0] * 2, self.maximum)
            self.entries[key] = (delay, now)
        return delay

    def in_backoff_since(self, key, event_time):
        """Is an event at `event_time` still inside `key`'s back-off window?"""
        now = self.clock()
        with self.lock:
            entry = self.entries.get(key)
        if entry is None or self._expired(entry, now):
            return False
        return now - event_time < entry[0]

    def in_backoff_since_update(self, key):
        """Is `key` still inside the window that began at its last `next`? (image pulls)"""
        now = self.clock()
        with self.lock:
            entry = self.entries.get(key)
        return entry is not None and now - entry[1] < entry[0]

    def remaining(self, key, event_time):
        return max(0.0, event_time + self.get(key) - self.clock())

    def forget(self, prefix):
        """Drop every key starting with `prefix` (a pod that is gone)."""
        with self.lock:
            for k in [k for k in self.entries if k.startswith(prefix)]:
                del self.entries[k]
