"""Probes: exec, httpGet and tcpSocket once, and a worker's thresholds over time."""
import http.server
import socket
import threading
import time

import pytest

from kfs.kubelet import manifest
from kfs.kubelet.events import ListRecorder
from kfs.kubelet.fake_runtime import FakeRuntime
from kfs.kubelet.probes import ProbeManager, ProbeWorker, run_probe
from kfs.kubelet.runtime import Container


@pytest.fixture
def http_server():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            code = 200 if self.path == "/ok" else 500
            self.send_response(code)
            self.end_headers()
            state["agent"] = self.headers["User-Agent"]

        def log_message(self, *a):
            pass
    state = {}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["port"] = server.server_port
    yield state
    server.shutdown()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_an_http_probe_succeeds_on_2xx_and_fails_on_500(http_server):
    ok = {"httpGet": {"path": "/ok", "port": http_server["port"]}}
    bad = {"httpGet": {"path": "/bad", "port": http_server["port"]}}
    assert run_probe(ok, "127.0.0.1", None, {}, None)[0]
    assert http_server["agent"] == "kube-probe/1.32"
    assert run_probe(bad, "127.0.0.1", None, {}, None) == (
        False, "HTTP probe failed with statuscode: 500")


def test_an_http_probe_on_a_closed_port_fails_with_the_reason():
    ok, message = run_probe({"httpGet": {"path": "/", "port": free_port()}}, "127.0.0.1",
                            None, {}, None)
    assert not ok and "Get \"http://127.0.0.1:" in message


def test_a_named_port_is_looked_up_in_the_container_ports(http_server):
    spec = {"ports": [{"name": "web", "containerPort": http_server["port"]}]}
    assert run_probe({"httpGet": {"path": "/ok", "port": "web"}}, "127.0.0.1", None, spec,
                     None)[0]


def test_a_tcp_probe_succeeds_when_something_listens():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    try:
        assert run_probe({"tcpSocket": {"port": listener.getsockname()[1]}}, "127.0.0.1",
                         None, {}, None)[0]
    finally:
        listener.close()
    ok, message = run_probe({"tcpSocket": {"port": free_port()}}, "127.0.0.1", None, {}, None)
    assert not ok and "connection refused" in message.lower()


def test_an_exec_probe_succeeds_on_exit_code_zero():
    rt = FakeRuntime()
    c = rt._new("k8s_app_p_ns_u_0", {"io.kubernetes.container.name": "app"}, "kfs/busybox:1")
    rt.exec_results[("app", ("cat", "/tmp/healthy"))] = (1, "cat: can't open '/tmp/healthy'")
    assert run_probe({"exec": {"command": ["true"]}}, "", c.id, {}, rt) == (True, "")
    assert run_probe({"exec": {"command": ["cat", "/tmp/healthy"]}}, "", c.id, {}, rt) == (
        False, "cat: can't open '/tmp/healthy'")


class Manager:
    def __init__(self):
        self.runtime, self.recorder, self.changes = None, ListRecorder(), []

    def on_change(self, uid):
        self.changes.append(uid)

    def started(self, uid, spec, cid):
        return True


def worker_for(probe, kind="readiness"):
    pod = manifest.set_defaults({"metadata": {"name": "p", "uid": "u"}, "spec": {"containers": [
        {"name": "app", "image": "i:1", f"{kind}Probe": probe}]}})
    m = Manager()
    return ProbeWorker(m, pod, pod["spec"]["containers"][0], kind, start=False), m


def running(cid="c1", started=None):
    return Container(id=cid, name="x_0", labels={}, state="running",
                     started_at=time.time() if started is None else started)


def test_readiness_flips_after_failure_threshold_failures_and_success_threshold_successes():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    w, m = worker_for({"tcpSocket": {"port": port}, "failureThreshold": 2,
                       "successThreshold": 2})
    w.set_target(running(), "127.0.0.1")
    assert w.result is False, "not ready until probed"
    listener.listen()
    w.step()
    assert w.result is False
    w.step()
    assert w.result is True and m.changes == ["u"]
    listener.close()
    w.step()
    assert w.result is True
    w.step()
    assert w.result is False and m.changes == ["u", "u"]
    assert m.recorder.reasons() == ["Unhealthy", "Unhealthy"]
    assert m.recorder.events[0][3].startswith("Readiness probe failed: dial tcp")


def test_nothing_is_probed_before_the_initial_delay():
    w, m = worker_for({"exec": {"command": ["false"]}, "initialDelaySeconds": 30})
    w.set_target(running(), "10.0.0.1")
    assert 29 < w.step() <= 30
    assert m.recorder.events == []


def test_a_failed_liveness_probe_holds_until_the_container_is_replaced():
    rt = FakeRuntime()
    w, m = worker_for({"exec": {"command": ["check"]}, "failureThreshold": 1}, "liveness")
    m.runtime = rt
    c = rt._new("k8s_app_p_ns_u_0", {"io.kubernetes.container.name": "app"}, "i:1")
    rt.exec_results[("app", ("check",))] = (1, "unhealthy")
    w.set_target(running(c.id), "")
    assert w.result is True, "alive until proven otherwise"
    w.step()
    assert w.result is False and w.on_hold
    w.step()
    assert m.recorder.reasons() == ["Unhealthy"], "no probing while on hold"
    new = rt._new("k8s_app_p_ns_u_1", {"io.kubernetes.container.name": "app"}, "i:1")
    w.set_target(running(new.id), "")
    assert w.result_for(new.id) is True
    w.step()
    assert w.result is False, "the new container is probed (and fails) again"


def test_the_manager_reports_liveness_failure_only_for_the_probed_container():
    pm = ProbeManager(FakeRuntime(), ListRecorder())
    w, _ = worker_for({"exec": {"command": ["x"]}}, "liveness")
    w.container_id, w.result = "c1", False
    pm.workers[("u", "app", "liveness")] = w
    assert "failed liveness probe" in pm.failure("u", "app", "c1")
    assert pm.failure("u", "app", "c2") is None
