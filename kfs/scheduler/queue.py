"""The scheduling queue: pods waiting for a node, and pods no node could take yet.

Mirrors ``pkg/scheduler/backend/queue/scheduling_queue.go`` (``PriorityQueue``:
``movePodsToActiveOrBackoffQueue``, ``isPodWorthRequeuing``, ``flushUnschedulablePodsLeftover``)
shrunk to its three parts:

- **active**: pods to try now, highest ``spec.priority`` first, then oldest first;
- **backoff**: pods that failed recently, each waiting ``initial * 2^(attempts-1)``
  seconds (capped) before it may be tried again;
- **unschedulable**: pods no node could take. Each remembers the plugins that rejected it
  (``QueuedPodInfo.unschedulable_plugins``, from the ``FitError``). A cluster event
  (``move_all_to_active_or_backoff``: a node added or changed, a bound pod gone) moves
  back only the pods one of whose rejecting plugins registered that event and whose hint
  says the event may help (``is_pod_worth_requeuing``): a node label change wakes a pod
  NodeAffinity refused, not one waiting for cpu. A pod that no plugin rejected (no nodes
  at all) is moved by any event. They go back through backoff if theirs has not run out;
  ``flush_unschedulable_leftover`` sends back any that waited longer than
  ``max_in_unschedulable`` seconds, in case an event was missed.

One subtlety keeps a pod from sleeping through the event that would have helped it: an
event that arrives while a pod is being scheduled (its "scheduling cycle") cannot be seen
by that attempt, so if the attempt fails the pod goes to backoff, not to unschedulable
(``move_request_cycle``).

Keys are "namespace/name"; the scheduler reads the pod itself from its informer, and hands
the queue the pod as it was when it failed, for the hints to look at.

What real Kubernetes does differently: an event during a pod's attempt is kept, and the
hints decide on it when the attempt fails (``inFlightEvents``), where kfs sends the pod to
backoff whatever the event; a pending pod's own update goes through the hints too (kfs
wakes it); plugins may also answer "Pending" (woken without backoff); nominated pods
(preemption) are tracked; scheduling gates hold pods back entirely.
"""
import heapq
import itertools
import logging
import threading
import time
from dataclasses import dataclass, field

from kfs.scheduler.events import QUEUE

log = logging.getLogger("kfs.scheduler")


@dataclass
class QueuedPodInfo:
    """What the queue keeps about one pod between attempts."""
    priority: int = 0
    attempts: int = 0            # failed attempts so far
    last_failure: float = None   # time of the last failed attempt
    pod: dict = None             # the pod as it was when it last failed
    unschedulable_plugins: set = field(default_factory=set)  # who rejected it last time


class SchedulingQueue:
    def __init__(self, initial_backoff=1.0, max_backoff=10.0, max_in_unschedulable=300.0,
                 clock=time.monotonic, queueing_hints=None):
        self.initial_backoff, self.max_backoff = initial_backoff, max_backoff
        self.max_in_unschedulable = max_in_unschedulable
        self.clock = clock
        # {registered ClusterEvent: [(plugin name, hint)]} (Framework.queueing_hints);
        # None: no plugin said, every event moves every parked pod
        self.queueing_hints = queueing_hints
        self.cond = threading.Condition()
        self.active = []         # heap of (-priority, seq, key)
        self.active_keys = {}    # key -> priority, for membership
        self.backoff = {}        # key -> time it may be tried again
        self.unschedulable = {}  # key -> time it was parked
        self.infos = {}          # key -> QueuedPodInfo
        self.in_flight = set()
        self.scheduling_cycle = 0
        self.move_request_cycle = -1
        self.closed = False
        self._seq = itertools.count()

    def _info(self, key):
        return self.infos.setdefault(key, QueuedPodInfo())

    # -- pods arriving and leaving ------------------------------------------------------

    def add(self, key, priority=0):
        """A new (or changed) pending pod: try it now."""
        with self.cond:
            self._info(key).priority = priority
            self.backoff.pop(key, None)
            self.unschedulable.pop(key, None)
            self._activate(key)

    def update(self, key, priority=0):
        """The pod changed in a way that may matter (spec, labels): wake it up, honouring
        its backoff; a pod not parked anywhere (new, or in flight) is added."""
        with self.cond:
            self._info(key).priority = priority
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
            for d in (self.backoff, self.unschedulable, self.infos):
                d.pop(key, None)

    def _activate(self, key):
        if key not in self.active_keys:
            self.active_keys[key] = self._info(key).priority
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
            info = self.infos.get(key)
            if info is not None:
                info.attempts, info.last_failure = 0, None

    def add_unschedulable(self, key, cycle, pod=None, plugins=()):
        """No node fits: park the pod, remembering the pod and the plugins that rejected
        it; unless the cluster changed during its attempt (then: backoff)."""
        with self.cond:
            info = self._failed(key)
            info.pod, info.unschedulable_plugins = pod, set(plugins)
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
        info = self._info(key)
        info.attempts += 1
        info.last_failure = self.clock()
        return info

    def backoff_duration(self, key):
        """initial, 2*initial, 4*initial, ... up to max_backoff (calculateBackoffDuration)."""
        n = min(max(self._info(key).attempts, 1), 64)
        return min(self.initial_backoff * 2 ** (n - 1), self.max_backoff)

    def _to_backoff(self, key):
        failed = self._info(key).last_failure
        self.backoff[key] = (self.clock() if failed is None else failed) + \
            self.backoff_duration(key)
        self.cond.notify()

    def _requeue(self, key):
        """To active if its backoff has run out, else to backoff."""
        failed = self._info(key).last_failure
        if failed is not None and failed + self.backoff_duration(key) > self.clock():
            self._to_backoff(key)
        else:
            self._activate(key)

    def _flush_backoff_completed(self):
        now = self.clock()
        for key in [k for k, t in self.backoff.items() if t <= now]:
            del self.backoff[key]
            self._activate(key)

    # -- cluster events -------------------------------------------------------------------

    def move_all_to_active_or_backoff(self, event, old=None, new=None, skip=None):
        """A ClusterEvent (`old` and `new` the object before and after; None for an add or
        a delete): give the parked pods it may help another try (all but the key `skip`:
        upstream's preCheck, which leaves out the pod whose failed binding this is)."""
        with self.cond:
            for key in list(self.unschedulable):
                if key == skip:
                    continue
                if self.is_pod_worth_requeuing(self._info(key), event, old, new):
                    del self.unschedulable[key]
                    self._requeue(key)
                    log.debug('Pod moved to an internal scheduling queue pod="%s" event="%s"',
                              key, event.label)
            self.move_request_cycle = self.scheduling_cycle

    def is_pod_worth_requeuing(self, info, event, old, new):
        """Did one of the plugins that rejected the pod register this event, and does its
        hint say the event may help? A pod no plugin rejected is always worth it."""
        if not info.unschedulable_plugins or event.is_wildcard() or self.queueing_hints is None:
            return True
        for registered, hints in self.queueing_hints.items():
            if not registered.match(event):
                continue
            for plugin, hint in hints:
                if plugin in info.unschedulable_plugins and \
                        self._run_hint(plugin, hint, info.pod, old, new) == QUEUE:
                    return True
        return False

    def _run_hint(self, plugin, hint, pod, old, new):
        if pod is None:
            return QUEUE
        try:
            return hint(pod, old, new)
        except Exception as e:  # a broken hint must not leave the pod parked forever
            log.warning('QueueingHintFn returns error plugin="%s" err="%s: %s"', plugin,
                        type(e).__name__, e)
            return QUEUE

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
