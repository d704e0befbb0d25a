"""In-memory stand-ins for etcd (the subnet registry), the kernel (netlink) and iptables,
for flannel's unit tests. The integration and root tiers run the same code on a real etcd,
real vxlan devices and the real iptables.

``FakeRegistry`` has etcd's semantics where flannel relies on them: a create is a
compare-and-set (``SubnetExists`` if the key is there), keys are bound to leases that
expire on a ``FakeClock`` (etcd then deletes the key and a watch sees a delete), every
change has a revision, and a watch from revision N replays the changes since N. Its watch
ends with ``Unavailable`` when it has nothing more to say, as a watch does when etcd goes
away, so the manager's resync path runs in every test that watches.
"""
import errno
import ipaddress
import itertools

from kfs.flannel.lease import ADDED, REMOVED, Event, Lease, LeaseAttrs
from kfs.flannel.netlink import Link, NetlinkError
from kfs.flannel.registry import ConfigNotFound, SubnetExists
from kfs.storage.errors import Unavailable
from tests.unit.proxy_fakes import FakeIptables

CONFIG = '{"Network": "10.244.0.0/16", "SubnetLen": 24, "Backend": {"Type": "vxlan"}}'


class FakeClock:
    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


class FakeStop:
    """A `stopped` Event whose ``wait(t)`` lets `t` pass on the clock; it is set once the
    clock reaches `until` (or by ``set()``)."""

    def __init__(self, clock, until=float("inf")):
        self.clock, self.until, self.flag, self.waits = clock, until, False, []

    def wait(self, timeout=None):
        self.waits.append(timeout)
        if not self.flag:
            target = self.until if timeout is None else min(self.until, self.clock.now + timeout)
            self.clock.now = max(self.clock.now, target)
            self.flag = self.clock.now >= self.until
        return self.flag

    def is_set(self):
        return self.flag

    def set(self):
        self.flag = True


class FakeRegistry:
    prefix = "/coreos.com/network"

    def __init__(self, clock=None, config=CONFIG):
        self.clock = clock or FakeClock()
        self.config = config
        self.kvs = {}          # subnet -> (attrs, lease_id, mod_revision)
        self.leases = {}       # lease id -> expiry
        self.revision = 1
        self.log = []          # (revision, Event)
        self.ids = itertools.count(7000)
        self.calls = []
        self.down = False
        self.before_create = None   # called with the subnet just before a create's compare

    def _check(self, call):
        self.calls.append(call)
        if self.down:
            raise Unavailable("etcd: unavailable: fake etcd is down")
        self.expire()

    def expire(self):
        for subnet, (attrs, lease_id, _) in list(self.kvs.items()):
            if lease_id and self.leases.get(lease_id, 0) <= self.clock():
                self._delete(subnet)
        for lease_id, expiry in list(self.leases.items()):
            if expiry <= self.clock():
                del self.leases[lease_id]

    def _delete(self, subnet):
        del self.kvs[subnet]
        self.revision += 1
        self.log.append((self.revision, Event(REMOVED, Lease(subnet, None, asof=self.revision))))

    def _put(self, subnet, attrs, lease_id):
        self.revision += 1
        self.kvs[subnet] = (attrs, lease_id, self.revision)
        lease = self._lease(subnet)
        self.log.append((self.revision, Event(ADDED, lease)))
        return lease

    def _lease(self, subnet):
        attrs, lease_id, rev = self.kvs[subnet]
        expiration = self.leases[lease_id] if lease_id else None
        return Lease(subnet, attrs, expiration, lease_id, rev)

    def _grant(self, ttl):
        lease_id = next(self.ids)
        self.leases[lease_id] = self.clock() + ttl
        return lease_id

    # -- the registry's API ---------------------------------------------------------------

    def get_network_config(self):
        self._check("get_network_config")
        if self.config is None:
            raise ConfigNotFound(f"no network config at {self.prefix}/config in etcd")
        return self.config

    def get_subnets(self):
        self._check("get_subnets")
        return [self._lease(sn) for sn in sorted(self.kvs)], self.revision

    def create_subnet(self, subnet, attrs, ttl):
        self._check(("create_subnet", str(subnet)))
        if self.before_create:
            hook, self.before_create = self.before_create, None
            hook(subnet)
        if subnet in self.kvs:
            raise SubnetExists(str(subnet))
        return self._put(subnet, attrs, self._grant(ttl))

    def update_subnet(self, subnet, attrs, ttl, old_lease_id=0):
        self._check(("update_subnet", str(subnet)))
        lease = self._put(subnet, attrs, self._grant(ttl) if ttl else 0)
        self.leases.pop(old_lease_id, None)
        return lease

    def delete_subnet(self, subnet):
        self._check(("delete_subnet", str(subnet)))
        if subnet in self.kvs:
            self._delete(subnet)

    def revoke(self, lease_id):
        self.leases.pop(lease_id, None)
        self.expire()

    def watch_subnets(self, since):
        self._check(("watch_subnets", since))
        return FakeWatch(self, since)

    def close(self):
        pass

    # -- for the tests ----------------------------------------------------------------------

    def put_lease(self, subnet, public_ip, mac="aa:00:00:00:00:02", ttl=3600,
                  backend_type="vxlan"):
        """Another node's lease, as its flanneld would have written it."""
        data = {"VNI": 1, "VtepMAC": mac} if backend_type == "vxlan" else None
        return self._put(ipaddress.IPv4Network(subnet),
                         LeaseAttrs(public_ip, backend_type, data), self._grant(ttl))


class FakeWatch:
    def __init__(self, registry, since):
        self.registry, self.since, self.cancelled = registry, since, False

    def cancel(self):
        self.cancelled = True

    def __iter__(self):
        pos = self.since
        while not self.cancelled:
            self.registry.expire()
            pending = [(rev, ev) for rev, ev in self.registry.log if rev >= pos]
            if not pending or self.registry.down:
                raise Unavailable("etcd: unavailable: fake watch ended")
            for rev, ev in pending:
                pos = rev + 1
                yield ev


class FakeNetlink:
    """Links, addresses, neighbours, FDB entries and routes in dicts; `calls` records
    every change in order, `fail` makes the named method raise once."""

    def __init__(self):
        self.links_ = {1: Link(1, "lo", None, 65536, "00:00:00:00:00:00", True),
                       2: Link(2, "eth0", "veth", 1500, "52:54:00:00:00:11", True)}
        self.addrs = {1: [ipaddress.IPv4Interface("127.0.0.1/8")],
                      2: [ipaddress.IPv4Interface("192.168.56.11/24")]}
        self.neighs, self.fdbs, self.route_table = set(), set(), {}
        self.default_index = 2
        self.calls, self.fail = [], set()
        self.next_index = itertools.count(10)

    def _record(self, name, *args):
        if name in self.fail:
            self.fail.discard(name)
            raise NetlinkError(errno.EINVAL, f"{name}: fake failure")
        self.calls.append((name, *args))

    def links(self):
        return list(self.links_.values())

    def link(self, name):
        return next((link for link in self.links_.values() if link.name == name), None)

    def link_by_index(self, index):
        return self.links_.get(index)

    def add_vxlan(self, name, vni, port, local, dev_index, mtu, mac, learning=False):
        if self.link(name):
            raise NetlinkError(errno.EEXIST, "File exists")
        self._record("add_vxlan", name)
        index = next(self.next_index)
        self.links_[index] = Link(index, name, "vxlan", mtu, mac, False,
                                  {"id": vni, "local": local, "port": port, "link": dev_index,
                                   "learning": learning})
        self.addrs[index] = []
        return self.links_[index]

    def delete_link(self, index):
        self._record("delete_link", index)
        self.links_.pop(index, None)
        self.addrs.pop(index, None)
        self.route_table = {k: r for k, r in self.route_table.items() if r.index != index}

    def set_up(self, index):
        self._record("set_up", index)
        link = self.links_[index]
        self.links_[index] = Link(link.index, link.name, link.kind, link.mtu, link.mac, True,
                                  link.vxlan)

    def addresses(self, index):
        return list(self.addrs.get(index, []))

    def add_address(self, index, interface):
        self._record("add_address", index, str(interface))
        self.addrs[index].append(ipaddress.IPv4Interface(interface))

    def del_address(self, index, interface):
        self._record("del_address", index, str(interface))
        self.addrs[index].remove(ipaddress.IPv4Interface(interface))

    def link_by_address(self, ip):
        for index, addrs in self.addrs.items():
            if any(str(a.ip) == str(ip) for a in addrs):
                return self.links_[index]
        return None

    def neigh_set(self, index, ip, mac):
        self._record("neigh_set", index, ip, mac)
        self.neighs = {n for n in self.neighs if n[:2] != (index, ip)} | {(index, ip, mac)}

    def neigh_del(self, index, ip, mac):
        self._record("neigh_del", index, ip, mac)
        self.neighs.discard((index, ip, mac))

    def fdb_set(self, index, mac, dst):
        self._record("fdb_set", index, mac, dst)
        self.fdbs = {f for f in self.fdbs if f[:2] != (index, mac)} | {(index, mac, dst)}

    def fdb_del(self, index, mac, dst):
        self._record("fdb_del", index, mac, dst)
        self.fdbs.discard((index, mac, dst))

    def route_replace(self, route):
        self._record("route_replace", route)
        self.route_table[route.dst] = route

    def route_del(self, route):
        self._record("route_del", route)
        if self.route_table.get(route.dst) == route:
            del self.route_table[route.dst]

    def routes(self, index=None):
        return [r for r in self.route_table.values() if index is None or r.index == index]

    def default_route_index(self):
        return self.default_index


class FlannelFakeIptables(FakeIptables):
    """proxy's FakeIptables, with rules kept as iptables-save prints them (a comment with
    a space in quotes), as flannel's in-sync check reads them."""

    @staticmethod
    def _rule(args):
        return " ".join(f'"{a}"' if " " in a else a for a in args)

    def ensure_rule(self, prepend, table, chain, *args):
        return super().ensure_rule(prepend, table, chain, self._rule(args))

    def delete_rule(self, table, chain, *args):
        super().delete_rule(table, chain, self._rule(args))
