"""The scheduling queue: pods waiting for a node, and pods no node could take yet.

Mirrors ``pkg/scheduler/backend/queue/scheduling_queue.go`` (``PriorityQueue``) shrunk to
its three parts:

- **active**: pods to try now, highest ``spec.priority`` first, then oldest first;
- **backoff**: pods that failed recently, each waiting ``initial * 2^(attempts-1)``
  seconds (capped) before it may be tried again;
- **unschedulable**: pods no node could take. Nothing is tried again until the cluster
  changes: ``move_all_to_active_or_backoff`` (a node appeared or changed, a bound pod went
  away) sends them all back, through backoff if theirs has not run out; and
  ``flush_unschedulable_leftover`` sends back any that waited longer than
  ``max_in_unschedulable`` seconds, in case an event was missed.

One subtlety keeps a pod from sleeping through the event that would have helped it: an
event that arrives while a pod is being scheduled (its "scheduling cycle") cannot be seen
by that attempt, so if the attempt fails the pod goes to backoff, not to unschedulable
(``move_request_cycle``).

Keys are "namespace/name"; the scheduler reads the pod itself from its informer.

What real Kubernetes does differently: plugins register "queueing hints" so that a node
label change only wakes pods that failed on NodeAffinity, and so on; pods carry their
PodInfo (attempts, timestamps) through the queue; nominated pods (preemption) are tracked;
scheduling gates hold pods back entirely.
"""
import heapq
import itertools
import threading
import time


class SchedulingQueue:
    def __init__(self, initial_backoff=1.0, max_backoff=10.0, max_in_unschedulable=300.0,
                 clock=time.monotonic):
        self.initial_backoff, self.max_backoff = initial_backoff, max_backoff
        self.max_in_unschedulable = max_in_unschedulable
        self.clock = clock
        self.cond = threading.Condition()
        self.active = []         # heap of (-priority, seq, key)
        self.active_keys = {}    # key -> priority, for membership
        self.backoff = {}        # key -> time it may be tried again
        self.unschedulable = {}  # key -> time it was parked
        self.attempts = {}       # key -> failed attempts so far
        self.last_failure = {}   # key -> time of the last failed attempt
        self.priorities = {}     # key -> pod priority
        self.in_flight = set()
        self.scheduling_cycle = 0
        self.move_request_cycle = -1
        self.closed = False
        self._seq = itertools.count()

    # -- pods arriving and leaving ------------------------------------------------------

    def add(self, key, priority=0):
        """A new (or changed) pending pod: try it now."""
        with self.cond:
            self.priorities[key] = priority
            self.backoff.pop(key, None)
            self.unschedulable.pop(key, None)
            self._activate(key)

    def update(self, key, priority=0):
        """The pod changed in a way that may matter (spec, labels): wake it up, honouring
        its backoff; a pod not parked anywhere (new, or in flight) is added."""
        with self.cond:
            self.priorities[key] = priority
            if key in self.unschedulable:
                del self.unschedulable[key]
                self._requeue(key)
            elif key in self.in_flight:
                self.move_request_cycle = self.scheduling_cycle
            elif key not in self.backoff:
                self._activate(key)

    def delete(self, key):
        with self.cond:
            self.active_keys.pop(key, None)  # its heap entry is skipped when popped
            for d in (self.backoff, self.unschedulable, self.attempts, self.last_failure,
                      self.priorities):
                d.pop(key, None)

    def _activate(self, key):
        if key not in self.active_keys:
            self.active_keys[key] = self.priorities.get(key, 0)
            heapq.heappush(self.active, (-self.active_keys[key], next(self._seq), key))
            self.cond.notify()

    # -- the scheduling loop's side -----------------------------------------------------

    def pop(self, timeout=None):
        """The next pod to schedule as (key, cycle), or None on close or timeout."""
        deadline = None if timeout is None else self.clock() + timeout
        with self.cond:
            while True:
                self._flush_backoff_completed()
                while self.active:
                    _, _, key = heapq.heappop(self.active)
                    if self.active_keys.pop(key, None) is not None:
                        self.scheduling_cycle += 1
                        self.in_flight.add(key)
                        return key, self.scheduling_cycle
                if self.closed:
                    return None
                waits = [t - self.clock() for t in self.backoff.values()]
                if deadline is not None:
                    if deadline <= self.clock():
                        return None
                    waits.append(deadline - self.clock())
                self.cond.wait(max(min(waits), 0.001) if waits else None)

    def done(self, key):
        """The attempt is over (bound, parked, or the pod vanished)."""
        with self.cond:
            self.in_flight.discard(key)

    def forget(self, key):
        """The pod was scheduled: its failure history is over."""
        with self.cond:
            self.attempts.pop(key, None)
            self.last_failure.pop(key, None)

    def add_unschedulable(self, key, cycle):
        """No node fits: park the pod, unless the cluster changed during its attempt."""
        with self.cond:
            self._failed(key)
            if self.move_request_cycle >= cycle:
                self._to_backoff(key)
            else:
                self.unschedulable[key] = self.clock()

    def add_backoff(self, key):
        """An error (the API server failed the binding, ...): try again after backoff."""
        with self.cond:
            self._failed(key)
            self._to_backoff(key)

    def _failed(self, key):
        self.attempts[key] = self.attempts.get(key, 0) + 1
        self.last_failure[key] = self.clock()

    def backoff_duration(self, key):
        """initial, 2*initial, 4*initial, ... up to max_backoff (calculateBackoffDuration)."""
        n = min(self.attempts.get(key, 1), 64)
        return min(self.initial_backoff * 2 ** max(n - 1, 0), self.max_backoff)

    def _to_backoff(self, key):
        self.backoff[key] = self.last_failure.get(key, self.clock()) + self.backoff_duration(key)
        self.cond.notify()

    def _requeue(self, key):
        """To active if its backoff has run out, else to backoff."""
        if self.last_failure.get(key, 0) + self.backoff_duration(key) > self.clock():
            self._to_backoff(key)
        else:
            self._activate(key)

    def _flush_backoff_completed(self):
        now = self.clock()
        for key in [k for k, t in self.backoff.items() if t <= now]:
            del self.backoff[key]
            self._activate(key)

    # -- cluster events -------------------------------------------------------------------

    def move_all_to_active_or_backoff(self, event=""):
        """Something changed that may let parked pods fit: give them all another try."""
        with self.cond:
            self.move_request_cycle = self.scheduling_cycle
            for key in list(self.unschedulable):
                del self.unschedulable[key]
                self._requeue(key)

    def flush_unschedulable_leftover(self):
        """Pods parked longer than max_in_unschedulable get another try anyway."""
        with self.cond:
            now = self.clock()
            for key, since in list(self.unschedulable.items()):
                if now - since >= self.max_in_unschedulable:
                    del self.unschedulable[key]
                    self._requeue(key)

    def close(self):
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    # -- looking in -----------------------------------------------------------------------

    def pending(self):
        """{"active": [...], "backoff": [...], "unschedulable": [...]}: for logs and tests."""
        with self.cond:
            return {"active": sorted(self.active_keys), "backoff": sorted(self.backoff),
                    "unschedulable": sorted(self.unschedulable)}
