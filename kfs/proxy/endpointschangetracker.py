"""Endpoints as the proxier sees them: EndpointSlices folded into one list per service port.

Mirrors ``pkg/proxy/endpoint.go`` (``BaseEndpointInfo``), ``pkg/proxy/endpointslicecache.go``,
``pkg/proxy/endpointschangetracker.go`` and ``pkg/proxy/topology.go``
(``CategorizeEndpoints``), shrunk.

A Service's endpoints may be spread over several EndpointSlices, and an endpoint can move
between slices, so the cache keeps every slice of a Service by name: ``applied`` (what the
rules were last rendered from) and ``pending`` (arrived since). At a sync, ``checkout``
turns each Service with pending slices into (previous, current) endpoint lists: one list
per ``ServicePortName`` (the slice's port *name* and protocol, so a named ``targetPort``
is already resolved to a number by the EndpointSlice controller), each endpoint
``ip:port``, sorted, de-duplicated (a terminating copy loses to a running one).

The slice annotation ``endpoints.kubernetes.io/last-change-trigger-time`` (set by the
EndpointSlice controller to when the pod or Service change happened) is remembered, so
the proxier can observe "change → rules written" as the network programming latency.

What real Kubernetes does differently: topology hints (same-zone, same-node) narrow the
cluster endpoints; dual-stack keeps a tracker per address type.
"""
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone

from kfs.proxy import rules
from kfs.proxy.servicechangetracker import ServicePortName

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
TRIGGER_TIME_ANNOTATION = "endpoints.kubernetes.io/last-change-trigger-time"


@dataclass(frozen=True)
class Endpoint:
    ip: str
    port: int
    is_local: bool = False
    ready: bool = True
    serving: bool = True
    terminating: bool = False
    chain_name: str = field(default="", compare=False)

    def __str__(self):
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"


def endpoint_for(spn, ip, port, is_local, conditions):
    """An Endpoint with its KUBE-SEP chain name (``newEndpointInfo``). Conditions as the
    API defines them: ready and serving default to true, terminating to false."""
    ready = conditions.get("ready") is not False
    serving = conditions.get("serving", ready) is not False
    terminating = conditions.get("terminating") is True
    ep = Endpoint(ip, int(port), is_local, ready, serving, terminating)
    chain = rules.service_port_endpoint_chain_name(str(spn), spn.protocol.lower(), str(ep))
    object.__setattr__(ep, "chain_name", chain)
    return ep


class EndpointSliceCache:
    """{(ns, service): {"applied": {slice: obj}, "pending": {slice: (obj, removed)}}}."""

    def __init__(self, node_name):
        self.node_name = node_name
        self.trackers = {}
        self.lock = threading.Lock()

    def update_pending(self, eps, remove):
        key, slice_name = slice_keys(eps)
        with self.lock:
            tracker = self.trackers.setdefault(key, {"applied": {}, "pending": {}})
            data = (eps, remove)
            if slice_name in tracker["pending"]:
                changed = tracker["pending"][slice_name] != data
            elif slice_name in tracker["applied"]:
                changed = remove or tracker["applied"][slice_name] != eps
            else:
                changed = not remove
            if changed:
                tracker["pending"][slice_name] = data
            return changed

    def checkout_changes(self):
        """{(ns, name): (previous endpoints map, current endpoints map)}, pending → applied."""
        changes = {}
        with self.lock:
            for key, tracker in list(self.trackers.items()):
                if not tracker["pending"]:
                    continue
                previous = self.endpoints_map(key, tracker["applied"])
                for name, (eps, removed) in tracker["pending"].items():
                    if removed:
                        tracker["applied"].pop(name, None)
                    else:
                        tracker["applied"][name] = eps
                tracker["pending"].clear()
                if not tracker["applied"]:
                    del self.trackers[key]
                changes[key] = (previous, self.endpoints_map(key, tracker["applied"]))
        return changes

    def endpoints_map(self, key, slices):
        """{ServicePortName: [Endpoint, ...] sorted by "ip:port"} for one Service."""
        by_port = {}
        for eps in slices.values():
            for p in eps.get("ports") or []:
                if p.get("name") is None or not p.get("port"):
                    continue
                spn = ServicePortName(key[0], key[1], p["name"], p.get("protocol", "TCP"))
                self.add_endpoints(spn, p["port"], by_port.setdefault(spn, {}),
                                   eps.get("endpoints") or [])
        return {spn: sorted(found.values(), key=str) for spn, found in by_port.items() if found}

    def add_endpoints(self, spn, port, found, endpoints):
        for e in endpoints:
            if not e.get("addresses"):
                continue
            is_local = bool(self.node_name) and e.get("nodeName") == self.node_name
            ep = endpoint_for(spn, e["addresses"][0], port, is_local, e.get("conditions") or {})
            if str(ep) not in found or not ep.terminating:
                found[str(ep)] = ep


def slice_keys(eps):
    md = eps["metadata"]
    service = (md.get("labels") or {}).get(SERVICE_NAME_LABEL)
    if not service:
        raise ValueError(f"no {SERVICE_NAME_LABEL} label on EndpointSlice {md.get('name')}")
    return (md["namespace"], service), md["name"]


class EndpointsChangeTracker:
    """Pending EndpointSlice changes, and the trigger times that caused them."""

    def __init__(self, node_name, metrics=None):
        self.cache = EndpointSliceCache(node_name)
        self.metrics = metrics
        self.trigger_times = {}
        self.start_time = datetime.now(timezone.utc)
        self.lock = threading.Lock()

    def endpoint_slice_update(self, eps, remove):
        """Record a slice change; True if it changes what the rules would be."""
        if eps.get("addressType", "IPv4") != "IPv4":
            return False
        try:
            key, _ = slice_keys(eps)
        except ValueError:
            return False
        if self.metrics:
            self.metrics.endpoint_changes_total.inc()
        with self.lock:
            changed = self.cache.update_pending(eps, remove)
            if changed:
                if self.metrics:
                    self.metrics.endpoint_changes_pending.inc()
                if remove:   # a deletion's annotation is from the last update: not a trigger
                    self.trigger_times.pop(key, None)
                else:
                    t = trigger_time(eps)
                    if t is not None and t > self.start_time:
                        self.trigger_times.setdefault(key, []).append(t)
            return changed

    def checkout(self):
        with self.lock:
            changes = self.cache.checkout_changes()
            times, self.trigger_times = self.trigger_times, {}
        if self.metrics:
            self.metrics.endpoint_changes_pending.set(0)
        return changes, times


def trigger_time(eps):
    value = ((eps["metadata"].get("annotations") or {}).get(TRIGGER_TIME_ANNOTATION))
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass
class UpdateEndpointsMapResult:
    updated_services: set
    conntrack_cleanup_required: bool
    last_change_trigger_times: dict


class EndpointsMap(dict):
    """{ServicePortName: [Endpoint]}: every service port's endpoints."""

    def update(self, tracker):
        changes, times = tracker.checkout()
        udp = False
        for key, (previous, current) in changes.items():
            for spn in previous:
                self.pop(spn, None)
            dict.update(self, current)
            udp = udp or any(s.protocol == "UDP" for s in (*previous, *current))
        return UpdateEndpointsMapResult(set(changes), udp, times)

    def local_ready_endpoints(self):
        """{(ns, name): number of distinct ready local endpoint IPs} (health checks)."""
        ips = {}
        for spn, endpoints in self.items():
            for ep in endpoints:
                if ep.ready and ep.is_local:
                    ips.setdefault(spn.service, set()).add(ep.ip)
        return {k: len(v) for k, v in ips.items()}
