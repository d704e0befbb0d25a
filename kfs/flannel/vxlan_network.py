"""The vxlan network at work: for each other node's lease, a neighbour, an FDB entry and a
route on ``flannel.1``; gone again with the lease.

Mirrors ``pkg/backend/vxlan/vxlan_network.go`` (``network.Run``, ``handleSubnetEvents``).
``plan_added`` and ``plan_removed`` say, as netlink calls, what one lease event means
(the module docstring of ``kfs.flannel.vxlan`` tells why each entry is there)::

    added   10.244.2.0/24 PublicIP 192.168.56.12 VtepMAC 7a:..:20
      neigh_set     flannel.1  10.244.2.0 -> 7a:..:20          (permanent)
      fdb_set       flannel.1  7a:..:20 -> dst 192.168.56.12
      route_replace 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink
    removed 10.244.2.0/24: the same three, deleted in the same order

A lease that comes back with another VtepMAC (its node's device was recreated) first
loses the FDB entry of the old MAC, which upstream leaves behind. If a step fails, the
entries already made for that lease are taken back, as upstream does, and the error is
logged; the next resync of the subnet manager tries again.

What real Kubernetes does differently: upstream retries each netlink call a few times
(``retry.Do``), handles IPv6 leases on ``flannel-v6.1``, and with ``DirectRouting`` adds a
plain route via the node instead when the node is on the same L2 network.
"""
import logging

from kfs.flannel.lease import ADDED
from kfs.flannel.netlink import NetlinkError, Route

log = logging.getLogger("kfs.flannel.vxlan")


def vtep_mac(lease):
    data = lease.attrs.backend_data or {}
    mac = {str(k).lower(): v for k, v in data.items()}.get("vtepmac")
    if not mac:
        raise ValueError(f"lease {lease.subnet} has no VtepMAC in its BackendData")
    return str(mac).lower()


def remote_entries(lease, index):
    """(neighbour, FDB entry, route) for a remote node's lease, as netlink calls."""
    mac, gw = vtep_mac(lease), str(lease.subnet.network_address)
    return (("neigh", index, gw, mac), ("fdb", index, mac, lease.attrs.public_ip),
            ("route", Route(lease.subnet, gw, index, onlink=True)))


SET = {"neigh": "neigh_set", "fdb": "fdb_set", "route": "route_replace"}
DEL = {"neigh": "neigh_del", "fdb": "fdb_del", "route": "route_del"}


def plan_added(lease, index, known=None):
    """The netlink calls that make `lease` reachable (after `known`, the lease this
    subnet had before, if its VtepMAC or PublicIP changed)."""
    steps = []
    if known is not None and known.attrs != lease.attrs and known.attrs is not None:
        try:
            old = remote_entries(known, index)[1]
            if old != remote_entries(lease, index)[1]:
                steps.append((DEL["fdb"], *old[1:]))
        except ValueError:
            pass
    return steps + [(SET[e[0]], *e[1:]) for e in remote_entries(lease, index)]


def plan_removed(lease, index):
    """The netlink calls that forget `lease`: its neighbour, FDB entry and route."""
    return [(DEL[e[0]], *e[1:]) for e in remote_entries(lease, index)]


class VXLANNetwork:
    backend_type = "vxlan"

    def __init__(self, manager, nl, dev, mtu):
        self.manager, self.nl, self.dev, self.mtu = manager, nl, dev, mtu
        self.applied = {}   # subnet -> the lease whose entries are in the kernel

    @property
    def lease(self):
        return self.manager.lease

    def run(self, stopped, synced=None):
        log.info("watching for new subnet leases")
        self.manager.watch_leases(self.handle_subnet_events, stopped, synced)

    def handle_subnet_events(self, batch):
        for event in batch:
            lease = event.lease
            if event.type == ADDED and lease.attrs.backend_type != "vxlan":
                log.warning("ignoring non-vxlan subnet %s: type=%s", lease.subnet,
                            lease.attrs.backend_type)
                continue
            try:
                if event.type == ADDED:
                    self.add(lease)
                else:
                    self.remove(self.applied.pop(lease.subnet, lease))
            except ValueError as e:
                log.error("error decoding subnet lease JSON: %s", e)

    def add(self, lease):
        log.info("adding subnet: %s PublicIP: %s VtepMAC: %s", lease.subnet,
                 lease.attrs.public_ip, vtep_mac(lease))
        done = []
        for step in plan_added(lease, self.dev.index, self.applied.get(lease.subnet)):
            try:
                getattr(self.nl, step[0])(*step[1:])
            except NetlinkError as e:
                log.error("%s failed for %s: %s", step[0], lease.subnet, e)
                self.undo(done)
                self.applied.pop(lease.subnet, None)
                return
            done.append(step)
        self.applied[lease.subnet] = lease

    def undo(self, done):
        undo = {v: DEL[k] for k, v in SET.items()}
        for step in reversed(done):
            if step[0] in undo:
                try:
                    getattr(self.nl, undo[step[0]])(*step[1:])
                except NetlinkError as e:
                    log.error("%s failed: %s", undo[step[0]], e)

    def remove(self, lease):
        if lease.attrs is None or lease.attrs.backend_type != "vxlan":
            return
        log.info("removing subnet: %s PublicIP: %s", lease.subnet, lease.attrs.public_ip)
        for step in plan_removed(lease, self.dev.index):
            try:   # try every entry, do not stop at the first failure
                getattr(self.nl, step[0])(*step[1:])
            except NetlinkError as e:
                log.error("%s failed for %s: %s", step[0], lease.subnet, e)

