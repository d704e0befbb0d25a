"""Names outside the cluster: forwarded to the machine's resolver, or refused.

Mirrors CoreDNS's ``plugin/forward/forward.go`` as kubeadm's Corefile uses it
(``forward . /etc/resolv.conf``): the query goes out as it came, to the first
``nameserver`` of the machine's ``/etc/resolv.conf`` (or ``--upstream``); a truncated
answer is asked again over TCP; an upstream that does not answer in time, or answers
garbage, gets the client a SERVFAIL, as CoreDNS does (``errNoHealthy``).

With **no upstream** (a resolv.conf without nameserver, or ``--upstream none``, which the
lab wants: it has no internet) a name outside the cluster is answered **REFUSED**, at once.
REFUSED rather than SERVFAIL, because it is the truth ("this server will not answer that",
RFC 1035), not a transient failure: SERVFAIL invites retries (musl's resolver tries again,
caches hold it as a failure), REFUSED makes a stub resolver move on to its next
nameserver or give up immediately; it is also what CoreDNS answers for a zone none of its
server blocks serves. The forwarder also refuses to forward to its own listening address,
which would loop (CoreDNS's ``loop`` plugin finds such loops by probing).

What real Kubernetes does differently: CoreDNS's forward keeps pooled connections to up to
15 upstreams, health-checks them and picks one by policy (random, round robin,
sequential), prefers TCP when the client used it, and the ``cache`` plugin (30 s in
kubeadm's Corefile) keeps answers so most external names are not forwarded at all.
"""
import ipaddress
import logging

from dnslib import RCODE, DNSError, DNSRecord

log = logging.getLogger("kfs.dns")

DNS_PORT = 53


def parse_upstream(text):
    """"10.0.0.2", "10.0.0.2:5353", "[fd00::2]:53", "fd00::2" -> (host, port); "none" -> None."""
    text = (text or "").strip()
    if text.lower() in ("", "none"):
        return None
    host, port = text, DNS_PORT
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else DNS_PORT
    elif text.count(":") == 1:
        host, port = text.split(":")
    try:
        return str(ipaddress.ip_address(host)), int(port)
    except ValueError:
        raise ValueError(f"--upstream: {text!r} is not an IP address[:port] (or none)") from None


def upstream_from_resolv_conf(path="/etc/resolv.conf"):
    """The first nameserver of a resolv.conf, or None if there is none (or no file)."""
    try:
        with open(path) as f:
            for line in f:
                fields = line.split("#")[0].split()
                if len(fields) >= 2 and fields[0] == "nameserver":
                    return parse_upstream(fields[1])
    except (OSError, ValueError):
        pass
    return None


def loops_back(upstream, address, port):
    """Would forwarding to `upstream` reach this very server, listening on address:port?"""
    if upstream is None or upstream[1] != port:
        return False
    return upstream[0] == address or (address in ("0.0.0.0", "::", "")
                                      and ipaddress.ip_address(upstream[0]).is_loopback)


class Forwarder:
    """Send queries for names that are not the cluster's to `upstream` (host, port)."""

    name = "forward"

    def __init__(self, upstream=None, timeout=2.0):
        self.upstream, self.timeout = upstream, timeout

    def forward(self, request):
        """The upstream's reply to `request` (a dnslib DNSRecord), or REFUSED/SERVFAIL."""
        if self.upstream is None:
            return self.failure(request, RCODE.REFUSED)
        host, port = self.upstream
        v6 = ":" in host
        try:
            reply = DNSRecord.parse(request.send(host, port, timeout=self.timeout, ipv6=v6))
            if reply.header.tc:
                reply = DNSRecord.parse(request.send(host, port, tcp=True, timeout=self.timeout,
                                                     ipv6=v6))
        except (OSError, DNSError, ValueError) as e:
            log.debug("forward %s to %s:%d: %s", request.q.qname, host, port, e)
            return self.failure(request, RCODE.SERVFAIL)
        if reply.header.id != request.header.id:
            return self.failure(request, RCODE.SERVFAIL)
        return reply

    def failure(self, request, rcode):
        reply = request.reply(ra=int(self.upstream is not None), aa=0)
        reply.header.rcode = rcode
        return reply
