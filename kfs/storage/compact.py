"""Periodic compaction of etcd's history (upstream ``storage/etcd3/compact.go``).

etcd keeps every revision of every key until it is compacted; watches from an old
revision depend on that history. Every interval the API server compacts to the revision
it saw one interval ago, so a client that lost its watch has at least one interval to
resume from its last resourceVersion, and after that gets 410 Expired and relists.

What real Kubernetes does differently: the same schedule (``--etcd-compaction-interval``,
5 minutes) and the same version-key transaction between API servers; etcd itself is
usually also run with ``--auto-compaction`` and defragmented by its operator.
"""
import logging
import threading

from kfs.storage.errors import StorageError
from kfs.storage.store import COMPACT_REV_KEY

log = logging.getLogger("kfs.storage")


class Compactor:
    """Compact etcd every `interval` seconds to the revision of the previous round, so a
    client always has at least one interval to resume a watch (upstream: every 5 minutes).

    Several API servers agree through a transaction on ``compact_rev_key``: only the one
    whose view of that key's version is current compacts (upstream's compact.go).
    """

    def __init__(self, storage, interval=300.0):
        self.storage, self.interval = storage, interval
        self.stopped = threading.Event()
        self.version, self.revision = 0, 0

    def start(self):
        if self.interval > 0:
            threading.Thread(target=self.run, daemon=True, name="compactor").start()
        return self

    def stop(self):
        self.stopped.set()

    def run(self):
        while not self.stopped.wait(self.interval):
            try:
                self.version, self.revision = self.compact(self.version, self.revision)
            except StorageError as e:
                log.warning("compaction failed: %s", e)

    def compact(self, version, revision):
        """One round: returns the (key version, revision) to compact to next time."""
        s = self.storage
        resp = s._txn([s._compare(COMPACT_REV_KEY, "version", version)],
                      [s._put(COMPACT_REV_KEY, b"")], [s._get(COMPACT_REV_KEY)])
        if not resp.succeeded:  # another API server compacted: follow its count
            kvs = resp.responses[0].response_range.kvs
            return (kvs[0].version if kvs else 0), revision
        if revision:
            s.compact(revision)
            log.info("compacted etcd to revision %d", revision)
        return version + 1, resp.header.revision
