"""Metrics, /health and /ready: what Prometheus and the kubelet's probes see of kfs dns.

Mirrors CoreDNS's ``plugin/metrics`` (``vars/vars.go``, ``vars/report.go``: every answered
query counted once, with CoreDNS's names and labels, so a dashboard made for CoreDNS reads
kfs dns), ``plugin/health`` (``GET :8080/health`` says 200 OK while the process lives:
the liveness probe) and ``plugin/ready`` (``GET :8181/ready`` says 200 OK once every
plugin is ready, else 503 and the names of those that are not: here ``kubernetes`` until
its informers have listed; the readiness probe).

| metric                                     | labels                                      |
|--------------------------------------------|---------------------------------------------|
| ``coredns_dns_requests_total``             | server, zone, view, proto, family, type     |
| ``coredns_dns_responses_total``            | server, zone, view, rcode, plugin           |
| ``coredns_dns_request_duration_seconds``   | server, zone, view (histogram, 0.25 ms ×2^n)|
| ``coredns_dns_request_size_bytes``         | server, zone, view, proto (histogram)       |
| ``coredns_dns_response_size_bytes``        | server, zone, view, proto (histogram)       |

``server`` is ``dns://:53`` (the listening address), ``zone`` is ``.`` (kubeadm's Corefile
has the one server block ``.:53``), ``view`` is empty, ``plugin`` is the one that wrote the
answer (``kubernetes``, ``forward``, or empty when the server itself answered).

What real Kubernetes does differently: CoreDNS also exports per-plugin metrics (cache
hits, forward requests per upstream and their health, kubernetes DNS programming latency,
panics, build info) and its health plugin can hold a lame-duck period before exiting.
"""
import functools
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from dnslib import QTYPE, RCODE
from prometheus_client import Counter, Histogram, start_http_server

LABELS = ["server", "zone", "view"]
TIME_BUCKETS = tuple(0.00025 * 2 ** i for i in range(16))  # prometheus.ExponentialBuckets
SIZE_BUCKETS = (0, 100, 200, 300, 400, 511, 1023, 2047, 4095, 8291, 16e3, 32e3, 48e3, 64e3)
# types with a label of their own (CoreDNS's monitored types); the rest count as "other"
TYPES = {"A", "AAAA", "NS", "PTR", "SOA", "SRV", "TXT", "CNAME", "MX", "NAPTR", "DS",
         "DNSKEY", "ANY", "AXFR", "IXFR", "HTTPS", "SVCB", "CAA", "HINFO"}

REQUESTS = Counter("coredns_dns_requests_total",
                   "Counter of DNS requests made per zone, protocol and family.",
                   LABELS + ["proto", "family", "type"])
RESPONSES = Counter("coredns_dns_responses_total", "Counter of response status codes.",
                    LABELS + ["rcode", "plugin"])
DURATION = Histogram("coredns_dns_request_duration_seconds",
                     "Histogram of the time (in seconds) each request took per zone.",
                     LABELS, buckets=TIME_BUCKETS)
REQUEST_SIZE = Histogram("coredns_dns_request_size_bytes",
                         "Size of the EDNS0 UDP buffer in bytes (64K for TCP) per zone and "
                         "protocol.", LABELS + ["proto"], buckets=SIZE_BUCKETS)
RESPONSE_SIZE = Histogram("coredns_dns_response_size_bytes",
                          "Size of the returned response in bytes.", LABELS + ["proto"],
                          buckets=SIZE_BUCKETS)


def server_label(address, port):
    return f"dns://:{port}" if address in ("", "0.0.0.0", "::") else f"dns://{address}:{port}"


def report(server, proto, family, qtype, rcode, plugin, seconds, request_size, response_size):
    """Count one answered query (vars.Report)."""
    requests, responses, duration, request_bytes, response_bytes = _children(
        server, proto, family, qtype, rcode, plugin)
    requests.inc()
    responses.inc()
    duration.observe(seconds)
    request_bytes.observe(request_size)
    response_bytes.observe(response_size)


@functools.lru_cache(maxsize=1024)
def _children(server, proto, family, qtype, rcode, plugin):
    """The labelled series one kind of query counts into (looked up once, then reused)."""
    base = (server, ".", "")
    qtype = QTYPE[qtype]  # "TYPE65280" for a type dnslib does not name
    return (REQUESTS.labels(*base, proto, str(family), qtype if qtype in TYPES else "other"),
            RESPONSES.labels(*base, RCODE[rcode], plugin), DURATION.labels(*base),
            REQUEST_SIZE.labels(*base, proto), RESPONSE_SIZE.labels(*base, proto))


def serve_metrics(address, port):
    """/metrics on address:port, in a thread; returns the HTTP server (to shut down)."""
    server, _ = start_http_server(port, addr=address)
    return server


def serve_probe(address, port, path, check):
    """GET `path` -> 200 "OK" if check() is empty, else 503 listing what check() names.

    ``check`` returns the names of the plugins that are not ready (health: never any).
    """
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path.split("?")[0] != path:
                self.send_error(404)
                return
            not_ready = check()
            body = ("OK" if not not_ready else ", ".join(not_ready)).encode()
            self.send_response(503 if not_ready else 200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # probes every few seconds: no access log
            pass

    server = ThreadingHTTPServer((address, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True, name=f"probe-{path}").start()
    return server
