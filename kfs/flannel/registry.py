"""The thin adapter over etcd: flannel's keys under ``--etcd-prefix``, with v3 leases.

Mirrors ``pkg/subnet/etcd/registry.go`` (``etcdSubnetRegistry``), speaking etcd's v3 gRPC
API through the ``etcd3`` package's generated stubs, as ``kfs.storage`` does:

- ``get_network_config``: the value of ``<prefix>/config``;
- ``get_subnets``: every key under ``<prefix>/subnets/``, each with its etcd lease's
  remaining TTL, and the revision of the read (where a watch starts);
- ``create_subnet``: an etcd lease of ``ttl`` seconds is granted, then one transaction
  "if ``<prefix>/subnets/10.244.1.0-24`` has version 0 (does not exist), put it bound to
  that lease". Of two flanneld picking the same subnet at once, exactly one transaction
  succeeds; the other gets ``SubnetExists`` (its lease is revoked) and picks again;
- ``update_subnet``: a renewal, as upstream: a fresh lease and a put bound to it (kfs
  then revokes the lease the key had, upstream lets it run out);
- ``watch_subnets``: an etcd watch of the subnets prefix from a revision: a put is an
  added (or changed) lease, a delete (by hand, or etcd expiring the lease) a removed one.

When an etcd lease runs out, etcd deletes the keys bound to it: that is how a node that
stopped renewing disappears from every other node's routes. This is flannel's etcd
subnet manager since v0.18; the flannel of the talk used the etcd **v2** API, where the
same key was written with a TTL (``etcdctl set --ttl 86400``) and refreshed, and a watch
was a long-polling HTTP GET with ``?wait=true&waitIndex=N``.

Every gRPC failure becomes ``kfs.storage.errors.Unavailable`` (or ``Expired`` for a
compacted revision), so the subnet manager can back off and resync.

What real Kubernetes does differently: flannel's client is etcd's Go ``clientv3``, which
keeps a session per endpoint, retries, and reports lease TTLs on every watch event
(kfs reads TTLs only when listing); it can log in with a user name and password.
"""
import logging
import time

import grpc
from etcd3 import etcdrpc
from etcd3.etcdrpc import kv_pb2

from kfs.flannel.lease import ADDED, REMOVED, Event, Lease, LeaseAttrs
from kfs.flannel.subnet import make_subnet_key, parse_subnet_key
from kfs.storage.codec import key_bytes, prefix_end
from kfs.storage.errors import Expired, Unavailable, translate
from kfs.storage.store import _errors, channel
from kfs.storage.watcher import Watch

log = logging.getLogger("kfs.flannel.registry")


class ConfigNotFound(LookupError):
    """No ``<prefix>/config`` in etcd (yet)."""


class SubnetExists(Exception):
    """Someone else's transaction took that subnet first."""


class EtcdRegistry:
    def __init__(self, endpoints, prefix="/coreos.com/network", ca=None, cert=None, key=None,
                 timeout=5.0, clock=time.monotonic):
        self.prefix = prefix.rstrip("/")
        self.channel = channel(endpoints, ca, cert, key)
        self.kv = etcdrpc.KVStub(self.channel)
        self.lease_stub = etcdrpc.LeaseStub(self.channel)
        self.watch_stub = etcdrpc.WatchStub(self.channel)
        self.timeout, self.clock = timeout, clock

    def close(self):
        self.channel.close()

    @property
    def subnets_prefix(self):
        return f"{self.prefix}/subnets/"

    def subnet_key(self, subnet):
        return self.subnets_prefix + make_subnet_key(subnet)

    # -- reads ------------------------------------------------------------------------------

    @_errors
    def get_network_config(self):
        resp = self.kv.Range(etcdrpc.RangeRequest(key=key_bytes(f"{self.prefix}/config")),
                             self.timeout)
        if not resp.kvs:
            raise ConfigNotFound(f"no network config at {self.prefix}/config in etcd")
        return resp.kvs[0].value.decode()

    @_errors
    def get_subnets(self):
        """(every lease under the subnets prefix, the revision they were read at)."""
        prefix = self.subnets_prefix
        resp = self.kv.Range(etcdrpc.RangeRequest(key=key_bytes(prefix),
                                                  range_end=prefix_end(prefix)), self.timeout)
        leases = [lease for lease in map(self._lease, resp.kvs) if lease is not None]
        return leases, resp.header.revision

    @_errors
    def get_subnet(self, subnet):
        """(the lease of `subnet` or None, the revision of the read)."""
        resp = self.kv.Range(etcdrpc.RangeRequest(key=key_bytes(self.subnet_key(subnet))),
                             self.timeout)
        return (self._lease(resp.kvs[0]) if resp.kvs else None), resp.header.revision

    def _lease(self, kv, with_ttl=True):
        subnet = parse_subnet_key(kv.key.decode())
        try:
            attrs = LeaseAttrs.from_json(kv.value)
        except ValueError as e:
            log.warning("ignoring bad subnet node %s: %s", kv.key.decode(), e)
            return None
        if subnet is None:
            log.warning("ignoring %s: not a subnet", kv.key.decode())
            return None
        expiration = None
        if kv.lease and with_ttl:
            ttl = self.lease_stub.LeaseTimeToLive(
                etcdrpc.LeaseTimeToLiveRequest(ID=kv.lease), self.timeout).TTL
            expiration = self.clock() + max(ttl, 0)
        return Lease(subnet, attrs, expiration, kv.lease, kv.mod_revision)

    # -- writes -----------------------------------------------------------------------------

    def _grant(self, ttl):
        return self.lease_stub.LeaseGrant(etcdrpc.LeaseGrantRequest(TTL=int(ttl)), self.timeout)

    @_errors
    def revoke(self, lease_id):
        if lease_id:
            try:
                self.lease_stub.LeaseRevoke(etcdrpc.LeaseRevokeRequest(ID=lease_id), self.timeout)
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.NOT_FOUND:   # it ran out already: fine
                    raise

    @_errors
    def create_subnet(self, subnet, attrs, ttl):
        """Take `subnet` if nobody has it: a Lease, or SubnetExists."""
        key = key_bytes(self.subnet_key(subnet))
        granted = self._grant(ttl)
        put = etcdrpc.RequestOp(request_put=etcdrpc.PutRequest(
            key=key, value=attrs.to_json().encode(), lease=granted.ID))
        absent = etcdrpc.Compare(key=key, result=etcdrpc.Compare.EQUAL,
                                 target=etcdrpc.Compare.VERSION, version=0)
        try:
            resp = self.kv.Txn(etcdrpc.TxnRequest(compare=[absent], success=[put]), self.timeout)
        except grpc.RpcError:
            self.revoke(granted.ID)
            raise
        if not resp.succeeded:
            self.revoke(granted.ID)
            raise SubnetExists(str(subnet))
        return Lease(subnet, attrs, self.clock() + granted.TTL, granted.ID, resp.header.revision)

    @_errors
    def update_subnet(self, subnet, attrs, ttl, old_lease_id=0):
        """Write `subnet`'s lease again, bound to a fresh etcd lease of `ttl` seconds
        (None: a reservation, no lease). Returns the Lease."""
        granted = self._grant(ttl) if ttl else None
        lease_id = granted.ID if granted else 0
        try:
            resp = self.kv.Put(etcdrpc.PutRequest(key=key_bytes(self.subnet_key(subnet)),
                                                  value=attrs.to_json().encode(), lease=lease_id),
                               self.timeout)
        except grpc.RpcError:
            self.revoke(lease_id)
            raise
        if old_lease_id and old_lease_id != lease_id:
            self.revoke(old_lease_id)
        expiration = self.clock() + granted.TTL if granted else None
        return Lease(subnet, attrs, expiration, lease_id, resp.header.revision)

    @_errors
    def delete_subnet(self, subnet):
        self.kv.DeleteRange(etcdrpc.DeleteRangeRequest(key=key_bytes(self.subnet_key(subnet))),
                            self.timeout)

    # -- watch ------------------------------------------------------------------------------

    def watch_subnets(self, since):
        """A `SubnetWatch` of the subnets prefix from revision `since` on."""
        return SubnetWatch(self, since)


class SubnetWatch(Watch):
    """Iterate for `Event`s (a removal carries only the subnet); ``cancel()`` ends it.

    ``kfs.storage.watcher.Watch``'s stream, read as leases rather than API objects.
    Raises Expired if `since` was compacted away, Unavailable if etcd goes away.
    """

    def __init__(self, registry, since):
        super().__init__(registry, registry.subnets_prefix, since)
        self.registry = registry

    def __iter__(self):
        try:
            for resp in self._stream:
                if resp.compact_revision:
                    raise Expired(self.start_revision, resp.compact_revision)
                if resp.canceled:
                    raise Unavailable(f"etcd cancelled the watch: {resp.cancel_reason}")
                for ev in resp.events:
                    event = self._event(ev)
                    if event is not None:
                        yield event
            if not self._cancelled.is_set():
                raise Unavailable("etcd ended the watch")
        except grpc.RpcError as e:
            if not self._cancelled.is_set():
                raise translate(e) from None

    def _event(self, ev):
        subnet = parse_subnet_key(ev.kv.key.decode())
        if subnet is None:
            return None
        if ev.type == kv_pb2.Event.DELETE:
            return Event(REMOVED, Lease(subnet, None, asof=ev.kv.mod_revision))
        lease = self.registry._lease(ev.kv, with_ttl=False)
        return Event(ADDED, lease) if lease else None
