"""Health: is this kube-proxy keeping up (/healthz), and may a load balancer send traffic here?

Mirrors ``pkg/proxy/healthcheck/proxy_health.go`` (``ProxyHealthServer``) and
``pkg/proxy/healthcheck/service_health.go`` (``ServiceHealthServer``), shrunk.

- ``ProxyHealthServer`` (``--healthz-bind-address``, default ``0.0.0.0:10256``): every
  queued sync is noted (``queued_update``) and every finished one (``updated``); the proxy
  is healthy unless a sync has been waiting longer than ``2 × --sync-period``. ``/healthz``
  also says 503 when the Node is being deleted (``nodeEligible: false``); ``/livez`` does not.
- ``ServiceHealthServer``: for each Service with ``externalTrafficPolicy: Local`` and a
  ``healthCheckNodePort``, an HTTP server on that port answering
  ``{"service": {"namespace", "name"}, "localEndpoints": n, "serviceProxyHealthy": b}``
  with 200 when this node has a ready local endpoint and the proxy is healthy, else 503. A
  cloud load balancer probes it and sends traffic only to nodes that answer 200.

What real Kubernetes does differently: the servers listen only on ``--nodeport-addresses``;
failures to bind are reported as Events on the Service.
"""
import json
import logging
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler

from kfs.proxy.metrics import start_server

log = logging.getLogger("kfs.proxy.healthcheck")

TO_BE_DELETED_TAINT = "ToBeDeletedByClusterAutoscaler"


def _stamp(t):
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="milliseconds")


def _reply(handler, code, body, headers=()):
    data = body.encode()
    handler.send_response(code)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("X-Content-Type-Options", "nosniff")
    for k, v in headers:
        handler.send_header(k, v)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class ProxyHealthServer:
    def __init__(self, health_timeout, metrics=None, clock=time.time):
        self.health_timeout, self.metrics, self.clock = health_timeout, metrics, clock
        self.last_updated = 0.0
        self.oldest_pending_queued = None
        self.node_eligible = True
        self.lock = threading.Lock()
        self.server = None

    def queued_update(self):
        with self.lock:
            if self.oldest_pending_queued is None:
                self.oldest_pending_queued = self.clock()

    def updated(self):
        with self.lock:
            self.last_updated, self.oldest_pending_queued = self.clock(), None

    def sync_node(self, node):
        """A Node being deleted (or tainted for deletion) is not eligible for traffic."""
        taints = ((node or {}).get("spec") or {}).get("taints") or []
        with self.lock:
            self.node_eligible = node is None or not (
                node["metadata"].get("deletionTimestamp")
                or any(t.get("key") == TO_BE_DELETED_TAINT for t in taints))

    def health(self):
        """(healthy, last updated, now)."""
        now = self.clock()
        with self.lock:
            pending = self.oldest_pending_queued
            healthy = pending is None or now - pending < self.health_timeout
            return healthy, self.last_updated, now

    def is_healthy(self):
        return self.health()[0]

    def serve(self, address):
        hs = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                path = self.path.split("?", 1)[0]
                if path not in ("/healthz", "/livez"):
                    return _reply(self, 404, '{"error": "not found"}')
                healthy, last, now = hs.health()
                eligible = hs.node_eligible
                if path == "/healthz":
                    healthy = healthy and eligible
                code = 200 if healthy else 503
                if healthy:
                    last = now  # as upstream: "recent" whenever healthy
                counter = getattr(hs.metrics, "proxy_healthz_total" if path == "/healthz"
                                  else "proxy_livez_total", None)
                if counter is not None:
                    counter.labels(str(code)).inc()
                body = {"lastUpdated": _stamp(last), "currentTime": _stamp(now)}
                if path == "/healthz":
                    body["nodeEligible"] = eligible
                _reply(self, code, json.dumps(body))

            def log_message(self, *args):
                pass
        self.server = start_server(address, Handler)
        return self.server


class ServiceHealthServer:
    """One HTTP server per healthCheckNodePort, answering for that Service."""

    def __init__(self, proxy_health, address="0.0.0.0"):
        self.proxy_health, self.address = proxy_health, address
        self.services = {}   # (ns, name) -> {"port": p, "endpoints": n, "server": srv}
        self.lock = threading.Lock()

    def sync_services(self, ports):
        """`ports`: {(ns, name): healthCheckNodePort}. Opens and closes servers to match."""
        with self.lock:
            for key in list(self.services):
                if ports.get(key) != self.services[key]["port"]:
                    self._close(key)
            for key, port in ports.items():
                if key not in self.services:
                    self._open(key, port)

    def sync_endpoints(self, counts):
        """`counts`: {(ns, name): local ready endpoints}; Services not named have 0."""
        with self.lock:
            for key, svc in self.services.items():
                svc["endpoints"] = counts.get(key, 0)

    def local_endpoints(self, key):
        with self.lock:
            return self.services.get(key, {}).get("endpoints", 0)

    def _open(self, key, port):
        entry = {"port": port, "endpoints": 0, "server": None}
        self.services[key] = entry
        try:
            entry["server"] = start_server(f"{self.address}:{port}", self._handler(key))
            log.info("health check for %s/%s on port %d", key[0], key[1], port)
        except OSError as e:
            log.error("could not open health check port %d for %s/%s: %s", port, *key, e)

    def _close(self, key):
        server = self.services.pop(key)["server"]
        if server is not None:
            server.shutdown()
            server.server_close()

    def close(self):
        with self.lock:
            for key in list(self.services):
                self._close(key)

    def _handler(self, key):
        hcs = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                count = hcs.local_endpoints(key)
                healthy = hcs.proxy_health.is_healthy()
                body = json.dumps({"service": {"namespace": key[0], "name": key[1]},
                                   "localEndpoints": count, "serviceProxyHealthy": healthy},
                                  indent=1)
                _reply(self, 200 if count and healthy else 503, body,
                       [("X-Load-Balancing-Endpoint-Weight", str(count))])

            def log_message(self, *args):
                pass
        return Handler
