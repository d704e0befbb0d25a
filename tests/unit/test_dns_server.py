"""The DNS server on loopback sockets: UDP and TCP, truncation, forwarding, metrics.

The upstreams are static dnslib servers on 127.0.0.1 started by the tests; nothing leaves
the machine.
"""
import socket
import threading
import time

import pytest
from dnslib import EDNS0, OPCODE, QTYPE, RCODE, RR, DNSHeader, DNSQuestion, DNSRecord, A
from dnslib.server import DNSHandler, DNSServer
from prometheus_client import REGISTRY

from kfs.dns.forward import Forwarder
from kfs.dns.kubernetes import Kubernetes
from kfs.dns.server import ClusterResolver, QuietLogger, Servers
from tests.unit.dns_objects import endpoint, endpoint_slice, headless, service, synced_index


class StaticResolver:
    """An upstream that answers every A question with `ip`, `count` times."""

    def __init__(self, ip="192.0.2.7", count=1):
        self.ip, self.count, self.asked = ip, count, []

    def resolve(self, request, handler):
        self.asked.append((str(request.q.qname), handler.protocol))
        reply = request.reply()
        for i in range(self.count):
            reply.add_answer(RR(request.q.qname, QTYPE.A, ttl=60, rdata=A(self.ip)))
        return reply


class SmallUdpHandler(DNSHandler):
    udplen = 512  # dnslib's own truncation: a header-only reply with TC set


@pytest.fixture
def upstream():
    """A static dnslib server (UDP and TCP) on a free loopback port: (resolver, port)."""
    made = []

    def start(resolver, handler=DNSHandler):
        udp = DNSServer(resolver, "127.0.0.1", 0, logger=QuietLogger(), handler=handler)
        port = udp.server.server_address[1]
        tcp = DNSServer(resolver, "127.0.0.1", port, tcp=True, logger=QuietLogger(),
                        handler=handler)
        for s in (udp, tcp):
            threading.Thread(target=s.server.serve_forever, kwargs={"poll_interval": 0.05},
                             daemon=True).start()
            made.append(s)
        return ("127.0.0.1", port)
    yield start
    for s in made:
        s.stop()
        s.server.server_close()


@pytest.fixture
def cluster():
    many = [endpoint(f"10.2.{i // 250}.{i % 250 + 1}") for i in range(100)]
    return synced_index(
        service("web", cluster_ip="10.96.0.20"),
        headless("db"), endpoint_slice("db-a", "db", endpoints=[
            endpoint("10.1.0.1"), endpoint("10.1.0.2"), endpoint("10.1.0.3")]),
        headless("big"), endpoint_slice("big-a", "big", endpoints=many[:60]),
        headless("huge"), endpoint_slice("huge-a", "huge", endpoints=many),
        service("alias", type_="ExternalName", external_name="web.default.svc.cluster.local"),
        service("ext", type_="ExternalName", external_name="db.example.org"))


@pytest.fixture
def serve():
    running = []

    def start(index, upstream=None, timeout=2.0):
        resolver = ClusterResolver(Kubernetes(index), Forwarder(upstream, timeout=timeout))
        servers = Servers(resolver, "127.0.0.1", 0).start()
        running.append(servers)
        return servers.address[1]
    yield start
    for s in running:
        s.stop()


def query(port, name, qtype="A", tcp=False, edns=None):
    q = DNSRecord.question(name, qtype)
    if edns:
        q.add_ar(EDNS0(udp_len=edns))
    return DNSRecord.parse(q.send("127.0.0.1", port, tcp=tcp, timeout=5))


def addresses(reply):
    return sorted(str(rr.rdata) for rr in reply.rr if rr.rtype == QTYPE.A)


def test_a_service_resolves_over_udp_and_over_tcp_on_the_same_port(serve, cluster):
    port = serve(cluster)
    for tcp in (False, True):
        reply = query(port, "web.default.svc.cluster.local", tcp=tcp)
        assert addresses(reply) == ["10.96.0.20"] and reply.header.aa == 1


def test_an_answer_too_large_for_udp_is_truncated_and_comes_whole_over_tcp(serve, cluster):
    port = serve(cluster)
    short = query(port, "big.default.svc.cluster.local")
    assert short.header.tc == 1 and short.rr == []
    assert str(short.q.qname) == "big.default.svc.cluster.local."  # the question is kept
    whole = query(port, "big.default.svc.cluster.local", tcp=True)
    assert whole.header.tc == 0 and len(addresses(whole)) == 60


def test_an_edns0_client_gets_up_to_1232_bytes_over_udp(serve, cluster):
    port = serve(cluster)
    fits = query(port, "big.default.svc.cluster.local", edns=4096)   # ~1000 bytes
    assert fits.header.tc == 0 and len(addresses(fits)) == 60
    assert [rr.rtype for rr in fits.ar] == [QTYPE.OPT]
    too_big = query(port, "huge.default.svc.cluster.local", edns=4096)  # ~1650 bytes
    assert too_big.header.tc == 1 and [rr.rtype for rr in too_big.ar] == [QTYPE.OPT]
    assert len(addresses(query(port, "huge.default.svc.cluster.local", tcp=True))) == 100


def test_a_headless_answer_comes_in_a_random_order(serve, cluster):
    port = serve(cluster)
    firsts = {str(query(port, "db.default.svc.cluster.local").rr[0].rdata) for _ in range(30)}
    assert len(firsts) > 1


def test_a_name_outside_the_cluster_without_upstream_is_refused_at_once(serve, cluster):
    port = serve(cluster)
    start = time.monotonic()
    reply = query(port, "example.org")
    assert reply.header.rcode == RCODE.REFUSED and reply.header.ra == 0
    assert time.monotonic() - start < 1


def test_a_name_outside_the_cluster_goes_to_the_upstream(serve, cluster, upstream):
    static = StaticResolver("192.0.2.7")
    port = serve(cluster, upstream(static))
    reply = query(port, "www.example.org")
    assert reply.header.rcode == RCODE.NOERROR and addresses(reply) == ["192.0.2.7"]
    assert static.asked == [("www.example.org.", "udp")]


def test_a_truncated_upstream_answer_is_asked_again_over_tcp(serve, cluster, upstream):
    static = StaticResolver("192.0.2.8", count=40)
    port = serve(cluster, upstream(static, SmallUdpHandler))
    reply = query(port, "many.example.org", tcp=True)
    assert len(reply.rr) == 40
    assert static.asked == [("many.example.org.", "udp"), ("many.example.org.", "tcp")]


def test_an_upstream_that_does_not_answer_gives_servfail(serve, cluster):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = serve(cluster, silent.getsockname(), timeout=0.3)
        assert query(port, "example.org").header.rcode == RCODE.SERVFAIL


def test_a_reverse_name_that_is_not_the_clusters_is_forwarded(serve, cluster, upstream):
    static = StaticResolver()
    port = serve(cluster, upstream(static))
    query(port, "9.2.0.192.in-addr.arpa", "PTR")
    assert static.asked == [("9.2.0.192.in-addr.arpa.", "udp")]


def test_an_external_name_inside_the_zone_is_followed_to_its_address(serve, cluster):
    reply = query(serve(cluster), "alias.default.svc.cluster.local")
    assert [QTYPE[rr.rtype] for rr in reply.rr] == ["CNAME", "A"]
    assert addresses(reply) == ["10.96.0.20"]


def test_an_external_name_outside_is_followed_through_the_upstream(serve, cluster, upstream):
    port = serve(cluster, upstream(StaticResolver("192.0.2.9")))
    reply = query(port, "ext.default.svc.cluster.local")
    assert [QTYPE[rr.rtype] for rr in reply.rr] == ["CNAME", "A"]
    assert str(reply.rr[1].rname) == "db.example.org." and addresses(reply) == ["192.0.2.9"]


def test_without_upstream_an_external_name_is_only_its_cname(serve, cluster):
    reply = query(serve(cluster), "ext.default.svc.cluster.local")
    assert [(QTYPE[rr.rtype], str(rr.rdata)) for rr in reply.rr] == [("CNAME", "db.example.org.")]


def test_an_opcode_other_than_query_is_not_implemented(serve, cluster):
    port = serve(cluster)
    notify = DNSRecord(DNSHeader(opcode=OPCODE.NOTIFY), q=DNSQuestion("cluster.local"))
    reply = DNSRecord.parse(notify.send("127.0.0.1", port, timeout=5))
    assert reply.header.rcode == RCODE.NOTIMP


def test_a_query_with_no_question_or_two_is_a_format_error(serve, cluster):
    port = serve(cluster)
    for questions in ([], [DNSQuestion("a.cluster.local"), DNSQuestion("b.cluster.local")]):
        asked = DNSRecord(DNSHeader(id=7), questions=questions)
        reply = DNSRecord.parse(asked.send("127.0.0.1", port, timeout=5))
        assert (reply.header.id, reply.header.rcode) == (7, RCODE.FORMERR)


def test_garbage_gets_no_answer_and_the_server_goes_on(serve, cluster):
    port = serve(cluster)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.3)
        s.sendto(b"\x00\x01garbage", ("127.0.0.1", port))
        with pytest.raises(socket.timeout):
            s.recvfrom(512)
    assert addresses(query(port, "web.default.svc.cluster.local")) == ["10.96.0.20"]


def test_every_query_is_counted_with_corednss_metric_names(serve, cluster):
    port = serve(cluster)
    server = f"dns://127.0.0.1:{port}"
    labels = {"server": server, "zone": ".", "view": ""}

    def value(name, **extra):
        return REGISTRY.get_sample_value(name, {**labels, **extra}) or 0
    query(port, "web.default.svc.cluster.local")
    query(port, "nope.default.svc.cluster.local", tcp=True)
    query(port, "example.org", "AAAA")
    assert value("coredns_dns_requests_total", proto="udp", family="1", type="A") == 1
    assert value("coredns_dns_requests_total", proto="tcp", family="1", type="A") == 1
    assert value("coredns_dns_requests_total", proto="udp", family="1", type="AAAA") == 1
    assert value("coredns_dns_responses_total", rcode="NOERROR", plugin="kubernetes") == 1
    assert value("coredns_dns_responses_total", rcode="NXDOMAIN", plugin="kubernetes") == 1
    assert value("coredns_dns_responses_total", rcode="REFUSED", plugin="forward") == 1
    assert value("coredns_dns_request_duration_seconds_count") == 3


def test_a_port_in_use_is_an_error_at_once(cluster):
    resolver = ClusterResolver(Kubernetes(cluster), Forwarder(None))
    first = Servers(resolver, "127.0.0.1", 0)
    try:
        with pytest.raises(OSError):
            Servers(resolver, "127.0.0.1", first.address[1])
    finally:
        first.stop()
