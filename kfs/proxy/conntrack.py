"""Stale UDP conntrack entries: forget flows DNATed to an endpoint that is gone.

Mirrors ``pkg/proxy/conntrack/cleanup.go`` (``CleanStaleEntries``), shrunk. TCP needs no
help: a connection to a vanished pod fails and the client reconnects through the new
rules. UDP has no connection, only a conntrack entry that keeps sending every datagram of
a "flow" (same source address and port) to the endpoint DNAT chose first, for as long as
datagrams keep coming. So after a sync that changed a UDP Service's endpoints, every UDP
entry whose original destination is the Service (ClusterIP, externalIP or LoadBalancer IP
and port, or a NodePort) but whose reply comes from an endpoint no longer serving is
deleted; the next datagram goes through the rules again.

``Conntrack`` lists and deletes with the ``conntrack`` command (conntrack-tools, which
set-up installs). Upstream shells out to the same tool until 1.31 and uses netlink since
1.32; kfs has no netlink library as a dependency, and one list plus a few deletes per
UDP endpoint change is cheap enough.

What real Kubernetes does differently: one netlink dump and a batch of netlink deletes
with filters, and metrics for how long it took and how many entries went.
"""
import logging

from kfs.util import run

log = logging.getLogger("kfs.proxy.conntrack")


class Conntrack:
    def __init__(self, prefix=()):
        self.prefix = list(prefix)

    def list_udp(self):
        """[(orig dst, orig dport, reply src, reply sport)] of the IPv4 UDP entries."""
        result = run(self.prefix, ["conntrack", "-L", "-f", "ipv4", "-p", "udp"], check=False)
        return [e for e in map(parse_entry, result.stdout.splitlines()) if e]

    def delete(self, orig_dst, orig_port, reply_src, reply_port):
        """Delete matching entries; `orig_dst` None matches any destination (a NodePort)."""
        argv = ["conntrack", "-D", "-f", "ipv4", "-p", "udp"]
        if orig_dst:
            argv += ["--orig-dst", orig_dst]
        argv += ["--orig-port-dst", str(orig_port), "--reply-src", reply_src,
                 "--reply-port-src", str(reply_port)]
        run(self.prefix, argv, check=False)   # exit 1 when nothing matched


def parse_entry(line):
    """``udp 17 29 src=A dst=B sport=1 dport=2 [UNREPLIED] src=C dst=D sport=3 dport=4 ...``"""
    fields = {}
    seen = []
    for word in line.split():
        k, sep, v = word.partition("=")
        if sep and k in ("src", "dst", "sport", "dport"):
            if k in fields:
                seen.append(fields)
                fields = {}
            fields[k] = v
    seen.append(fields)
    if len(seen) < 2 or len(seen[0]) < 4 or len(seen[1]) < 4:
        return None
    orig, reply = seen[0], seen[1]
    return orig["dst"], int(orig["dport"]), reply["src"], int(reply["sport"])


def stale_filters(entries, svc_port_map, endpoints_map):
    """The deletions to make: (orig dst or None, orig port, reply src, reply port)."""
    by_ip_port, by_node_port = {}, {}
    for spn, svc in svc_port_map.items():
        if svc.protocol != "UDP":
            continue
        serving = {(e.ip, e.port) for e in endpoints_map.get(spn, []) if e.serving}
        if not serving:   # a Service without endpoints: its flows are REJECTed anyway
            continue
        for ip in (svc.cluster_ip, *svc.load_balancer_vips, *svc.external_ips):
            by_ip_port[(ip, svc.port)] = serving
        if svc.node_port:
            by_node_port[svc.node_port] = serving
    filters = []
    for orig_dst, orig_port, reply_src, reply_port in entries:
        serving = by_ip_port.get((orig_dst, orig_port))
        if serving is not None and (reply_src, reply_port) not in serving:
            filters.append((orig_dst, orig_port, reply_src, reply_port))
        serving = by_node_port.get(orig_port)
        if serving is not None and (reply_src, reply_port) not in serving:
            filters.append((None, orig_port, reply_src, reply_port))
    return filters


def clean_stale_entries(ct, svc_port_map, endpoints_map):
    """List UDP flows and delete those no longer pointing at a serving endpoint."""
    filters = stale_filters(ct.list_udp(), svc_port_map, endpoints_map)
    for f in dict.fromkeys(filters):
        ct.delete(*f)
    if filters:
        log.info("deleted %d stale UDP conntrack entries", len(filters))
    return len(filters)
