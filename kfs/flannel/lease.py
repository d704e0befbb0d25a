"""A lease: one node's subnet, who holds it, how to reach it; and the LeaseWatcher.

Mirrors ``pkg/lease/lease.go``. A lease's value in etcd is upstream's ``LeaseAttrs`` as
Go's ``encoding/json`` writes it, byte for byte::

    {"PublicIP":"192.168.56.11","PublicIPv6":null,"BackendType":"vxlan",
     "BackendData":{"VNI":1,"VtepMAC":"7a:3c:0e:51:9d:20"}}

``PublicIP`` is the node's address on the network the nodes share (the vxlan packets'
outer destination, host-gw's next hop); ``BackendData`` is what the backend needs to reach
the node: for vxlan its VNI and the MAC address of its ``flannel.1`` (the VTEP).

The ``LeaseWatcher`` turns what the subnet manager sees (a full list after a (re)connect,
or single changes from the watch) into "added"/"removed" events about the *other* nodes:
after a list it compares with what it knew, so leases that came or went while etcd was
out of reach are not missed.

What real Kubernetes does differently: leases are dual-stack (``PublicIPv6``,
``BackendV6Data``, an IPv6 subnet); with the kube subnet manager the same attributes are
annotations on the Node (``flannel.alpha.coreos.com/public-ip``, ``backend-data``).
"""
import ipaddress
import json
from dataclasses import dataclass, field, replace

from kfs.flannel.config import fields

ADDED, REMOVED = "added", "removed"


@dataclass(frozen=True)
class LeaseAttrs:
    public_ip: str
    backend_type: str
    backend_data: dict = None

    def to_json(self):
        """The value stored in etcd, as upstream writes it."""
        value = {"PublicIP": self.public_ip, "PublicIPv6": None, "BackendType": self.backend_type}
        if self.backend_data is not None:
            value["BackendData"] = self.backend_data
        return json.dumps(value, separators=(",", ":"))

    @classmethod
    def from_json(cls, text):
        """Parse a stored value (field names in any case, as Go does); ValueError if bad."""
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise ValueError("a lease's value must be a JSON object")
        f = fields(raw)
        public_ip = str(ipaddress.IPv4Address(f.get("publicip") or ""))
        data = f.get("backenddata")
        return cls(public_ip, f.get("backendtype") or "", data if isinstance(data, dict) else None)


@dataclass(frozen=True)
class Lease:
    subnet: ipaddress.IPv4Network
    attrs: LeaseAttrs
    expiration: float = None   # on the registry's clock; None: a reservation (no TTL)
    lease_id: int = 0          # the etcd lease the key is bound to (0: none)
    asof: int = 0              # the key's mod revision

    def renewed(self, expiration, lease_id):
        return replace(self, expiration=expiration, lease_id=lease_id)


@dataclass(frozen=True)
class Event:
    type: str        # ADDED or REMOVED
    lease: Lease


@dataclass
class LeaseWatcher:
    """The other nodes' leases as last seen; `reset` and `update` return what changed."""
    own_lease: Lease
    leases: dict = field(default_factory=dict)   # subnet -> Lease

    def reset(self, leases):
        """A full list: added for the new or changed, removed for the vanished."""
        batch, fresh = [], {}
        for lease in leases:
            if lease.subnet == self.own_lease.subnet:
                continue
            fresh[lease.subnet] = lease
            old = self.leases.get(lease.subnet)
            if old is None or old.attrs != lease.attrs:
                batch.append(Event(ADDED, lease))
        batch += [Event(REMOVED, old) for sn, old in self.leases.items() if sn not in fresh]
        self.leases = fresh
        return batch

    def update(self, events):
        """Single changes from the watch; a removal carries the lease as it was known."""
        batch = []
        for event in events:
            subnet = event.lease.subnet
            if subnet == self.own_lease.subnet:
                continue
            if event.type == ADDED:
                self.leases[subnet] = event.lease
                batch.append(event)
            else:
                batch.append(Event(REMOVED, self.leases.pop(subnet, event.lease)))
        return batch
