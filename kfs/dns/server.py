"""The DNS server: dnslib's UDP and TCP servers around one resolver, truncation, metrics.

Mirrors CoreDNS's ``core/dnsserver/server.go`` (``ServeDNS``: each query goes down the
plugin chain of its server block until one writes an answer) with the chain of kubeadm's
Corefile cut to what matters here: ``kubernetes`` (names in the cluster zone, PTR of its
addresses), then ``forward`` (everything else), ``loadbalance`` (the A and AAAA records of
an answer in a random order, so clients of a headless Service spread out) and
``prometheus`` (every query counted). dnslib does the wire format (``DNSRecord.parse``,
``pack``) and the sockets (``DNSServer``: one thread per UDP datagram or TCP connection).

**Truncation.** A UDP answer must fit what the client can take: 512 bytes, or the EDNS0
buffer size it advertises, capped at 1232 (the DNS flag day 2020 size, which avoids IP
fragments). dnslib's ``DNSHandler`` truncates only if its ``udplen`` is set (the default 0
never does), and then with ``DNSRecord.truncate``, which keeps the header alone (TC set, no
question, no records). Here every UDP reply larger than the client's limit goes out as
that truncated reply with the question and the OPT record put back (some clients check
the question); the client asks again over TCP and gets everything. An EDNS0 query gets
an OPT record back advertising 1232.

What real Kubernetes does differently: CoreDNS truncates by dropping records until the
answer fits (``dns.Msg.Truncate``) rather than sending none, serves many queries per TCP
connection, DNS over TLS/HTTPS/gRPC too, caches answers (``cache 30``), and a query can
pass through a dozen plugins (errors, log, rewrite, loop, reload, ...).
"""
import logging
import random
import threading
import time

from dnslib import EDNS0, OPCODE, QTYPE, RCODE, DNSRecord
from dnslib.server import DNSHandler, DNSServer

from kfs.dns import metrics

log = logging.getLogger("kfs.dns")

UDP_MIN, UDP_MAX = 512, 1232
MAX_CHASE = 8  # CNAMEs followed for one answer


def udp_limit(request):
    """What a UDP answer to `request` may weigh: 512, or its EDNS0 size up to 1232."""
    sizes = [rr.rclass for rr in request.ar if rr.rtype == QTYPE.OPT]
    return max(UDP_MIN, min(sizes[0], UDP_MAX)) if sizes else UDP_MIN


def truncated(reply):
    """dnslib's truncated copy (header only, TC set), with the question and OPT back."""
    short = reply.truncate()
    for q in reply.questions:
        short.add_question(q)
    for rr in reply.ar:
        if rr.rtype == QTYPE.OPT:
            short.add_ar(rr)
    return short


class ClusterResolver:
    """dnslib's resolver interface: ``resolve(request, handler) -> reply``.

    `kubernetes` answers the cluster's names (``serve`` returns None for others), the
    `forwarder` the rest. ``handler.plugin`` is set to the plugin that answered.
    """

    def __init__(self, kubernetes, forwarder, loadbalance=True):
        self.kubernetes, self.forwarder, self.loadbalance = kubernetes, forwarder, loadbalance

    def resolve(self, request, handler):
        handler.plugin = ""
        if request.header.opcode != OPCODE.QUERY:
            reply = self.error(request, RCODE.NOTIMP)
        elif len(request.questions) != 1:
            reply = self.error(request, RCODE.FORMERR)
        else:
            reply = self.answer(request, handler)
        if any(rr.rtype == QTYPE.OPT for rr in request.ar) and \
                not any(rr.rtype == QTYPE.OPT for rr in reply.ar):
            reply.add_ar(EDNS0(udp_len=UDP_MAX))
        return reply

    def answer(self, request, handler):
        q = request.q
        result = self.kubernetes.serve(q.qname, q.qtype)
        if result is None:
            handler.plugin = self.forwarder.name
            return self.forwarder.forward(request)
        handler.plugin = self.kubernetes.name
        reply = request.reply(ra=int(self.forwarder.upstream is not None))
        reply.header.rcode = result.rcode
        answer = self.chase(list(result.answer), q.qtype)
        if self.loadbalance:
            answer = shuffled(answer)
        for rr in answer:
            reply.add_answer(rr)
        for rr in result.authority:
            reply.add_auth(rr)
        for rr in result.additional:
            reply.add_ar(rr)
        return reply

    def chase(self, answer, qtype):
        """An ExternalName's CNAME followed to addresses: in the zone from the index, else
        through the upstream (if any), as CoreDNS's upstream lookup does."""
        for _ in range(MAX_CHASE):
            if not answer or answer[-1].rtype != QTYPE.CNAME or qtype == QTYPE.CNAME:
                break
            target = answer[-1].rdata.label
            result = self.kubernetes.serve(target, qtype)
            if result is not None:
                more = list(result.answer)
            elif self.forwarder.upstream is not None:
                more = self.forwarder.forward(DNSRecord.question(str(target), QTYPE[qtype])).rr
            else:
                break
            if not more:
                break
            answer += more
        return answer

    @staticmethod
    def error(request, rcode):
        reply = request.reply(aa=0)
        reply.header.rcode = rcode
        return reply


def shuffled(answer):
    """plugin/loadbalance: address records in a random order, the rest (CNAMEs) first."""
    addresses = [rr for rr in answer if rr.rtype in (QTYPE.A, QTYPE.AAAA)]
    if len(addresses) < 2:
        return answer
    random.shuffle(addresses)
    return [rr for rr in answer if rr.rtype not in (QTYPE.A, QTYPE.AAAA)] + addresses


class Handler(DNSHandler):
    """dnslib's handler, with truncation to the client's size and metrics per query."""

    plugin = ""

    def get_reply(self, data):
        start = time.perf_counter()
        request = DNSRecord.parse(data)
        reply = self.server.resolver.resolve(request, self)
        rdata = reply.pack()
        if self.protocol == "udp" and len(rdata) > udp_limit(request):
            rdata = truncated(reply).pack()
        family = 2 if ":" in self.client_address[0] else 1
        metrics.report(self.server.label, self.protocol, family, request.q.qtype,
                       reply.header.rcode, self.plugin, time.perf_counter() - start,
                       len(data), len(rdata))
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s %s %s -> %s (%d bytes, %s)", self.client_address[0], self.protocol,
                      request.q.qname, QTYPE[request.q.qtype], RCODE[reply.header.rcode],
                      len(rdata), self.plugin or "server")
        return rdata


class QuietLogger:
    """dnslib's logger interface; only undecodable packets are logged, at debug."""

    def log_error(self, handler, e):
        log.debug("invalid request from %s: %s", handler.client_address[0], e)

    def _pass(self, *args):
        pass

    log_recv = log_send = log_request = log_reply = log_truncated = log_data = _pass


class Servers:
    """The UDP and the TCP server on one address and port, each in its own thread.

    Binding happens here, so a port in use or a privileged port raises OSError at once.
    Port 0 picks a free UDP port, and TCP takes the same one (another, if that one's TCP
    side happens to be taken).
    """

    def __init__(self, resolver, address="0.0.0.0", port=53, attempts=10):
        for attempt in range(attempts if port == 0 else 1):
            udp = DNSServer(resolver, address=address, port=port, logger=QuietLogger(),
                            handler=Handler)
            self.address = udp.server.server_address[:2]
            try:
                tcp = DNSServer(resolver, address=address, port=self.address[1], tcp=True,
                                logger=QuietLogger(), handler=Handler)
                break
            except OSError:
                udp.server.server_close()
                if port != 0 or attempt == attempts - 1:
                    raise
        self.servers, self.started = [udp, tcp], False
        for s in self.servers:
            s.server.label = metrics.server_label(address, self.address[1])

    def start(self):
        for s in self.servers:  # a short poll: stop() returns in a tenth of a second
            threading.Thread(target=s.server.serve_forever, kwargs={"poll_interval": 0.1},
                             daemon=True, name="dns-" + s.server.socket_type.name).start()
        self.started = True
        return self

    def stop(self):
        for s in self.servers:
            if self.started:
                s.server.shutdown()
            s.server.server_close()
