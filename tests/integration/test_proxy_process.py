"""`kfs proxy` as its own process in a throwaway network namespace, on a real API server.

The namespace cannot reach the API server on the host's 127.0.0.1, so two small relays
carry the TLS stream over a Unix socket (which no network namespace confines): one in the
namespace listening on its own 127.0.0.1:<API server port>, one on the host connecting to
the real one. The proxy's kubeconfig and the server certificate stay as they are.
"""
import os
import signal
import subprocess
import sys

import pytest

from kfs import pki
from kfs.client import Client
from kfs.util import wait_for
from tests.integration.proxy_netns import PODS, connect, netns, prefix, servers, sh  # noqa: F401
from tests.unit.proxy_objects import endpoint_slice

pytestmark = pytest.mark.root

RELAY = """
import os, socket, sys, threading
listen, target = sys.argv[1:3]
def sock(addr):
    if addr.startswith("/"):
        return socket.socket(socket.AF_UNIX), addr
    host, port = addr.rsplit(":", 1)
    return socket.socket(), (host, int(port))
def pipe(a, b):
    try:
        while data := a.recv(65536):
            b.sendall(data)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
srv, addr = sock(listen)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if isinstance(addr, str) and os.path.exists(addr):
    os.unlink(addr)
srv.bind(addr); srv.listen(64); print("ready", flush=True)
while True:
    c, _ = srv.accept()
    u, a = sock(target); u.connect(a)
    threading.Thread(target=pipe, args=(c, u), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c), daemon=True).start()
"""


def start(argv, **kwargs):
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True,
                            **kwargs)
    assert proc.stdout.readline().strip() == "ready"
    return proc


class ProxyProcess:
    def __init__(self, ns, kubeconfig, log):
        self.ns, self.kubeconfig, self.log, self.proc = ns, kubeconfig, log, None

    def start(self):
        offset = self.log.stat().st_size if self.log.exists() else 0
        self.proc = subprocess.Popen(
            [*prefix(self.ns), sys.executable, "-m", "kfs.cli", "proxy", "--kubeconfig",
             str(self.kubeconfig), "--hostname-override", "node1", "--cluster-cidr",
             "10.244.0.0/16", "--min-sync-period", "0s"],
            stdout=open(self.log, "a"), stderr=subprocess.STDOUT)
        wait_for(lambda: "proxy started:" in self.log.read_text()[offset:]
                 or self.proc.poll() is not None, 60, what="kfs proxy's ready line")
        assert self.proc.poll() is None, self.log.read_text()

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(15)


def curl(ns, url):
    out = sh(*prefix(ns), "curl", "-s", "-w", "\n%{http_code}", url, check=False).stdout
    body, _, code = out.rpartition("\n")
    return int(code or 0), body


def test_kfs_proxy_serves_services_survives_sigkill_and_resyncs_without_a_drop(
        netns, servers, cp, tmp_path):
    sock = tmp_path / "api.sock"
    relays = [start([sys.executable, "-c", RELAY, str(sock), f"127.0.0.1:{cp.port}"])]
    relays.append(start([*prefix(netns), sys.executable, "-c", RELAY, f"127.0.0.1:{cp.port}",
                         str(sock)]))
    kubeconfig = tmp_path / "kube-proxy.kubeconfig"
    pki.write_kubeconfig(kubeconfig, cp.server, cp.pki.ca, "kube-proxy",
                         cp.pki.cert("kube-proxy"), cp.pki.key("kube-proxy"), embed=False)
    admin = Client.from_kubeconfig(str(cp.kubeconfig()))
    ns = f"proxyproc-{os.getpid()}"
    admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    svc = admin.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                        "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}},
                       namespace=ns)
    slice_ = endpoint_slice("web", list(PODS), [("http", 8080, "TCP")], namespace=ns)
    admin.create(slice_, namespace=ns)
    ip = svc["spec"]["clusterIP"]
    sh("ip", "-n", netns, "route", "replace", f"{ip}/32", "dev", "kfsdummy", "src", PODS[0])
    proxy, client = ProxyProcess(netns, kubeconfig, tmp_path / "proxy.log"), None
    try:
        proxy.start()
        assert set(connect(netns, ip, 80, 30)) == {f"{a}:8080" for a in PODS}
        code, body = curl(netns, "http://127.0.0.1:10256/healthz")
        assert code == 200 and '"nodeEligible": true' in body
        code, body = curl(netns, "http://127.0.0.1:10249/metrics")
        assert code == 200 and "kubeproxy_sync_proxy_rules_duration_seconds_count" in body

        proxy.kill()                                   # SIGKILL: the rules stay
        assert set(connect(netns, ip, 80, 10)) <= {f"{a}:8080" for a in PODS}
        done = tmp_path / "restarted"
        client = subprocess.Popen(   # requests from before the restart until after it
            [*prefix(netns), sys.executable, "-c", CLIENT_LOOP, ip, "80", str(done)],
            stdout=subprocess.PIPE, text=True)
        first = wait_for(lambda: client.stdout.readline(), 10, what="the first answer")
        proxy.start()                                  # a restart resyncs everything
        done.touch()
        answers = [first.strip()] + client.communicate(timeout=120)[0].split()
        failed = [a for a in answers if not a.endswith(":8080")]
        assert len(answers) > 50 and failed == [], \
            f"{len(failed)} of {len(answers)} failed during the restart: {failed[:3]}"

        proxy.kill(signal.SIGTERM)
        assert sh(*prefix(netns), sys.executable, "-m", "kfs.cli", "proxy", "--cleanup",
                  "-v", "0", check=False).returncode == 0
        assert "KUBE-SERVICES" not in sh(*prefix(netns), "iptables-save").stdout
    finally:
        proxy.kill()
        for r in relays + ([client] if client else []):
            r.kill()
            r.wait()


CLIENT_LOOP = """
import os, socket, sys
host, port, done = sys.argv[1], int(sys.argv[2]), sys.argv[3]
after = 0
while after < 50:   # until 50 requests after the restart; the test kills it on failure
    after += os.path.exists(done)
    try:
        with socket.create_connection((host, port), timeout=3) as s:
            print(s.recv(100).decode().strip(), flush=True)
    except OSError as e:
        print(type(e).__name__, flush=True)
"""
