"""The storage errors the API server turns into Status responses (upstream
``staging/src/k8s.io/apiserver/pkg/storage/errors.go``), and how a gRPC failure from etcd
becomes one (upstream ``storage/etcd3/errors.go``: ``interpretWatchError``,
``interpretListError``).

What real Kubernetes does differently: ``StorageError`` carries a code (KeyNotFound,
KeyExists, ResourceVersionConflicts, InvalidObj, Unreachable...) with the key and the
resourceVersion, and etcd's errors arrive as typed ``rpctypes`` errors rather than strings
to look into.
"""


class StorageError(Exception):
    """Base of the errors the API server turns into Status responses."""


class KeyNotFound(StorageError):
    """No object at that key."""


class KeyExists(StorageError):
    """An object is already at that key."""


class Conflict(StorageError):
    """The object changed since it was read (a stale resourceVersion)."""


class Unavailable(StorageError):
    """etcd did not answer (down, no quorum, timeout)."""


class TooLarge(StorageError):
    """etcd refused a value over its request size limit."""


class Expired(StorageError):
    """The revision asked for was compacted away: the client must relist (410)."""

    def __init__(self, requested, compacted):
        super().__init__(f"too old resource version: {requested} ({compacted})")
        self.requested, self.compacted = requested, compacted


def translate(e):
    """A ``grpc.RpcError`` from etcd as the StorageError it means."""
    code, details = e.code(), e.details() or ""
    if "required revision has been compacted" in details:
        return Expired(0, 0)
    if "request is too large" in details:
        return TooLarge(details)
    return Unavailable(f"etcd: {code.name.lower()}: {details}")
