"""How objects and keys are written to etcd, shared by the store and the watcher (upstream
``storage/etcd3/store.go``'s ``decode`` and the codec the store is built with).

An object is stored as compact JSON without its ``resourceVersion``: etcd holds that (the
key's ``mod_revision``), and ``decode`` puts it back. A key prefix is a range of keys,
from the prefix to ``prefix_end`` (what ``etcdctl get --prefix`` asks for).

What real Kubernetes does differently: objects are stored as protobuf behind a ``k8s\\0``
magic prefix (JSON only for custom resources), through a transformer that may encrypt
them at rest; the resourceVersion is set by a ``Versioner`` on the decoded object.
"""
import json


def key_bytes(key):
    return key.encode() if isinstance(key, str) else key


def prefix_end(prefix):
    """The end of the range of keys starting with `prefix` (etcd's ``--prefix``)."""
    b = bytearray(key_bytes(prefix))
    while b and b[-1] == 0xFF:
        b.pop()
    if not b:
        return b"\0"
    b[-1] += 1
    return bytes(b)


def encode(obj):
    """The bytes stored in etcd: the object without its resourceVersion (etcd holds that)."""
    md = obj.get("metadata") or {}
    if "resourceVersion" in md:
        obj = {**obj, "metadata": {k: v for k, v in md.items() if k != "resourceVersion"}}
    return json.dumps(obj, separators=(",", ":")).encode()


def decode(value, revision):
    """An object read from etcd, with `revision` (its key's mod_revision) as resourceVersion."""
    obj = json.loads(value)
    obj.setdefault("metadata", {})["resourceVersion"] = str(revision)
    return obj


def with_version(obj, revision):
    """`obj` as written at `revision`."""
    md = dict(obj.get("metadata") or {}, resourceVersion=str(revision))
    return {**obj, "metadata": md}
