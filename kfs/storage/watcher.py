"""An etcd watch of a key prefix, as `Event`s (upstream ``storage/etcd3/watcher.go``).

One gRPC Watch stream per watch, asking for the previous value of each key (``prev_kv``)
so that a DELETED event still carries the object, and for progress notifications when
bookmarks are wanted (an empty response: "nothing happened up to revision N"). A
compacted start revision ends the iteration with ``Expired`` (410 for the client), an etcd
that goes away with ``Unavailable``.

It feeds the watch cache (``cacher.py``, one watch per resource) and the watches that
must be consistent (no resourceVersion), or all of them with ``--watch-cache=false``.

What real Kubernetes does differently: with a recent etcd every client watch is served by
the cache, this watcher only feeds it; it also filters with the client's predicate
before decoding when it can, and asks for progress notifications on its own schedule.
"""
import queue
import threading
from dataclasses import dataclass

import grpc
from etcd3 import etcdrpc
from etcd3.etcdrpc import kv_pb2

from kfs.storage.codec import decode, key_bytes, prefix_end
from kfs.storage.errors import Expired, Unavailable, translate


@dataclass
class Event:
    """One change seen by a watch: ADDED, MODIFIED or DELETED, or a PROGRESS notification
    ("everything up to `revision` was delivered"; `obj` is None)."""
    type: str
    obj: dict
    prev: dict
    revision: int


class Watch:
    """Iterate to get `Event`s; `cancel()` from any thread ends the iteration.

    Raises Expired if `start_revision` was compacted, Unavailable if etcd goes away.
    """

    def __init__(self, storage, prefix, start_revision, progress_notify=False):
        self.start_revision = start_revision
        self._requests = queue.Queue()
        self._cancelled = threading.Event()
        create = etcdrpc.WatchCreateRequest(key=key_bytes(prefix), range_end=prefix_end(prefix),
                                            start_revision=start_revision, prev_kv=True,
                                            progress_notify=progress_notify)
        self._requests.put(etcdrpc.WatchRequest(create_request=create))
        self._stream = storage.watch_stub.Watch(iter(self._requests.get, None))

    def cancel(self):
        self._cancelled.set()
        self._requests.put(None)
        self._stream.cancel()

    def __iter__(self):
        try:
            for resp in self._stream:
                if resp.compact_revision:
                    raise Expired(self.start_revision - 1, resp.compact_revision)
                if resp.canceled:
                    raise Unavailable(f"etcd cancelled the watch: {resp.cancel_reason}")
                if resp.created and not resp.events:
                    continue
                if not resp.events:  # a progress notification: caught up to this revision
                    yield Event("PROGRESS", None, None, resp.header.revision)
                for ev in resp.events:
                    yield _event(ev)
        except grpc.RpcError as e:
            if self._cancelled.is_set():
                return
            raise translate(e) from None


def _event(ev):
    kv = ev.kv
    prev = decode(ev.prev_kv.value, ev.prev_kv.mod_revision) if ev.prev_kv.key else None
    if ev.type == kv_pb2.Event.DELETE:
        last = dict(prev or {"metadata": {}})
        last["metadata"] = dict(last["metadata"], resourceVersion=str(kv.mod_revision))
        return Event("DELETED", last, prev, kv.mod_revision)
    kind = "ADDED" if kv.create_revision == kv.mod_revision else "MODIFIED"
    return Event(kind, decode(kv.value, kv.mod_revision), prev, kv.mod_revision)


