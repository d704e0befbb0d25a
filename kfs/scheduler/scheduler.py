"""The scheduler: give every pending pod a node, one pod at a time.

Mirrors ``pkg/scheduler/scheduler.go`` (``New``, ``Run``), ``eventhandlers.go`` (which
informer event feeds the cache and which wakes the queue) and ``schedule_one.go``
(``ScheduleOne``, ``schedulingCycle``, ``bindingCycle``, ``handleSchedulingFailure``).

The loop, for each pod popped from the ``SchedulingQueue``:

1. skip it if it is gone, terminating, already bound, or assumed (a binding is in flight);
2. ``schedule_one(pod)``: under the cache's lock, the ``Framework`` filters every node,
   scores those left and picks the best, then the pod is *assumed* on that node in the
   ``Cache``, so the next decision counts it even before the API server has it;
3. the binding cycle (in a pool of 16 threads, as upstream runs each in a goroutine of its
   own: the API server's latency, not the scheduler, must bound how many are in flight;
   with 4 the bench bound half as many pods per second on a loaded machine): POST
   ``pods/<name>/binding``; the API server sets ``spec.nodeName``, the kubelet of that node
   sees it and starts the containers; a ``Scheduled`` event says
   ``Successfully assigned ns/pod to node1``; if the binding fails, the pod is forgotten
   in the cache (its room goes to the pods parked for want of it) and tried again after
   backoff (``handle_binding_cycle_error``);
4. if no node fits, the pod gets condition PodScheduled=False (reason Unschedulable, the
   FitError message) and a ``FailedScheduling`` warning event with the same text, and is
   parked in the queue with the plugins that rejected it, until a cluster event one of them
   registered may help: a node added, a node changed in a way that plugin cares about
   (``events.node_scheduling_properties_change``), a bound pod gone.

Everything the scheduler knows comes from two informers (nodes; pods not yet finished):
bound pods are counted in the cache, pending pods of ``scheduler_name`` go to the queue.
Killing it loses nothing: on restart the informers list again, bound pods are counted and
pending ones queued; a pod already bound cannot be bound twice (the API server answers 409).

What real Kubernetes does differently: several profiles (scheduler names) in one process,
leader election so that only one replica schedules, Reserve/Permit/PreBind plugins
between assume and bind, preemption of lower-priority pods, nominated nodes, extenders
(webhooks that filter and score), metrics, and the pod's status patched with a
strategic-merge patch.
"""
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from kfs import meta
from kfs.client import ApiError, EventRecorder, Informer
from kfs.scheduler import events, plugins
from kfs.scheduler.cache import Cache
from kfs.scheduler.framework import FitError, Framework, NoNodesAvailable
from kfs.scheduler.queue import SchedulingQueue

log = logging.getLogger("kfs.scheduler")

DEFAULT_SCHEDULER_NAME = "default-scheduler"
MAX_MESSAGE = 1024  # upstream truncates event and condition messages to this


def responsible_for(pod, scheduler_name):
    return ((pod.get("spec") or {}).get("schedulerName") or DEFAULT_SCHEDULER_NAME) == \
        scheduler_name


def assigned(pod):
    return bool((pod.get("spec") or {}).get("nodeName"))


def priority(pod):
    return int((pod.get("spec") or {}).get("priority") or 0)


def truncate(message):
    return message if len(message) <= MAX_MESSAGE else message[:MAX_MESSAGE - 3] + "..."


def _strip(pod):
    """What of a pod matters to scheduling: spec and metadata without bookkeeping."""
    md = {k: v for k, v in (pod.get("metadata") or {}).items()
          if k not in ("resourceVersion", "generation", "managedFields")}
    return md, pod.get("spec")


class Scheduler:
    def __init__(self, client, scheduler_name=DEFAULT_SCHEDULER_NAME, framework=None,
                 queue=None, recorder=None, node_informer=None, pod_informer=None,
                 bind_workers=16):
        self.client, self.name = client, scheduler_name
        self.framework = framework or Framework(plugins.FILTERS, plugins.default_scores())
        self.cache = Cache()
        self.queue = queue or SchedulingQueue(queueing_hints=self.framework.queueing_hints())
        self.recorder = recorder or EventRecorder(client, scheduler_name)
        self.nodes = node_informer or Informer(client, "nodes")
        self.pods = pod_informer or Informer(
            client, "pods", field_selector="status.phase!=Succeeded,status.phase!=Failed")
        self.nodes.add_handler(self.on_node)
        self.pods.add_handler(self.on_pod)
        self.binder = ThreadPoolExecutor(bind_workers, "bind") if bind_workers else None
        self.stopped = threading.Event()

    # -- informer events (eventhandlers.go) ---------------------------------------------

    def on_node(self, kind, node, old):
        if kind == "DELETED":
            self.cache.remove_node(node)
            return
        self.cache.add_node(node)
        if kind == "ADDED" or old is None:
            self.queue.move_all_to_active_or_backoff(events.NODE_ADD, None, node)
            return
        # one event per aspect that changed: a heartbeat is none, a new label wakes only
        # the pods a plugin registered for labels refused
        for event in events.node_scheduling_properties_change(node, old):
            self.queue.move_all_to_active_or_backoff(event, old, node)

    def on_pod(self, kind, pod, old):
        key = meta.key(pod)
        if kind == "DELETED":
            self.cache.remove_pod(pod)
            self.queue.delete(key)
            if assigned(pod):
                self.queue.move_all_to_active_or_backoff(events.ASSIGNED_POD_DELETE, pod, None)
            return
        if assigned(pod):
            self.cache.add_pod(pod)
            if old is not None and not assigned(old):
                self.queue.delete(key)  # bound (by us, or by someone else)
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                # a finished pod frees its node as a deleted one does (upstream's informer
                # leaves finished pods out, so they reach the queue as deletes)
                self.queue.move_all_to_active_or_backoff(events.ASSIGNED_POD_DELETE, pod, None)
            return
        if not responsible_for(pod, self.name):
            return
        if pod["metadata"].get("deletionTimestamp"):
            self.queue.delete(key)
        elif kind == "ADDED" or old is None:
            self.queue.add(key, priority(pod))
        elif _strip(old) != _strip(pod):  # not our own status write, a real change
            self.queue.update(key, priority(pod))

    # -- the loop ---------------------------------------------------------------------------

    def start(self):
        """Start the informers, wait for their first list; return self."""
        self.nodes.start()
        self.pods.start()
        self.nodes.wait_synced(60)
        self.pods.wait_synced(60)
        threading.Thread(target=self._housekeeping, daemon=True, name="flush").start()
        return self

    def run(self):
        self.start()
        log.info("scheduler %r started: %d nodes, %d pods known, plugins: filters %s; "
                 "scores %s", self.name, len(self.nodes.store), len(self.pods.store),
                 ", ".join(p.name for p in self.framework.filters),
                 ", ".join(f"{p.name} (weight {p.weight})" for p in self.framework.scores))
        while not self.stopped.is_set():
            self.run_once(timeout=1.0)

    def stop(self):
        self.stopped.set()
        self.queue.close()
        self.nodes.stop()
        self.pods.stop()
        if self.binder:
            self.binder.shutdown(wait=True)

    def _housekeeping(self):
        while not self.stopped.wait(1.0):
            self.queue.flush_unschedulable_leftover()

    def run_once(self, timeout=None):
        """Pop one pod and schedule it (ScheduleOne). Returns the pod's key, or None."""
        item = self.queue.pop(timeout)
        if item is None:
            return None
        key, cycle = item
        try:
            pod = self.pods.get(key)
            if not self.skip_pod_schedule(pod):
                self.schedule_one(pod, cycle)
        finally:
            self.queue.done(key)
        return key

    def skip_pod_schedule(self, pod):
        return (pod is None or assigned(pod) or pod["metadata"].get("deletionTimestamp")
                or not responsible_for(pod, self.name) or self.cache.is_assumed(pod))

    # -- one decision (schedule_one.go) -----------------------------------------------------

    def schedule_one(self, pod, cycle=None):
        """Filter, score, assume, bind one pod. Returns the chosen node's name, or None."""
        cycle = self.queue.scheduling_cycle if cycle is None else cycle
        try:
            with self.cache.lock:
                result = self.framework.schedule_pod(pod, self.cache.node_infos())
                self.cache.assume_pod(pod, result.suggested_host)
        except FitError as e:
            log.info('Unable to schedule pod; no fit; waiting pod="%s" err="%s"',
                     meta.key(pod), e.message)
            self.handle_scheduling_failure(pod, cycle, e.message, "Unschedulable",
                                           e.unschedulable_plugins)
            return None
        except NoNodesAvailable as e:
            log.info('Unable to schedule pod; no nodes; waiting pod="%s"', meta.key(pod))
            self.handle_scheduling_failure(pod, cycle, str(e), "Unschedulable")
            return None
        except Exception as e:  # a plugin failed (an attendee's score out of range, ...)
            log.warning('Error scheduling pod pod="%s" err="%s"', meta.key(pod), e)
            self.handle_scheduling_failure(pod, cycle, str(e), "SchedulerError")
            return None
        self.queue.forget(meta.key(pod))
        log.info('Attempting to bind pod to node pod="%s" node="%s" evaluatedNodes=%d '
                 'feasibleNodes=%d', meta.key(pod), result.suggested_host,
                 result.evaluated_nodes, result.feasible_nodes)
        if self.binder:
            self.binder.submit(self.binding_cycle, pod, result.suggested_host)
        else:
            self.binding_cycle(pod, result.suggested_host)
        return result.suggested_host

    def binding_cycle(self, pod, node):
        """POST the Binding; on failure, handle_binding_cycle_error. True if bound."""
        try:
            self.client.bind(pod, node)
        except Exception as e:  # an API error, or anything else: the pod must not stay assumed
            log.warning('Failed to bind pod pod="%s" node="%s" err="%s"', meta.key(pod), node, e)
            self.handle_binding_cycle_error(pod, node, f"binding rejected: {e}")
            return False
        log.info('Successfully bound pod to node pod="%s" node="%s"', meta.key(pod), node)
        self.recorder.normal(pod, "Scheduled", f"Successfully assigned {meta.namespace(pod)}/"
                             f"{meta.name(pod)} to {node}")
        return True

    def handle_binding_cycle_error(self, pod, node, message):
        """As upstream's handleBindingCycleError: forget the assumed pod, so its node's
        resources come back; that is a bound pod gone to the pods parked for want of
        them (an AssignedPodDelete event, the failed pod itself not included); then the
        pod itself back to the queue through backoff."""
        was_assumed = self.cache.is_assumed(pod)
        self.cache.forget_pod(pod)
        if was_assumed:
            assumed = {**pod, "spec": {**pod["spec"], "nodeName": node}}
            self.queue.move_all_to_active_or_backoff(events.ASSIGNED_POD_DELETE, assumed,
                                                     None, skip=meta.key(pod))
        self.handle_scheduling_failure(pod, None, message, "SchedulerError")

    def handle_scheduling_failure(self, pod, cycle, message, reason, rejected_by=()):
        """Requeue the pod (parked if Unschedulable, with the plugins that rejected it;
        backoff on errors), record a FailedScheduling event, set PodScheduled=False."""
        key = meta.key(pod)
        current = self.pods.get(key)
        if current is None or current["metadata"].get("uid") != pod["metadata"].get("uid"):
            log.info('Pod doesn\'t exist in informer cache pod="%s"', key)
            return
        if assigned(current):
            log.info('Pod has been assigned to node. Abort adding it back to queue. pod="%s" '
                     'node="%s"', key, current["spec"]["nodeName"])
            return
        if reason == "Unschedulable":
            self.queue.add_unschedulable(key, self.queue.scheduling_cycle if cycle is None
                                         else cycle, current, rejected_by)
        else:
            self.queue.add_backoff(key)
        message = truncate(message)
        self.recorder.warning(current, "FailedScheduling", message)
        self.update_pod_condition(current, reason, message)

    def update_pod_condition(self, pod, reason, message):
        status = {"conditions": [dict(c) for c in
                                 (pod.get("status") or {}).get("conditions") or []]}
        if not meta.set_condition(status, "PodScheduled", False, reason=reason,
                                  message=message, lastProbeTime=None):
            return
        try:
            self.client.patch("pods", meta.name(pod), {"status": status}, meta.namespace(pod),
                              subresource="status")
        except ApiError as e:
            log.warning('Error updating pod pod="%s" err="%s"', meta.key(pod), e)
