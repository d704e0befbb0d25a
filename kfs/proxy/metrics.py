"""kube-proxy's Prometheus metrics, with upstream's names, and the server for ``/metrics``.

Mirrors ``pkg/proxy/metrics/metrics.go`` (the ``kubeproxy_*`` metrics of the iptables
mode) and the metrics half of ``cmd/kube-proxy/app/server.go`` (``--metrics-bind-address``,
``/metrics`` and ``/proxyMode``), shrunk. ``prometheus-client`` does the exposition format.

The two a reader watches first: ``kubeproxy_sync_proxy_rules_duration_seconds`` (how long
one sync takes; ``..._full_...`` and ``..._partial_...`` split it) and
``kubeproxy_network_programming_duration_seconds`` (from the change that caused an
EndpointSlice update, per the slice's ``endpoints.kubernetes.io/last-change-trigger-time``,
to the rules being in the kernel).

What real Kubernetes does differently: the metrics live in component-base's registry with
stability levels; ``kubeproxy_iptables_ct_state_invalid_dropped_packets_total`` is read
from an nfacct counter; ``/configz`` serves the configuration.
"""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

SYNC_BUCKETS = [0.001 * 2 ** i for i in range(15)]          # ExponentialBuckets(0.001, 2, 15)
PROGRAMMING_BUCKETS = ([0.25, 0.5] + [float(s) for s in range(1, 60)]
                       + [60.0 + 5 * i for i in range(12)] + [120.0 + 30 * i for i in range(7)])


# attribute: (kind, name after "kubeproxy_", help, labels); counters get "_total" appended
METRICS = {
    "sync_proxy_rules_latency": ("histogram", "sync_proxy_rules_duration_seconds",
                                 "SyncProxyRules latency in seconds", ()),
    "sync_full_proxy_rules_latency": ("histogram", "sync_full_proxy_rules_duration_seconds",
                                      "SyncProxyRules latency in seconds for full resyncs", ()),
    "sync_partial_proxy_rules_latency": (
        "histogram", "sync_partial_proxy_rules_duration_seconds",
        "SyncProxyRules latency in seconds for partial resyncs", ()),
    "network_programming_latency": ("histogram", "network_programming_duration_seconds",
                                    "In Cluster Network Programming Latency in seconds", ()),
    "sync_proxy_rules_last_timestamp": ("gauge", "sync_proxy_rules_last_timestamp_seconds",
                                        "The last time proxy rules were successfully synced", ()),
    "sync_proxy_rules_last_queued_timestamp": (
        "gauge", "sync_proxy_rules_last_queued_timestamp_seconds",
        "The last time a sync of proxy rules was queued", ()),
    "endpoint_changes_pending": ("gauge", "sync_proxy_rules_endpoint_changes_pending",
                                 "Pending proxy rules Endpoint changes", ()),
    "endpoint_changes_total": ("counter", "sync_proxy_rules_endpoint_changes",
                               "Cumulative proxy rules Endpoint changes", ()),
    "service_changes_pending": ("gauge", "sync_proxy_rules_service_changes_pending",
                                "Pending proxy rules Service changes", ()),
    "service_changes_total": ("counter", "sync_proxy_rules_service_changes",
                              "Cumulative proxy rules Service changes", ()),
    "iptables_restore_failures_total": ("counter", "sync_proxy_rules_iptables_restore_failures",
                                        "Cumulative proxy iptables restore failures", ()),
    "iptables_partial_restore_failures_total": (
        "counter", "sync_proxy_rules_iptables_partial_restore_failures",
        "Cumulative proxy iptables partial restore failures", ()),
    "iptables_rules_total": ("gauge", "sync_proxy_rules_iptables_total",
                             "Total number of iptables rules owned by kube-proxy", ("table",)),
    "iptables_rules_last_sync": ("gauge", "sync_proxy_rules_iptables_last",
                                 "Number of iptables rules written by kube-proxy in last sync",
                                 ("table",)),
    "no_local_endpoints_total": ("gauge", "sync_proxy_rules_no_local_endpoints_total",
                                 "Number of services with a Local traffic policy and no endpoints",
                                 ("traffic_policy",)),
    "proxy_healthz_total": ("counter", "proxy_healthz", "Cumulative proxy healthz HTTP status",
                            ("code",)),
    "proxy_livez_total": ("counter", "proxy_livez", "Cumulative proxy livez HTTP status",
                          ("code",)),
}


class ProxyMetrics:
    """The metrics of one proxier (attributes named as in ``METRICS``), in a registry of
    their own."""

    def __init__(self):
        self.registry = CollectorRegistry()
        for attr, (kind, name, doc, labels) in METRICS.items():
            kwargs = dict(labelnames=labels, registry=self.registry)
            if kind == "histogram":
                kwargs["buckets"] = PROGRAMMING_BUCKETS if "programming" in name else SYNC_BUCKETS
            cls = {"histogram": Histogram, "gauge": Gauge, "counter": Counter}[kind]
            setattr(self, attr, cls(f"kubeproxy_{name}", doc, **kwargs))

    def exposition(self):
        return generate_latest(self.registry)


def serve(address, metrics, mode="iptables"):
    """``/metrics`` and ``/proxyMode`` on `address` ("host:port") in a daemon thread."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                body, ctype, code = metrics.exposition(), CONTENT_TYPE_LATEST, 200
            elif path == "/proxyMode":
                body, ctype, code = mode.encode(), "text/plain; charset=utf-8", 200
            elif path in ("/healthz", "/livez"):
                body, ctype, code = b"ok", "text/plain; charset=utf-8", 200
            else:
                body, ctype, code = b"404 page not found\n", "text/plain; charset=utf-8", 404
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass
    return start_server(address, Handler)


def start_server(address, handler):
    """A ThreadingHTTPServer on "host:port" (port 0: any), serving in a daemon thread."""
    host, _, port = address.rpartition(":")
    server = ThreadingHTTPServer((host.strip("[]") or "0.0.0.0", int(port)), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True, name=f"http-{address}").start()
    return server
