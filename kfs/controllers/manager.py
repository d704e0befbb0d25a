"""The controller manager's machinery: shared informers, one queue and workers per controller.

Mirrors ``cmd/kube-controller-manager/app/controllermanager.go`` and client-go's
``informers.SharedInformerFactory``, shrunk. Ten controllers watch overlapping things (the
ReplicaSet, deployment, endpoints, endpointslice, garbage-collector, node and disruption
controllers all watch pods; csrapproving, csrsigning and csrcleaner all watch CSRs), so
the manager opens **one** informer per resource and hands the same cache to
every controller that asks: one list and one watch per resource for the whole process, not
one per controller.

A controller is an object with ``name``, ``queue``, ``reconcile(key)`` and optionally
``resync_period`` (seconds: every key is queued again that often, for work that depends on
the clock, such as a node lease running out). ``run`` starts the informers, waits until
every cache is filled, then starts ``workers`` threads per controller draining its queue
into ``reconcile``.

What real Kubernetes does differently: leader election (only one of several
kube-controller-manager processes works at a time, holding a Lease in kube-system); a
health and metrics server on port 10257; per-controller client credentials (service
accounts); informers with indexers and resync periods per handler.
"""
import logging
import sys
import threading

from kfs import resources
from kfs.client import Informer
from kfs.util import handle_sigterm
from kfs.workqueue import WorkQueue, start_workers

log = logging.getLogger("kfs.controllers")


class SharedInformers:
    """One informer per resource, shared by all controllers (SharedInformerFactory).

    `new_informer(resource)` makes the informer of one resource; by default a
    ``kfs.client.Informer`` over `client` (a unit test passes its FakeApi's ``informer``).
    """

    def __init__(self, client, new_informer=None):
        self.client = client
        self.new_informer = new_informer or (lambda r: Informer(client, r))
        self.informers = {}
        self.lock = threading.Lock()

    def informer(self, resource):
        r = resource if isinstance(resource, resources.Resource) else resources.lookup(resource)
        with self.lock:
            if r.plural not in self.informers:
                self.informers[r.plural] = self.new_informer(r)
            return self.informers[r.plural]

    def __getitem__(self, resource):
        return self.informer(resource)

    def start(self):
        for inf in list(self.informers.values()):
            inf.start()

    def wait_synced(self, timeout=60.0):
        for inf in list(self.informers.values()):
            inf.wait_synced(timeout)

    def stop(self):
        for inf in list(self.informers.values()):
            inf.stop()


class Controller:
    """The shape of every controller: handlers enqueue keys, workers reconcile them."""

    name = "controller"
    workers = 1
    resync_period = None

    def __init__(self, client, informers, recorder=None):
        self.client, self.informers, self.recorder = client, informers, recorder
        self.queue = WorkQueue()

    def enqueue(self, obj_or_key):
        self.queue.add(obj_or_key if isinstance(obj_or_key, str) else _key(obj_or_key))

    def event(self, obj, type_, reason, message):
        if self.recorder is not None:
            self.recorder.event(obj, type_, reason, message)

    def reconcile(self, key):  # pragma: no cover - every controller defines it
        raise NotImplementedError

    def resync(self):
        """Queue every key again (for time-based work)."""

    def drain(self, limit=1000):
        """Reconcile queued keys until the queue is empty: how unit tests run a controller
        without threads. Delayed re-checks (add_after) are not waited for."""
        for _ in range(limit):
            key = self.queue.get(timeout=0)
            if key is None:
                return
            try:
                self.reconcile(key)
            finally:
                self.queue.done(key)
        raise RuntimeError(f"{self.name}: queue not empty after {limit} reconciles")


def _key(obj):
    from kfs import meta
    return meta.key(obj)


class ControllerManager:
    """Runs the chosen controllers over one set of shared informers until stopped."""

    def __init__(self, client, controllers, informers):
        self.client, self.controllers, self.informers = client, controllers, informers
        self.stopped = threading.Event()

    def run(self, sync_timeout=120.0):
        self.informers.start()
        self.informers.wait_synced(sync_timeout)
        for c in self.controllers:
            start_workers(c.queue, c.reconcile, c.workers, name=c.name)
            if c.resync_period:
                threading.Thread(target=self._resync_loop, args=(c,), daemon=True,
                                 name=f"{c.name}-resync").start()

    def _resync_loop(self, controller):
        while not self.stopped.wait(controller.resync_period):
            try:
                controller.resync()
            except Exception:
                log.exception("%s: resync failed", controller.name)

    def stop(self):
        self.stopped.set()
        for c in self.controllers:
            c.queue.shutdown()
        self.informers.stop()

    def serve(self, program, started, logger=log):
        """A manager binary's life (both ``kfs controller-manager`` and ``kfs
        cloud-controller-manager``): run, log `started`, work until SIGTERM or Ctrl-C, stop.
        SIGTERM before the first lists are done just exits. Returns the exit code: 1 (and
        a message naming `program`) if the API server never answered the first lists."""
        done, running = handle_sigterm()
        try:
            self.run()
            running.set()
        except TimeoutError as e:  # the API server never answered the first lists
            print(f"{program}: {e}", file=sys.stderr)
            return 1
        logger.info("%s", started)
        try:
            while not done.wait(1.0):
                pass
        except KeyboardInterrupt:
            pass
        self.stop()
        return 0
