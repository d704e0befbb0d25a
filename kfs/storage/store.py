"""The etcd store: keys, transactions, revisions (upstream ``storage/etcd3/store.go``).

``Storage`` speaks etcd's v3 gRPC API directly (the ``etcd3`` package's generated stubs):
a create is a transaction "if this key's create_revision is 0, put"; an update "if its
mod_revision is still N, put"; ``guaranteed_update`` loops read-modify-write until one
sticks; a list is a range read whose header revision becomes the list's resourceVersion,
paged with a continue token that pins that revision. See the package docstring
(``kfs.storage``) for the whole story.

What real Kubernetes does differently: the store is generic over a codec and a
transformer (protobuf, encryption at rest) and a ``Versioner``; its GuaranteedUpdate is
one function of goroutine-blocking I/O where kfs writes the steps once (``update_steps``)
for a blocking and an awaited driver; lists of more
than ``--etcd-paging`` size are paged against etcd too, and the store counts objects per
resource for APF and metrics; Events go to their own etcd lease pool, as here.
"""
import base64
import ipaddress
import json
import time
from urllib.parse import urlparse

import grpc
from etcd3 import etcdrpc

from kfs.storage.codec import decode, encode, key_bytes, prefix_end, with_version
from kfs.storage.errors import Conflict, Expired, KeyExists, KeyNotFound, Unavailable, translate
from kfs.storage.watcher import Watch

COMPACT_REV_KEY = "compact_rev_key"  # upstream's key for coordinating compaction


def channel(endpoints, ca=None, cert=None, key=None, aio=False):
    """One gRPC channel to etcd: ``https://10.0.0.1:2379,https://10.0.0.2:2379``.

    Several IP endpoints become one channel over all of them (gRPC fails over to the next
    address when the member it uses dies). The server certificates name each member's IP,
    127.0.0.1 and localhost; with several addresses we check the name "localhost". With
    `aio`, a ``grpc.aio`` channel, for calls awaited on the running event loop.
    """
    kind = grpc.aio if aio else grpc
    urls = [urlparse(e if "://" in e else f"http://{e}") for e in endpoints.split(",") if e]
    if not urls:
        raise ValueError("--etcd-servers: at least one endpoint is needed")
    hosts = [f"{u.hostname}:{u.port or 2379}" for u in urls]
    options = [("grpc.max_receive_message_length", 64 << 20),
               ("grpc.keepalive_time_ms", 30000)]
    if len(hosts) > 1 and all(_is_ip(u.hostname) for u in urls):
        target = "ipv4:" + ",".join(hosts)
        options.append(("grpc.ssl_target_name_override", "localhost"))
    else:
        target = hosts[0]
    if urls[0].scheme != "https":
        return kind.insecure_channel(target, options=options)
    read = (lambda p: open(p, "rb").read() if p else None)
    creds = grpc.ssl_channel_credentials(read(ca), read(key), read(cert))
    return kind.secure_channel(target, creds, options=options)


def _is_ip(host):
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def _errors(fn):
    """gRPC failures as StorageErrors."""
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except grpc.RpcError as e:
            raise translate(e) from None
    wrapper.__name__, wrapper.__doc__ = fn.__name__, fn.__doc__
    return wrapper


class Storage:
    """Objects in etcd. Keys are strings; objects plain dicts."""

    def __init__(self, endpoints="http://127.0.0.1:2379", ca=None, cert=None, key=None,
                 timeout=10.0):
        self.endpoints = (endpoints, ca, cert, key)
        self.channel = channel(endpoints, ca, cert, key)
        self.kv = etcdrpc.KVStub(self.channel)
        self.watch_stub = etcdrpc.WatchStub(self.channel)
        self.timeout = timeout
        self._lease = None  # (id, reusable until, ttl)

    def close(self):
        self.channel.close()

    # -- reads ------------------------------------------------------------------------------

    @_errors
    def range(self, key, range_end=None, limit=0, revision=0, count_only=False):
        """The raw RangeResponse (its header carries the store's revision)."""
        req = etcdrpc.RangeRequest(key=key_bytes(key), limit=limit, revision=revision,
                                   count_only=count_only)
        if range_end is not None:
            req.range_end = range_end
        return self.kv.Range(req, self.timeout)

    def get(self, key):
        """The object at `key`, with its resourceVersion; KeyNotFound if there is none."""
        return stored(self.range(key), key)

    def list(self, prefix, limit=0, continue_token=None, revision=0, predicate=None):
        """Objects under `prefix` (which should end in "/"): (items, revision, continue).

        With `limit`, at most that many items and a continue token when there are more;
        the next page is read at the same revision, as upstream does. `predicate`
        filters (selectors) and pages are filled up to `limit` after filtering.
        """
        start = key_bytes(prefix)
        if continue_token:
            start, revision = self._parse_continue(prefix, continue_token)
        end = prefix_end(prefix)
        items, token = [], None
        while True:
            want = limit - len(items) if limit else 0
            try:
                resp = self.range(start, end, limit=want, revision=revision)
            except Expired:
                raise Expired(revision, 0) from None
            revision = revision or resp.header.revision
            for kv in resp.kvs:
                obj = decode(kv.value, kv.mod_revision)
                if predicate is None or predicate(obj):
                    items.append(obj)
            if not resp.more or not resp.kvs:
                break
            start = resp.kvs[-1].key + b"\0"
            if limit and len(items) >= limit:
                token = self._make_continue(prefix, start, revision)
                break
        return items, revision, token

    @staticmethod
    def _make_continue(prefix, start, revision):
        body = {"v": "meta.k8s.io/v1", "rv": revision,
                "start": start[len(key_bytes(prefix)):].decode()}
        return base64.urlsafe_b64encode(json.dumps(body).encode()).decode()

    @staticmethod
    def _parse_continue(prefix, token):
        try:
            body = json.loads(base64.urlsafe_b64decode(token.encode()))
            return key_bytes(prefix) + body["start"].encode(), int(body["rv"])
        except (ValueError, KeyError, TypeError):
            raise ValueError("continue key is not valid") from None

    def current_revision(self):
        return self.range(COMPACT_REV_KEY, count_only=True).header.revision

    # -- writes -----------------------------------------------------------------------------

    def _txn(self, compare, success, failure=()):
        return self._ask(etcdrpc.TxnRequest(compare=compare, success=success,
                                             failure=list(failure)))

    @_errors
    def _ask(self, request):
        """One etcd call: a RangeRequest is a Range, a TxnRequest a Txn."""
        call = self.kv.Range if isinstance(request, etcdrpc.RangeRequest) else self.kv.Txn
        return call(request, self.timeout)

    @staticmethod
    def _compare(key, target, value):
        c = etcdrpc.Compare(key=key_bytes(key), result=etcdrpc.Compare.EQUAL)
        if target == "create":
            c.target, c.create_revision = etcdrpc.Compare.CREATE, value
        elif target == "mod":
            c.target, c.mod_revision = etcdrpc.Compare.MOD, value
        else:
            c.target, c.version = etcdrpc.Compare.VERSION, value
        return c

    @staticmethod
    def _put(key, value, lease=0, keep_lease=False):
        """A put; `keep_lease` (for updates) keeps the key's lease, as an Event's TTL."""
        return etcdrpc.RequestOp(request_put=etcdrpc.PutRequest(
            key=key_bytes(key), value=value, lease=lease, ignore_lease=keep_lease))

    @_errors
    def lease(self, ttl):
        """A lease of at least `ttl` seconds, shared by the writes of the next ttl/10
        seconds (upstream's leaseManager): one lease per burst, not one per object."""
        if self.cached_lease(ttl) is None:
            now, reuse = time.monotonic(), max(ttl // 10, 1)
            granted = etcdrpc.LeaseStub(self.channel).LeaseGrant(
                etcdrpc.LeaseGrantRequest(TTL=ttl + reuse), self.timeout)
            self._lease = (granted.ID, now + reuse, ttl)
        return self._lease[0]

    def cached_lease(self, ttl, margin=0.0):
        """The lease `lease(ttl)` would return without asking etcd, if it is still to be
        shared for `margin` seconds more; else None."""
        held = self._lease
        if held is None or held[2] != ttl or time.monotonic() + margin > held[1]:
            return None
        return held[0]

    @staticmethod
    def _get(key):
        return etcdrpc.RequestOp(request_range=etcdrpc.RangeRequest(key=key_bytes(key)))

    def create(self, key, obj, ttl=None):
        """Store a new object (gone after `ttl` seconds, if given); KeyExists if the key is
        taken. Returns it with its version."""
        lease = self.lease(ttl) if ttl else 0
        return created(self._ask(create_request(key, obj, lease)), key, obj)

    def update(self, key, obj, revision):
        """Replace the object if its key is still at `revision`, else Conflict/KeyNotFound."""
        resp = self._ask(update_request(key, encode(obj), revision))
        if not resp.succeeded:
            if not resp.responses[0].response_range.kvs:
                raise KeyNotFound(key)
            raise Conflict(key)
        return with_version(obj, resp.header.revision)

    def guaranteed_update(self, key, try_update, current=None, cached=False):
        """Read-modify-write until it sticks: upstream's GuaranteedUpdate (the steps are
        `update_steps`; this sends their requests to etcd). Returns (new object, changed)."""
        return drive(update_steps(key, try_update, current, cached), self._ask)

    def delete(self, key, revision):
        """Delete the object if still at `revision`: returns its last state, versioned at
        the deletion's revision. Conflict if it changed, KeyNotFound if it is gone."""
        op = etcdrpc.RequestOp(request_delete_range=etcdrpc.DeleteRangeRequest(
            key=key_bytes(key), prev_kv=True))
        resp = self._txn([self._compare(key, "mod", revision)], [op], [self._get(key)])
        if not resp.succeeded:
            if not resp.responses[0].response_range.kvs:
                raise KeyNotFound(key)
            raise Conflict(key)
        prev = resp.responses[0].response_delete_range.prev_kvs
        if not prev:
            raise KeyNotFound(key)
        return decode(prev[0].value, resp.header.revision)

    def create_key(self, key, value=b""):
        """Claim a bare key (an allocated IP or port): False if someone holds it."""
        resp = self._txn([self._compare(key, "create", 0)], [self._put(key, key_bytes(value))])
        return resp.succeeded

    @_errors
    def delete_key(self, key):
        self.kv.DeleteRange(etcdrpc.DeleteRangeRequest(key=key_bytes(key)), self.timeout)

    def keys(self, prefix):
        resp = self.range(prefix, prefix_end(prefix))
        return [kv.key.decode() for kv in resp.kvs]

    @_errors
    def compact(self, revision):
        self.kv.Compact(etcdrpc.CompactionRequest(revision=revision), self.timeout)

    # -- watch -------------------------------------------------------------------------------

    def watch(self, prefix, start_revision, progress_notify=False):
        """An etcd watch of every key under `prefix`, from `start_revision` on."""
        return Watch(self, prefix, start_revision, progress_notify)


def create_request(key, obj, lease=0):
    """The transaction of a create: if the key's create_revision is 0, put."""
    return etcdrpc.TxnRequest(compare=[Storage._compare(key, "create", 0)],
                              success=[Storage._put(key, encode(obj), lease)])


def update_request(key, value, revision):
    """The transaction of an update: if the key's mod_revision is still `revision`, put
    `value` (an object's bytes, keeping the key's lease, as an Event's TTL); else read what
    is there."""
    return etcdrpc.TxnRequest(compare=[Storage._compare(key, "mod", revision)],
                              success=[Storage._put(key, value, keep_lease=True)],
                              failure=[Storage._get(key)])


def update_steps(key, try_update, current=None, cached=False):
    """GuaranteedUpdate's decisions without their I/O: a generator that yields the etcd
    requests it needs (a RangeRequest for etcd's copy, the TxnRequest of a write), is sent
    their answers (`drive` does that, blocking or awaited), and returns (new, changed).

    `try_update(obj)` gets a private copy of the current object and returns the new
    one (or raises, e.g. a 409 when the caller's resourceVersion is stale). If another
    writer got in between, it is called again on the newer object. An unchanged object
    is not written. `current`, if given, is where to start; `cached` says it is the watch
    cache's copy, which may be behind etcd: then a `try_update` that fails or changes
    nothing is asked again on etcd's copy before its answer counts (upstream's
    ``origStateIsCurrent``), and a stale copy fails the transaction's compare.
    """
    read = etcdrpc.RangeRequest(key=key_bytes(key))
    if current is None:
        current, cached = stored((yield read), key), False
    while True:
        try:
            new = try_update(json.loads(json.dumps(current)))
        except Exception:
            if not cached:
                raise
            new = current  # maybe decided on a stale copy: ask again on etcd's
        value = encode(new)
        if value == encode(current):
            if not cached:
                return current, False
            current, cached = stored((yield read), key), False
            continue
        revision = int(current["metadata"]["resourceVersion"])
        resp = yield update_request(key, value, revision)
        if resp.succeeded:
            return with_version(new, resp.header.revision), True
        current, cached = stored(resp.responses[0].response_range, key), False


def drive(steps, ask):
    """Run `update_steps`, answering each request with `ask(request)`."""
    answer = None
    try:
        while True:
            answer = ask(steps.send(answer))
    except StopIteration as done:
        return done.value


async def drive_async(steps, ask):
    """`drive` with an awaited `ask`."""
    answer = None
    try:
        while True:
            answer = await ask(steps.send(answer))
    except StopIteration as done:
        return done.value


def stored(resp, key):
    """The object a RangeResponse holds, with its version; KeyNotFound if none."""
    if not resp.kvs:
        raise KeyNotFound(key)
    return decode(resp.kvs[0].value, resp.kvs[0].mod_revision)


def created(resp, key, obj):
    """The created object with its version, from the create transaction's answer."""
    if not resp.succeeded:
        raise KeyExists(key)
    return with_version(obj, resp.header.revision)


class LoopStorage:
    """The writes the API server awaits on its event loop, through a ``grpc.aio`` channel
    to the same etcd (today: create, and a binding's read-modify-write). A blocking call in
    a pool thread costs the API server about three times the CPU of the same call awaited
    here (``bench/etcd_client.py``); make it inside the running loop (a grpc.aio channel
    belongs to one loop)."""

    def __init__(self, storage):
        self.channel = channel(*storage.endpoints, aio=True)
        self.kv = etcdrpc.KVStub(self.channel)
        self.timeout = storage.timeout

    async def create(self, key, obj, lease=0):
        """`Storage.create`, awaited; a TTL's `lease` is one already granted."""
        return created(await self._ask(create_request(key, obj, lease)), key, obj)

    async def guaranteed_update(self, key, try_update, current=None, cached=False):
        """`Storage.guaranteed_update`, awaited."""
        return await drive_async(update_steps(key, try_update, current, cached), self._ask)

    async def _ask(self, request):
        """`Storage._ask`, awaited."""
        call = self.kv.Range if isinstance(request, etcdrpc.RangeRequest) else self.kv.Txn
        try:
            return await call(request, timeout=self.timeout)
        except grpc.RpcError as e:
            raise translate(e) from None

    async def close(self):
        await self.channel.close()


def wait_ready(storage, timeout=30.0):
    """Block until etcd answers (the API server starts before or after it)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return storage.current_revision()
        except Unavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
