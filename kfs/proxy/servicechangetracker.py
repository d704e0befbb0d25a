"""Services as the proxier sees them: one ``ServicePort`` per port, changes collected.

Mirrors ``pkg/proxy/serviceport.go`` (``BaseServicePortInfo``), ``pkg/proxy/servicechangetracker.go``
(``ServiceChangeTracker``, ``ServicePortMap.Update``) and the iptables proxier's
``newServiceInfo``, shrunk.

A Service with two ports is two ``ServicePort`` values, keyed by a ``ServicePortName``
(``default/web:http`` + protocol): everything the rules need about that port, with its
chain names computed once. The informer's handlers call ``update(previous, current)``; the
tracker keeps, per Service, the ports before the first unsynced change and after the last
one, and forgets the Service again if they end up equal (a change and its undo cost no
sync). ``ServicePortMap.update(tracker)`` applies the pending changes at the start of a
sync and says which Services changed: a partial sync rewrites only their chains.

What real Kubernetes does differently: dual-stack (a tracker per IP family, ClusterIPs by
family), LoadBalancer ingress in "Proxy" ipMode skipped, topology annotations kept.
"""
import threading
from dataclasses import dataclass, field

from kfs.proxy import rules


@dataclass(frozen=True, order=True)
class ServicePortName:
    """``ns/name:port`` (``ns/name`` for an unnamed port) plus the protocol."""
    namespace: str
    name: str
    port: str = ""
    protocol: str = "TCP"

    def __str__(self):
        return f"{self.namespace}/{self.name}" + (f":{self.port}" if self.port else "")

    @property
    def service(self):
        return (self.namespace, self.name)


@dataclass(frozen=True)
class ServicePort:
    """What the rules need about one port of one Service (``servicePortInfo``)."""
    name: ServicePortName
    cluster_ip: str
    port: int
    protocol: str
    node_port: int = 0
    external_ips: tuple = ()
    load_balancer_vips: tuple = ()
    load_balancer_source_ranges: tuple = ()
    session_affinity_client_ip: bool = False
    sticky_max_age_seconds: int = 0
    health_check_node_port: int = 0
    external_policy_local: bool = False
    internal_policy_local: bool = False
    name_string: str = field(default="", compare=False)
    cluster_policy_chain: str = field(default="", compare=False)
    local_policy_chain: str = field(default="", compare=False)
    firewall_chain: str = field(default="", compare=False)
    external_chain: str = field(default="", compare=False)

    def __post_init__(self):
        text, proto = str(self.name), self.protocol.lower()
        names = {"name_string": text,
                 "cluster_policy_chain": rules.service_port_policy_cluster_chain(text, proto),
                 "local_policy_chain": rules.service_port_policy_local_chain_name(text, proto),
                 "firewall_chain": rules.service_firewall_chain_name(text, proto),
                 "external_chain": rules.service_external_chain_name(text, proto)}
        for attr, value in names.items():
            object.__setattr__(self, attr, value)

    def externally_accessible(self):
        return bool(self.node_port or self.load_balancer_vips or self.external_ips)

    def uses_cluster_endpoints(self):
        """Cluster endpoints are needed unless internal traffic is Local and nothing
        external reaches the port (short-circuiting uses them even with ETP Local)."""
        return not self.internal_policy_local or self.externally_accessible()

    def uses_local_endpoints(self):
        return self.internal_policy_local or (self.external_policy_local
                                              and self.externally_accessible())


def should_skip_service(svc):
    """Headless, ExternalName and IP-less Services have nothing to proxy."""
    spec = svc.get("spec") or {}
    return spec.get("clusterIP") in (None, "", "None") or spec.get("type") == "ExternalName"


def externally_accessible(spec):
    return spec.get("type") in ("NodePort", "LoadBalancer") or (
        spec.get("type", "ClusterIP") == "ClusterIP" and bool(spec.get("externalIPs")))


def service_ports(svc):
    """{ServicePortName: ServicePort} for one Service (``serviceToServiceMap``)."""
    if svc is None or should_skip_service(svc):
        return {}
    md, spec = svc["metadata"], svc.get("spec") or {}
    status = (svc.get("status") or {}).get("loadBalancer") or {}
    etp_local = externally_accessible(spec) and spec.get("externalTrafficPolicy") == "Local"
    itp_local = spec.get("internalTrafficPolicy") == "Local"
    affinity = spec.get("sessionAffinity") == "ClientIP"
    sticky = (((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {})
              .get("timeoutSeconds", 10800)) if affinity else 0
    needs_health_check = spec.get("type") == "LoadBalancer" and etp_local
    ipv4 = lambda ips: tuple(ip for ip in ips if ip and ":" not in ip)  # noqa: E731
    out = {}
    for p in spec.get("ports") or []:
        protocol = p.get("protocol", "TCP")
        spn = ServicePortName(md["namespace"], md["name"], p.get("name") or "", protocol)
        out[spn] = ServicePort(
            name=spn, cluster_ip=spec["clusterIP"], port=int(p["port"]), protocol=protocol,
            node_port=int(p.get("nodePort") or 0),
            external_ips=ipv4(spec.get("externalIPs") or []),
            load_balancer_vips=ipv4([i.get("ip") for i in status.get("ingress") or []
                                     if i.get("ipMode", "VIP") == "VIP"]),
            load_balancer_source_ranges=tuple(r for r in spec.get("loadBalancerSourceRanges") or []
                                              if ":" not in r),
            session_affinity_client_ip=affinity, sticky_max_age_seconds=int(sticky),
            health_check_node_port=int(spec.get("healthCheckNodePort") or 0)
            if needs_health_check else 0,
            external_policy_local=etp_local, internal_policy_local=itp_local)
    return out


class ServiceChangeTracker:
    """Pending Service changes since the last sync: {(ns, name): [previous, current]}."""

    def __init__(self, metrics=None):
        self.items = {}
        self.lock = threading.Lock()
        self.metrics = metrics

    def update(self, previous, current):
        """Record a change; returns True if any change is pending (a sync is due)."""
        svc = current if current is not None else previous
        if svc is None:
            return False
        if self.metrics:
            self.metrics.service_changes_total.inc()
        key = (svc["metadata"]["namespace"], svc["metadata"]["name"])
        with self.lock:
            change = self.items.get(key)
            if change is None:
                change = self.items[key] = [service_ports(previous), None]
            change[1] = service_ports(current)
            if change[0] == change[1]:
                del self.items[key]
            if self.metrics:
                self.metrics.service_changes_pending.set(len(self.items))
            return bool(self.items)

    def checkout(self):
        with self.lock:
            items, self.items = self.items, {}
        if self.metrics:
            self.metrics.service_changes_pending.set(0)
        return items


class ServicePortMap(dict):
    """{ServicePortName: ServicePort}: the Services the rules are rendered from."""

    def update(self, tracker):
        """Apply `tracker`'s pending changes; returns the set of (ns, name) that changed."""
        updated = set()
        for key, (previous, current) in tracker.checkout().items():
            updated.add(key)
            for spn in previous:
                self.pop(spn, None)
            dict.update(self, current)
        return updated

    def health_check_node_ports(self):
        """{(ns, name): healthCheckNodePort} of the ports that have one."""
        return {spn.service: sp.health_check_node_port for spn, sp in self.items()
                if sp.health_check_node_port}
