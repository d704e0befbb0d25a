"""Names to records: the Kubernetes DNS specification, answered from the index.

Mirrors CoreDNS's ``plugin/kubernetes``: ``handler.go`` (``ServeDNS``: NXDOMAIN or NODATA,
both with the zone's SOA in the authority section; SERVFAIL instead of NXDOMAIN while the
informers have not synced), ``parse.go`` (``parseRequest``: a name read from the right,
zone, ``svc``/``pod``, namespace, service, then an endpoint or ``_port._proto``),
``kubernetes.go`` (``findServices``, ``findPods``, ``endpointHostname``), ``reverse.go``
(``serviceRecordForIP``) and ``plugin/backend_lookup.go`` (the SOA, SRV weights), following
the specification ``kubernetes/dns: docs/specification.md``. With zone ``cluster.local``:

| question                                   | answer                                        |
|--------------------------------------------|-----------------------------------------------|
| ``web.ns.svc.cluster.local`` A/AAAA        | the ClusterIP(s)                              |
| ... of a headless Service                  | every ready endpoint's address; NXDOMAIN if   |
|                                            | none is ready                                 |
| ``pet.web.ns.svc.cluster.local`` A         | the address of the endpoint named ``pet`` (its|
|                                            | hostname, else its IP with dashes: 10-1-2-3)  |
| ``_http._tcp.web.ns.svc.cluster.local`` SRV| one per named port (headless: per port and    |
|                                            | ready endpoint), targets' A in additional     |
| ``4.3.2.1.in-addr.arpa`` PTR               | the Service of ClusterIP 1.2.3.4, else the    |
|                                            | endpoints with a hostname at 1.2.3.4          |
| an ExternalName Service, any type          | CNAME to its externalName                     |
| ``1-2-3-4.ns.pod.cluster.local`` A         | 1.2.3.4 (``pods insecure``, kubeadm's choice; |
|                                            | ``--pods disabled`` turns it off)             |
| ``dns-version.cluster.local`` TXT          | "1.1.0", the schema version                   |
| ``cluster.local`` SOA / NS                 | the zone's SOA / ``ns.dns.cluster.local``     |
| a name that is not there                   | NXDOMAIN, SOA in authority                    |
| a name that is there, not with that type   | NOERROR, no answer (NODATA), SOA in authority |

``serve`` returns None for a name this plugin does not own, so the server hands it to the
next plugin (``forward``): names outside the zone, and reverse names that are neither a
ClusterIP nor a named endpoint (kubeadm's Corefile: ``fallthrough in-addr.arpa ip6.arpa``).
Lookups are case-insensitive; answers keep the question's spelling.

What real Kubernetes does differently: CoreDNS also answers ``pods verified`` (only IPs
of pods that exist), wildcard queries (``*.ns.svc``, deprecated), SRV on a bare service
name (every port, unnamed ones too), AXFR zone transfers, multiple zones, ``autopath``
(walking the search path server-side) and the ``ignore empty_service`` option. It also
answers PTR for endpoints without a hostname (with their dashed-IP name), where the
specification, and this module, only name endpoints that have one.
"""
import ipaddress
from typing import NamedTuple

from dnslib import AAAA, CNAME, NS, PTR, QTYPE, RCODE, RR, SOA, SRV, TXT, A

from kfs.dns.index import endpoint_hostname, ip_family

SCHEMA_VERSION = "1.1.0"
VERSION_TTL = 28800     # CoreDNS's TTL for dns-version
SOA_TIMES = (7200, 1800, 86400)  # refresh, retry, expire (backend_lookup.go)
REVERSE_ZONES = ("in-addr.arpa", "ip6.arpa")
DNS_SERVICE = ("kube-system", "kube-dns")  # whose ClusterIP answers ns.dns.<zone>


class Reply(NamedTuple):
    rcode: int
    answer: tuple = ()
    authority: tuple = ()
    additional: tuple = ()


class NoSuchName(Exception):
    """The name does not exist in the zone: NXDOMAIN."""


def under(name, zone):
    return name == zone or name.endswith("." + zone)


def reverse_address(name):
    """The IP address a reverse name stands for (4.3.2.1.in-addr.arpa -> 1.2.3.4)."""
    try:
        if name.endswith(".in-addr.arpa"):
            octets = name[:-len(".in-addr.arpa")].split(".")
            if len(octets) == 4:
                return str(ipaddress.IPv4Address(".".join(reversed(octets))))
        elif name.endswith(".ip6.arpa"):
            nibbles = name[:-len(".ip6.arpa")].split(".")
            if len(nibbles) == 32 and all(len(n) == 1 for n in nibbles):
                return str(ipaddress.IPv6Address(int("".join(reversed(nibbles)), 16)))
    except ValueError:
        pass
    return None


def _unique(items):
    return list(dict.fromkeys(items))


class Kubernetes:
    """The ``kubernetes`` plugin of zone `zone` over an `Index`."""

    name = "kubernetes"

    def __init__(self, index, zone="cluster.local", ttl=30, pods="insecure"):
        if pods not in ("insecure", "disabled"):
            raise ValueError(f"pods mode must be insecure or disabled, not {pods!r}")
        self.index, self.zone, self.ttl, self.pods = index, zone.strip(".").lower(), ttl, pods

    # -- ServeDNS -------------------------------------------------------------------------

    def serve(self, qname, qtype):
        """A `Reply` for (qname, qtype), or None if the name is not this plugin's."""
        name = str(qname).rstrip(".").lower()
        if any(under(name, z) for z in REVERSE_ZONES):
            return self.reverse(qname, name, qtype)
        if not under(name, self.zone):
            return None
        relative = name[:-len(self.zone)].rstrip(".")
        try:
            answer, extra = self.records(relative.split(".") if relative else [], qname, qtype)
        except NoSuchName:
            synced = self.index.synced.is_set()
            return Reply(RCODE.NXDOMAIN if synced else RCODE.SERVFAIL, authority=(self.soa(),))
        if not answer:
            return Reply(RCODE.NOERROR, authority=(self.soa(),))  # NODATA
        return Reply(RCODE.NOERROR, tuple(answer), additional=tuple(extra))

    def soa(self):
        rdata = SOA(f"ns.dns.{self.zone}.", f"hostmaster.{self.zone}.",
                    (self.index.modified & 0xFFFFFFFF, *SOA_TIMES, self.ttl))
        return RR(self.zone + ".", QTYPE.SOA, ttl=min(self.ttl, 300), rdata=rdata)

    # -- parseRequest + Records -----------------------------------------------------------

    def records(self, labels, owner, qtype):
        """(answer, additional) for the labels left of the zone; NoSuchName if none."""
        if not labels:
            return self.apex(owner, qtype), []
        if labels == ["dns-version"]:
            txt = RR(owner, QTYPE.TXT, ttl=VERSION_TTL, rdata=TXT(SCHEMA_VERSION))
            return ([txt] if qtype == QTYPE.TXT else []), []
        if labels == ["ns", "dns"]:
            svc = self.index.service(*DNS_SERVICE)
            return self.addresses(owner, svc.cluster_ips if svc else (), qtype), []
        kind, rest = labels[-1], labels[:-1]
        if kind not in ("svc", "pod"):
            raise NoSuchName
        if not rest:
            return [], []   # svc.<zone>, pod.<zone>: names with nothing of their own
        namespace, rest = rest[-1], rest[:-1]
        if not self.index.has_namespace(namespace):
            raise NoSuchName
        if not rest:
            return [], []
        if kind == "pod":
            return self.pod(rest, owner, qtype), []
        svc = self.index.service(namespace, rest[-1])
        if svc is None:
            raise NoSuchName
        if len(rest) == 1:
            return self.service_records(svc, owner, qtype), []
        if len(rest) == 2:
            return self.endpoint_records(svc, rest[0], owner, qtype), []
        if len(rest) == 3:
            return self.srv_records(svc, rest[0], rest[1], owner, qtype)
        raise NoSuchName

    def apex(self, owner, qtype):
        if qtype == QTYPE.SOA:
            return [self.soa()]
        if qtype == QTYPE.NS:
            return [RR(owner, QTYPE.NS, ttl=self.ttl, rdata=NS(f"ns.dns.{self.zone}."))]
        return []

    def service_records(self, svc, owner, qtype):
        if svc.type == "ExternalName":
            target = svc.external_name.rstrip(".")
            if not target or ip_family(target):  # an IP is no name to CNAME to
                raise NoSuchName
            return [RR(owner, QTYPE.CNAME, ttl=self.ttl, rdata=CNAME(target + "."))]
        ips = svc.cluster_ips if not svc.headless else _unique(
            a.ip for eps in self.endpoints(svc) for a in eps.addresses)
        if not ips:
            raise NoSuchName  # a headless Service with no ready endpoint (spec 2.4.1)
        return self.addresses(owner, ips, qtype)

    def endpoint_records(self, svc, label, owner, qtype):
        ips = _unique(a.ip for eps in self.endpoints(svc) for a in eps.addresses
                      if endpoint_hostname(a) == label)
        if not ips:
            raise NoSuchName
        return self.addresses(owner, ips, qtype)

    def srv_records(self, svc, port_label, proto_label, owner, qtype):
        """_<port>._<proto>.<svc>: one SRV per matching named port (and ready endpoint)."""
        if len(port_label) < 2 or len(proto_label) < 2 or port_label[0] != "_" \
                or proto_label[0] != "_" or svc.type == "ExternalName":
            raise NoSuchName
        port, proto = port_label[1:], proto_label[1:]

        def matches(p):
            return p.name and p.name.lower() == port and p.protocol.lower() == proto
        base = f"{svc.name}.{svc.namespace}.svc.{self.zone}"
        if svc.headless:
            targets = [(p.port, f"{endpoint_hostname(a)}.{base}", (a.ip,))
                       for eps in self.endpoints(svc) for p in eps.ports if matches(p)
                       for a in eps.addresses]
        else:
            targets = [(p.port, base, svc.cluster_ips) for p in svc.ports if matches(p)]
        targets = _unique(targets)
        if not targets:
            raise NoSuchName
        if qtype != QTYPE.SRV:
            return [], []
        weight = max(1, 100 // len(targets))  # equal shares of 100, as CoreDNS
        answer = [RR(owner, QTYPE.SRV, ttl=self.ttl,
                     rdata=SRV(priority=0, weight=weight, port=number, target=target + "."))
                  for number, target, _ in targets]
        extra = [self.address(target + ".", ip)
                 for target, ips in dict((t, ips) for _, t, ips in targets).items()
                 for ip in ips]
        return answer, extra

    def pod(self, rest, owner, qtype):
        """<a-b-c-d>.<ns>.pod.<zone> -> a.b.c.d, without checking a pod has it (insecure)."""
        if self.pods != "insecure" or len(rest) != 1:
            raise NoSuchName
        label = rest[0]
        dashed_v4 = label.count("-") == 3 and "--" not in label
        ip = label.replace("-", "." if dashed_v4 else ":")
        if ip_family(ip) is None:
            raise NoSuchName
        return self.addresses(owner, [str(ipaddress.ip_address(ip))], qtype)

    def endpoints(self, svc):
        return self.index.service_endpoints(svc.namespace, svc.name)

    # -- Reverse --------------------------------------------------------------------------

    def reverse(self, qname, name, qtype):
        ip = reverse_address(name)
        if ip is None or qtype != QTYPE.PTR:
            return None
        svc = self.index.service_for_ip(ip)
        if svc is not None:
            targets = [f"{svc.name}.{svc.namespace}.svc.{self.zone}"]
        else:
            targets = _unique(f"{a.hostname}.{eps.service}.{eps.namespace}.svc.{self.zone}"
                              for eps, a in self.index.endpoints_for_ip(ip) if a.hostname)
        if not targets:
            return None  # fallthrough in-addr.arpa ip6.arpa
        return Reply(RCODE.NOERROR, tuple(RR(qname, QTYPE.PTR, ttl=self.ttl, rdata=PTR(t + "."))
                                          for t in targets))

    # -- records --------------------------------------------------------------------------

    def address(self, owner, ip):
        if ":" in ip:  # the index keeps addresses canonical: a colon is IPv6
            return RR(owner, QTYPE.AAAA, ttl=self.ttl, rdata=AAAA(ip))
        return RR(owner, QTYPE.A, ttl=self.ttl, rdata=A(ip))

    def addresses(self, owner, ips, qtype):
        if qtype not in (QTYPE.A, QTYPE.AAAA):
            return []
        v6 = qtype == QTYPE.AAAA
        return [self.address(owner, ip) for ip in ips if (":" in ip) == v6]
