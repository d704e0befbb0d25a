"""Service addresses: a ClusterIP from ``--service-cluster-ip-range`` and NodePorts from
``--service-node-port-range`` (plus a ``healthCheckNodePort`` for a LoadBalancer with
``externalTrafficPolicy: Local``), each allocated exactly once, cluster-wide.

A Service's ClusterIP is a virtual address (nothing answers on it until kube-proxy writes
iptables rules for it), but it must be unique. Each allocation is claimed in etcd with a
create-if-absent transaction on a key of its own (``/registry/ipaddresses/10.96.0.17``,
``/registry/servicenodeports/30080``): two API servers allocating at once cannot both get
the same address, and deleting the Service releases its keys.

Mirrors ``pkg/registry/core/service/ipallocator`` (the IPAddress-object allocator of
1.31+, one object per address) and ``portallocator``.

What real Kubernetes does differently: IPAddress objects are real API objects with an
owner reference; NodePorts live in one bitmap (``RangeAllocation``) written with
optimistic concurrency; a repair loop finds leaked allocations; dual-stack services get
one address per family; dynamic allocation prefers the upper part of the range.
"""
import ipaddress
import random

from kfs.apiserver import errors
from kfs.apiserver.validation import fields

IP_PREFIX = "/registry/ipaddresses/"
PORT_PREFIX = "/registry/servicenodeports/"
NEEDS_NODE_PORT = ("NodePort", "LoadBalancer")


def needs_health_check_node_port(spec):
    """``service.NeedsHealthCheck``: a LoadBalancer whose external traffic stays local."""
    return spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


class Allocator:
    def __init__(self, storage, cidr="10.96.0.0/12", node_ports="30000-32767"):
        self.storage = storage
        self.network = ipaddress.ip_network(cidr)
        low, _, high = node_ports.partition("-")
        self.ports = range(int(low), int(high or low) + 1)

    # -- ClusterIPs --------------------------------------------------------------------------

    def claim_ip(self, ip):
        return self.storage.create_key(IP_PREFIX + str(ip))

    def allocate_ip(self, requested=None):
        """Claim `requested`, or a random free address of the range. Returns the address."""
        if requested:
            ip = ipaddress.ip_address(requested)
            if ip not in self.network or ip in (self.network.network_address,
                                                self.network.broadcast_address):
                raise _invalid("spec.clusterIPs", [requested],
                               f"failed to allocate IP {requested}: the provided IP "
                               f"({requested}) is not in the valid range. The range of "
                               f"valid IPs is {self.network}")
            if not self.claim_ip(ip):
                raise _invalid("spec.clusterIPs", [requested], f"failed to allocate IP "
                               f"{requested}: provided IP is already allocated")
            return str(ip)
        size = self.network.num_addresses - 2
        start = random.randrange(size)
        for i in range(min(size, 1024)):
            ip = self.network.network_address + 1 + (start + i) % size
            if self.claim_ip(ip):
                return str(ip)
        raise errors.internal("failed to allocate a serviceIP: range is full")

    def release_ip(self, ip):
        if ip and ip != "None":
            self.storage.delete_key(IP_PREFIX + ip)

    # -- NodePorts ---------------------------------------------------------------------------

    def allocate_port(self, requested, field):
        if requested:
            if requested not in self.ports:
                raise _invalid(field, requested, "provided port is not in the valid range. "
                               f"The range of valid ports is {self.ports.start}-"
                               f"{self.ports.stop - 1}")
            if not self.storage.create_key(PORT_PREFIX + str(requested)):
                raise _invalid(field, requested, "provided port is already allocated")
            return requested
        start = random.randrange(len(self.ports))
        for i in range(len(self.ports)):
            port = self.ports[(start + i) % len(self.ports)]
            if self.storage.create_key(PORT_PREFIX + str(port)):
                return port
        raise errors.internal("failed to allocate a nodePort: range is full")

    def release_port(self, port):
        if port:
            self.storage.delete_key(PORT_PREFIX + str(port))

    # -- a whole Service -----------------------------------------------------------------------

    def allocate(self, svc, old=None):
        """Fill in and claim what `svc` needs that `old` (on update) did not hold.

        Returns what was claimed, as (ips, ports), to release if the write fails.
        """
        spec, old_spec = svc.setdefault("spec", {}), (old or {}).get("spec") or {}
        ips, ports = [], []
        try:
            kind = spec.get("type", "ClusterIP")
            ip = spec.get("clusterIP")
            keep = old is not None and ip and ip == old_spec.get("clusterIP")
            if kind != "ExternalName" and ip != "None" and not keep:
                ip = self.allocate_ip(ip)
                ips.append(ip)
                spec["clusterIP"], spec["clusterIPs"] = ip, [ip]
            if kind != "ExternalName":
                spec.setdefault("ipFamilies", ["IPv4"])
                spec.setdefault("ipFamilyPolicy", "SingleStack")
            held = {p.get("nodePort") for p in old_spec.get("ports") or []
                    if old_spec.get("type") in NEEDS_NODE_PORT}
            for i, p in enumerate(spec.get("ports") or []):
                if kind not in NEEDS_NODE_PORT:
                    p.pop("nodePort", None)
                elif not p.get("nodePort") or p["nodePort"] not in held:
                    p["nodePort"] = self.allocate_port(p.get("nodePort"),
                                                       f"spec.ports[{i}].nodePort")
                    ports.append(p["nodePort"])
            hc, old_hc = spec.get("healthCheckNodePort"), old_spec.get("healthCheckNodePort")
            if not needs_health_check_node_port(spec):
                spec.pop("healthCheckNodePort", None)
            elif not hc or hc != old_hc:   # allocHealthCheckNodePort
                spec["healthCheckNodePort"] = self.allocate_port(hc, "spec.healthCheckNodePort")
                ports.append(spec["healthCheckNodePort"])
        except _Invalid as e:
            self.release(ips, ports)
            raise invalid_status(svc, e.cause) from None
        except Exception:
            self.release(ips, ports)
            raise
        return ips, ports

    def release(self, ips, ports):
        for ip in ips:
            self.release_ip(ip)
        for port in ports:
            self.release_port(port)

    def release_unused(self, svc, old):
        """After an update or delete (`svc` None): free what `old` held and `svc` does not."""
        spec, old_spec = (svc or {}).get("spec") or {}, old.get("spec") or {}
        if old_spec.get("clusterIP") != spec.get("clusterIP"):
            self.release_ip(old_spec.get("clusterIP"))
        now = {p.get("nodePort") for p in spec.get("ports") or []}
        now.add(spec.get("healthCheckNodePort"))
        for p in old_spec.get("ports") or []:
            if p.get("nodePort") and p["nodePort"] not in now:
                self.release_port(p["nodePort"])
        if old_spec.get("healthCheckNodePort") not in now:
            self.release_port(old_spec.get("healthCheckNodePort"))


class _Invalid(Exception):
    def __init__(self, cause):
        super().__init__(cause["message"])
        self.cause = cause


def _invalid(field, value, detail):
    return _Invalid(fields.invalid(field, value, detail))


def invalid_status(svc, cause):
    name = (svc.get("metadata") or {}).get("name", "")
    return errors.StatusError(422, "Invalid", fields.invalid_message("Service", name, [cause]),
                              {"name": name, "kind": "Service", "causes": [cause]})
