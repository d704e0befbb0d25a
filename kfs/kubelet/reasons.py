"""Why a container waits: the reason the last sync recorded, per pod and container.

``sync_pod`` records a reason whenever it could not start a container (``ErrImagePull``,
``ImagePullBackOff``, ``CrashLoopBackOff``, ``CreateContainerConfigError`` ...) and removes
it once the container started; ``generate_pod_status`` shows it, from a ``snapshot`` of
the pod's reasons, as the container's ``state.waiting`` reason and message. Every pod
worker writes here from its own thread while others compute statuses and terminating pods
are forgotten: every access holds the lock, and nobody iterates over the map but the cache.

Mirrors ``pkg/kubelet/reason_cache.go`` (ReasonCache: Add, Remove, Get, under a mutex).

What real Kubernetes does differently: the cache is an LRU of 1000 entries (a pod that is
gone simply ages out), filled by the kubelet from the result ``SyncPod`` returns instead of
by ``SyncPod`` itself.
"""
import threading


class ReasonCache:
    """(pod uid, container name) -> (reason, message) of the container's last start."""

    def __init__(self):
        self._reasons = {}
        self._lock = threading.Lock()

    def set(self, uid, name, reason, message=""):
        with self._lock:
            self._reasons[(uid, name)] = (reason, message)

    def get(self, uid, name):
        """(reason, message), or None if the container's last start went fine."""
        with self._lock:
            return self._reasons.get((uid, name))

    def remove(self, uid, name):
        """The container started: it waits for nothing any more."""
        with self._lock:
            self._reasons.pop((uid, name), None)

    def forget_pod(self, uid):
        """The pod is gone (its next incarnation, a static pod has the same UID, starts afresh)."""
        with self._lock:
            for key in [k for k in self._reasons if k[0] == uid]:
                del self._reasons[key]

    def snapshot(self, uid):
        """A copy of one pod's reasons: {container name: (reason, message)}."""
        with self._lock:
            return {name: r for (u, name), r in self._reasons.items() if u == uid}
