"""The DNS index: what cluster DNS knows of Services, their endpoints and Namespaces.

Mirrors CoreDNS's ``plugin/kubernetes/controller.go`` (``dnsControl``: three informers and
the indexes ``SvcIndex``, ``SvcIndexReverse``, ``EpIndex``, ``EpIndexReverse``, and
``Modified``, the time of the last change that becomes the SOA serial) and
``plugin/kubernetes/object/service.go``, ``endpoint.go`` (the stripped-down objects it keeps
instead of whole API objects).

Two halves:

- ``Index``: a pure, thread-safe store. ``update_*``/``delete_*`` take API objects (plain
  dicts) and keep only what a DNS answer needs: a ``Service`` (name, type, cluster IPs,
  external name, ports) and per EndpointSlice an ``Endpoints`` with only its **ready**
  addresses (``conditions.ready`` absent counts as ready, as the API says), so an endpoint
  that turns unready simply drops out of every answer. Lookups: a Service by name, the
  endpoints of a Service (all its slices, found by the ``kubernetes.io/service-name``
  label), the Service owning a ClusterIP, the endpoints holding an address, whether a
  Namespace exists. Unit tests feed it fake objects, no server needed.
- ``DnsController``: three ``kfs.client.Informer``s (services, endpointslices, namespaces)
  whose handlers feed the index. ``synced`` is set once all three have listed; until then
  the server answers SERVFAIL rather than a false NXDOMAIN. When the API server goes away
  the informers retry and the index keeps the last state it saw, so DNS keeps answering.

What real Kubernetes does differently: CoreDNS converts objects in the informers' transform
functions so it never holds whole objects (here the informers keep theirs too), watches Pods
only in ``pods verified`` mode, can watch only some namespaces or label-selected objects,
and records ``coredns_kubernetes_dns_programming_duration_seconds`` from the endpoints'
last-change-trigger-time annotation.
"""
import ipaddress
import logging
import threading
import time
from typing import NamedTuple

from kfs import meta

log = logging.getLogger("kfs.dns")

SERVICE_NAME_LABEL = "kubernetes.io/service-name"


class Port(NamedTuple):
    name: str
    port: int
    protocol: str


class Service(NamedTuple):
    """A Service as DNS sees it (object/service.go)."""
    name: str
    namespace: str
    type: str
    cluster_ips: tuple      # empty for a headless Service
    external_name: str
    ports: tuple            # of Port

    @property
    def headless(self):
        return self.type != "ExternalName" and not self.cluster_ips


class Address(NamedTuple):
    ip: str
    hostname: str           # the endpoint's hostname, or ""


class Endpoints(NamedTuple):
    """One EndpointSlice, its ready addresses only (object/endpoint.go)."""
    name: str
    namespace: str
    service: str
    addresses: tuple        # of Address
    ports: tuple            # of Port


def canonical(ip):
    """An address as DNS writes it (fd00:0::1 -> fd00::1), or None if it is none."""
    try:
        return str(ipaddress.ip_address(ip))
    except ValueError:
        return None


def to_service(obj):
    spec = obj.get("spec") or {}
    ips = spec.get("clusterIPs") or [spec.get("clusterIP")]
    ips = tuple(filter(None, (canonical(ip) for ip in ips if ip and ip != "None")))
    ports = tuple(Port(p.get("name") or "", int(p.get("port") or 0), p.get("protocol") or "TCP")
                  for p in spec.get("ports") or [])
    return Service(meta.name(obj), meta.namespace(obj), spec.get("type") or "ClusterIP",
                   ips, spec.get("externalName") or "", ports)


def to_endpoints(obj):
    """The slice's ready addresses, or None for a slice DNS cannot use (no Service label,
    or FQDN addresses)."""
    service = ((obj.get("metadata") or {}).get("labels") or {}).get(SERVICE_NAME_LABEL)
    if not service or obj.get("addressType", "IPv4") not in ("IPv4", "IPv6"):
        return None
    addresses = []
    for ep in obj.get("endpoints") or []:
        ready = (ep.get("conditions") or {}).get("ready")
        if ready is False:
            continue
        addresses += [Address(canonical(ip), ep.get("hostname") or "")
                      for ip in ep.get("addresses") or [] if canonical(ip)]
    ports = tuple(Port(p.get("name") or "", int(p.get("port") or 0), p.get("protocol") or "TCP")
                  for p in obj.get("ports") or [])
    return Endpoints(meta.name(obj), meta.namespace(obj), service, tuple(addresses), ports)


def endpoint_hostname(address):
    """The name of an endpoint under its Service: its hostname, else its IP with dashes
    (CoreDNS's endpointHostname: 10-0-0-1, or fd00--1 for IPv6)."""
    return address.hostname or address.ip.replace(".", "-").replace(":", "-")


def ip_family(ip):
    try:
        return ipaddress.ip_address(ip).version
    except ValueError:
        return None


class Index:
    """Services, ready endpoints and Namespaces by the keys DNS looks them up by."""

    def __init__(self):
        self.lock = threading.RLock()
        self.services = {}      # (ns, name) -> Service
        self.endpoints = {}     # (ns, slice name) -> Endpoints
        self.slices_of = {}     # (ns, service name) -> {slice name}
        self.by_cluster_ip = {}  # ip -> (ns, name)
        self.by_endpoint_ip = {}  # ip -> {(ns, slice name)}
        self.namespaces = set()
        self.modified = int(time.time())
        self.synced = threading.Event()

    def _touch(self):
        self.modified = int(time.time())

    # -- keeping it current ---------------------------------------------------------------

    def update_service(self, obj):
        svc = to_service(obj)
        key = (svc.namespace, svc.name)
        with self.lock:
            self._forget_service(key)
            self.services[key] = svc
            for ip in svc.cluster_ips:
                self.by_cluster_ip[ip] = key
            self._touch()

    def delete_service(self, obj):
        with self.lock:
            self._forget_service((meta.namespace(obj), meta.name(obj)))
            self._touch()

    def _forget_service(self, key):
        old = self.services.pop(key, None)
        for ip in old.cluster_ips if old else ():
            if self.by_cluster_ip.get(ip) == key:
                del self.by_cluster_ip[ip]

    def update_endpoints(self, obj):
        eps = to_endpoints(obj)
        with self.lock:
            self._forget_endpoints((meta.namespace(obj), meta.name(obj)))
            if eps is not None:
                key = (eps.namespace, eps.name)
                self.endpoints[key] = eps
                self.slices_of.setdefault((eps.namespace, eps.service), set()).add(eps.name)
                for a in eps.addresses:
                    self.by_endpoint_ip.setdefault(a.ip, set()).add(key)
            self._touch()

    def delete_endpoints(self, obj):
        with self.lock:
            self._forget_endpoints((meta.namespace(obj), meta.name(obj)))
            self._touch()

    def _forget_endpoints(self, key):
        old = self.endpoints.pop(key, None)
        if old is None:
            return
        names = self.slices_of.get((old.namespace, old.service), set())
        names.discard(old.name)
        if not names:
            self.slices_of.pop((old.namespace, old.service), None)
        for a in old.addresses:
            keys = self.by_endpoint_ip.get(a.ip, set())
            keys.discard(key)
            if not keys:
                self.by_endpoint_ip.pop(a.ip, None)

    def update_namespace(self, obj):
        with self.lock:
            self.namespaces.add(meta.name(obj))
            self._touch()

    def delete_namespace(self, obj):
        with self.lock:
            self.namespaces.discard(meta.name(obj))
            self._touch()

    # -- informer handlers: handler(type, obj, old) ----------------------------------------

    def on_service(self, kind, obj, old):
        log.debug("%s service %s", kind, meta.key(obj))
        (self.delete_service if kind == "DELETED" else self.update_service)(obj)

    def on_endpointslice(self, kind, obj, old):
        log.debug("%s endpointslice %s", kind, meta.key(obj))
        (self.delete_endpoints if kind == "DELETED" else self.update_endpoints)(obj)

    def on_namespace(self, kind, obj, old):
        log.debug("%s namespace %s", kind, meta.key(obj))
        (self.delete_namespace if kind == "DELETED" else self.update_namespace)(obj)

    # -- lookups (API names are lower case; the resolver lower-cases the query) -----------

    def has_namespace(self, namespace):
        return namespace in self.namespaces

    def service(self, namespace, name):
        return self.services.get((namespace, name))

    def service_endpoints(self, namespace, name):
        """Every slice of Service `name`, ready addresses only."""
        with self.lock:
            names = sorted(self.slices_of.get((namespace, name), ()))
            return [self.endpoints[(namespace, n)] for n in names]

    def service_for_ip(self, ip):
        key = self.by_cluster_ip.get(ip)
        return self.services.get(key) if key else None

    def endpoints_for_ip(self, ip):
        """[(Endpoints, Address)] for every slice holding the ready address `ip`."""
        with self.lock:
            found = [self.endpoints[k] for k in sorted(self.by_endpoint_ip.get(ip, ()))]
        return [(eps, a) for eps in found for a in eps.addresses if a.ip == ip]


class DnsController:
    """Informers on services, endpointslices and namespaces, feeding an `Index`.

    `client` is a ``kfs.client.Client`` (or a unit test's FakeApi, which makes its own
    informers).
    """

    RESOURCES = (("services", "on_service"), ("endpointslices", "on_endpointslice"),
                 ("namespaces", "on_namespace"))

    def __init__(self, client, index=None):
        from kfs.client import Informer
        self.index = index or Index()
        make = getattr(client, "informer", None) or (lambda r: Informer(client, r))
        self.informers = [make(r).add_handler(getattr(self.index, h)) for r, h in self.RESOURCES]
        self.stopped = threading.Event()

    def start(self):
        for inf in self.informers:
            inf.start()
        threading.Thread(target=self._wait_synced, daemon=True, name="dns-synced").start()
        return self

    def _wait_synced(self):
        for inf in self.informers:
            while not self.stopped.is_set():
                try:
                    inf.wait_synced(5.0)
                    break
                except TimeoutError:  # the API server is not there yet: keep waiting
                    continue
        if not self.stopped.is_set():
            self.index.synced.set()

    def stop(self):
        self.stopped.set()
        for inf in self.informers:
            inf.stop()
