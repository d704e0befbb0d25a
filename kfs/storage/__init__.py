"""The API server's storage: Kubernetes objects as JSON values in etcd, versioned by etcd.

Every object lives under one key, ``/registry/<resource>/<namespace>/<name>`` (see
``kfs.resources``), and etcd's own revision counter is the object's version:

- ``metadata.resourceVersion`` of an object is its key's ``mod_revision``; the
  resourceVersion of a list is the revision in the header of the range read, i.e. "the
  state of the whole store at that instant";
- **create** is a transaction ``if create_revision(key) == 0 then put`` (the key must not
  exist), **update** ``if mod_revision(key) == <the revision we read> then put``: two
  writers racing on one object cannot both win, the loser gets a ``Conflict`` (409);
- **watch** is an etcd watch on the key prefix from a revision, with the previous value of
  each key (``prev_kv``), so a DELETED event still carries the last state of the object and
  a selector can tell "left the selection" from "changed inside it";
- etcd keeps old revisions only until it is **compacted**; a read or watch from before the
  compacted revision fails with ``Expired`` (HTTP 410 Gone), and clients relist. The API
  server compacts periodically (`Compactor`), as upstream does every 5 minutes;
- Events expire: they are written with an etcd **lease** (``--event-ttl``, 1 hour), and
  etcd deletes the keys when it runs out.

The package follows upstream's files: ``store.py`` (reads, transactions), ``watcher.py``
(watches), ``compact.py`` (compaction), ``errors.py`` (the errors), ``codec.py`` (an
object's bytes and a prefix's key range, which the store and the watcher share), and
``cacher.py``: the **watch cache**, one etcd watch per resource fanned out to every client
watch, which also answers lists that need not be consistent (``resourceVersion=0``). All
calls are synchronous (python ``etcd3``'s gRPC stubs); the API server runs them in a
thread pool, except its plainest creates and its bindings, which it awaits on its event
loop through ``LoopStorage`` (the same transactions over a ``grpc.aio`` channel: no
thread hop; a read-modify-write's steps are written once, ``store.update_steps``). One
gRPC channel of each kind is shared by every request. python-etcd3 0.12's helpers
drop what we need (``get_prefix`` loses the header revision, ``transaction`` the new
revision, its watcher hangs on a compacted start revision), so this module builds the
requests itself with the library's protobuf messages and stubs.

Mirrors ``staging/src/k8s.io/apiserver/pkg/storage/etcd3/store.go`` (Create, Get,
GetList, GuaranteedUpdate, Delete), ``watcher.go`` and ``compact.go``.

What real Kubernetes does differently: objects are stored as protobuf (JSON only for
custom resources), optionally encrypted at rest; its watch cache also answers consistent
lists (with an etcd recent enough to confirm its progress); the etcd client balances over
every endpoint and retries.
"""
from kfs.storage.codec import decode, encode, prefix_end
from kfs.storage.cacher import Cacher, NotReady
from kfs.storage.compact import Compactor
from kfs.storage.errors import (Conflict, Expired, KeyExists, KeyNotFound, StorageError,
                                TooLarge, Unavailable)
from kfs.storage.store import COMPACT_REV_KEY, LoopStorage, Storage, channel, wait_ready
from kfs.storage.watcher import Event, Watch

__all__ = ["COMPACT_REV_KEY", "Cacher", "Compactor", "Conflict", "Event", "Expired", "KeyExists",
           "KeyNotFound", "LoopStorage", "NotReady", "Storage", "StorageError", "TooLarge",
           "Unavailable", "Watch", "channel", "decode", "encode", "prefix_end", "wait_ready"]
