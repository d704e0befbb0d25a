"""Events: the story of a pod (Pulling, Pulled, Created, Started, Killing, Unhealthy, BackOff).

``Recorder.event(pod, type, reason, message)`` logs the event and, once there is an API
server, hands it to a sink that writes ``Event`` objects in the pod's namespace, which is
what ``kubectl describe pod`` lists. Identical events (same pod, reason and message) are
aggregated: the count goes up instead of a new line or object every second, as a crash loop
would otherwise produce.

Mirrors ``k8s.io/client-go/tools/record`` (recorder, events_cache.go's EventCorrelator,
shrunk to "same key: count + 1").

What real Kubernetes does differently: events are aggregated also across similar messages,
rate-limited with a token bucket per object, and written by a broadcaster in the background.
"""
import logging
import threading
import time

from kfs import meta

log = logging.getLogger("kubelet.events")

TIGHT_REPEAT = 5.0        # an event repeated within this many seconds is not logged again ...
LOG_REPEAT_EVERY = 30.0   # ... unless its last log line is this old
FORGET_AFTER = 600.0


class Recorder:
    def __init__(self, component="kubelet", host="", sink=None, clock=time.time):
        self.component, self.host, self.sink, self.clock = component, host, sink, clock
        self.seen = {}   # (uid, type, reason, message) -> {"count", "first", "last", "logged"}
        self.lock = threading.Lock()

    def event(self, pod, type_, reason, message):
        m = pod["metadata"]
        key = (m.get("uid"), type_, reason, message)
        now = self.clock()
        with self.lock:
            self._forget_old(now)
            entry = self.seen.get(key)
            if entry is None:
                entry = self.seen[key] = {"count": 0, "first": now, "last": now, "logged": 0.0}
            entry["count"] += 1
            tight = entry["count"] > 1 and now - entry["last"] < TIGHT_REPEAT
            entry["last"] = now
            should_log = not tight or now - entry["logged"] >= LOG_REPEAT_EVERY
            if should_log:
                entry["logged"] = now
            count, first = entry["count"], entry["first"]
        if should_log:
            times = f" (x{count})" if count > 1 else ""
            (log.warning if type_ == "Warning" else log.info)(
                "Event(Pod %s/%s): type=%s reason=%s%s: %s", m.get("namespace", "default"),
                m.get("name"), type_, reason, times, message)
        if self.sink:
            try:
                self.sink(pod, type_, reason, message, count, first, now)
            except Exception as e:  # events are best effort, as upstream
                log.debug("could not write event %s for %s: %s", reason, meta.key(pod), e)

    def forget(self, uid):
        """A pod is gone: its next incarnation (a static pod has the same UID) starts afresh."""
        with self.lock:
            self.seen = {k: e for k, e in self.seen.items() if k[0] != uid}

    def _forget_old(self, now):
        if len(self.seen) > 1000 or any(now - e["last"] > FORGET_AFTER for e in self.seen.values()):
            self.seen = {k: e for k, e in self.seen.items() if now - e["last"] <= FORGET_AFTER}


class ListRecorder:
    """Records events in a list: for tests and notebooks that look at what happened."""

    def __init__(self):
        self.events = []

    def event(self, pod, type_, reason, message):
        self.events.append((pod["metadata"]["name"], type_, reason, message))

    def forget(self, uid):
        pass

    def reasons(self, pod_name=None):
        return [e[2] for e in self.events if pod_name in (None, e[0])]
