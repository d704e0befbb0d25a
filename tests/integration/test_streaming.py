"""pods/exec, pods/attach and pods/portforward through the real API server to a kubelet's streaming server on
loopback (its runtime the fake one: there is no Docker in this tier), judged by the real
kubectls and the official Python client: both streams and the exit code, stdin's end (v5
CLOSE), v4, RBAC on both the WebSocket and the SPDY path, a missing container, a dead
kubelet; port-forward to a web server standing in for the pod's port."""
import http.server
import re
import subprocess
import threading
import time

import pytest

from kfs import versions
from kfs.client import Client
from kfs.kubelet.events import ListRecorder
from kfs.kubelet.fake_runtime import FakeRuntime
from kfs.kubelet.kubelet import Kubelet
from kfs.kubelet.server import KubeletServer
from kfs.util import wait_for
from tests.unit.test_kubelet_sync import make_pod

SCRIPT = ("sh", "-c", "echo out; echo err >&2; exit 3")


@pytest.fixture(scope="module")
def node1(cp, tmp_path_factory):
    """A kubelet server for node1 on 127.0.0.1 running pod default/web-node1, and the Node
    object that tells the API server where it listens."""
    kl = Kubelet(FakeRuntime(), "node1", "127.0.0.1", tmp_path_factory.mktemp("kubelet"),
                 recorder=ListRecorder())
    pod = make_pod()
    kl.desired = {pod["metadata"]["uid"]: pod}
    kl.sync(pod)
    (sandbox,) = [c for c in kl.runtime.containers.values() if c.is_sandbox]
    sandbox.ip = "127.0.0.1"  # the "pod" listens on loopback: port-forward reaches web_server
    kl.sync(pod)
    kl.runtime.exec_results[("app", SCRIPT)] = (3, "out\n", "err\n")
    p = cp.pki
    server = KubeletServer(kl, "127.0.0.1", 0, p.cert("kubelet-node1-serving"),
                           p.key("kubelet-node1-serving"), p.ca).start()
    admin = Client.from_kubeconfig(cp.kubeconfig())
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node1"}}
    admin.create(node)
    admin.patch("nodes", "node1", {"status": {
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": server.port}}}}, subresource="status")
    spec = {"nodeName": "node1", "containers": [{"name": "app", "image": "kfs/busybox:1"}]}
    admin.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-node1"},
                  "spec": spec}, namespace="default")
    admin.patch("pods", "web-node1", {"status": {"phase": "Running"}}, namespace="default",
                subresource="status")  # kubectl port-forward asks for a running pod
    yield server
    server.stop()
    kl.stop()
    admin.delete("pods", "web-node1", namespace="default", grace_period_seconds=0)
    admin.delete("nodes", "node1")  # the scheduler's tests count the nodes


def test_kubectl_exec_prints_both_streams_and_exits_with_the_commands_code(node1, any_kubectl):
    """... with the kubectls that speak WebSockets; Debian's 1.20 speaks SPDY only, and is
    told so with a 400 (not a hang, not a protocol error)."""
    r = any_kubectl.run("exec", "web-node1", "--", *SCRIPT, check=False, timeout=30)
    if any_kubectl.version == versions.KUBECTL_OLDEST:
        assert r.returncode == 1 and "SPDY upgrades are not served" in r.stderr, r.stderr
    else:
        assert (r.returncode, r.stdout, "err\n" in r.stderr) == (3, "out\n", True), r.stderr


def test_stdin_piped_into_kubectl_exec_ends_with_the_v5_close(node1, kubectl):
    r = kubectl.run("exec", "-i", "web-node1", "--", "cat", input="hi\n", timeout=30)
    assert r.stdout == "hi\n"


def test_the_python_client_streams_exec_over_v5_and_v4(node1, core):
    from kubernetes.stream import stream
    out = stream(core.connect_get_namespaced_pod_exec, "web-node1", "default",
                 command=list(SCRIPT), stderr=True, stdin=False, stdout=True, tty=False)
    assert out == "out\nerr\n"
    ws = stream(core.connect_get_namespaced_pod_exec, "web-node1", "default", command=["cat"],
                stderr=True, stdin=True, stdout=True, tty=False, _preload_content=False,
                _headers={"sec-websocket-protocol": "v4.channel.k8s.io"})
    try:
        assert ws.subprotocol == "v4.channel.k8s.io"
        ws.write_stdin("abc\n")
        deadline, got = time.monotonic() + 10, ""
        while "abc" not in got and time.monotonic() < deadline:
            got += ws.read_stdout(timeout=1)
        assert got == "abc\n"
    finally:
        ws.close()


def test_a_missing_container_is_400_naming_it(node1, kubectl):
    r = kubectl.run("exec", "web-node1", "-c", "nosuch", "--", "true", check=False)
    assert r.returncode != 0 and "container nosuch is not valid for pod web-node1" in r.stderr


@pytest.fixture
def pod_reader(cp):
    """alice may read pods in default (kubectl exec first GETs the pod), nothing more."""
    admin = Client.from_kubeconfig(cp.kubeconfig())
    rbac = "rbac.authorization.k8s.io/v1"
    role = {"apiVersion": rbac, "kind": "Role", "metadata": {"name": "pod-reader"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}
    binding = {"apiVersion": rbac, "kind": "RoleBinding", "metadata": {"name": "pod-reader"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                           "name": "pod-reader"},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                             "name": "alice"}]}
    for obj in (role, binding):
        admin.create(obj, namespace="default")
    yield
    admin.delete("rolebindings", "pod-reader", namespace="default")
    admin.delete("roles", "pod-reader", namespace="default")


def test_a_user_without_pods_exec_is_forbidden_on_both_paths(node1, kubectl, kubectl_of,
                                                             pod_reader):
    """kubectl 1.32's WebSocket GET (needing ``get``) is refused, so it falls back to the SPDY
    POST (needing ``create``), refused too: the user reads "forbidden", not a protocol error."""
    for k in (kubectl.as_user("alice"), kubectl_of("1.20").as_user("alice")):
        def forbidden():
            r = k.run("exec", "web-node1", "--", "true", check=False)
            return r.returncode != 0 and "(Forbidden)" in r.stderr and (
                'cannot create resource "pods/exec"' in r.stderr)
        assert wait_for(forbidden, 10, what=f"kubectl {k.version or '1.32'} forbidden")


def test_the_websocket_get_itself_needs_get_on_pods_exec(node1, cp, pod_reader):
    import requests
    url = f"{cp.server}/api/v1/namespaces/default/pods/web-node1/exec"
    headers = {"Authorization": f"Bearer {cp.ALICE_TOKEN}", "Connection": "Upgrade",
               "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
               "Sec-WebSocket-Protocol": "v5.channel.k8s.io"}
    r = requests.get(url, params={"command": "true", "stdout": "true"}, headers=headers,
                     verify=str(cp.pki.ca), timeout=10)
    assert r.status_code == 403 and 'cannot get resource "pods/exec"' in r.json()["message"]


def test_a_dead_kubelet_is_a_clean_error_not_a_hang(node1, kubectl, cp):
    admin = Client.from_kubeconfig(cp.kubeconfig())
    port = node1.port
    admin.patch("nodes", "node1", {"status": {"daemonEndpoints": {"kubeletEndpoint": {
        "Port": 1}}}}, subresource="status")
    try:
        r = kubectl.run("exec", "web-node1", "--", "true", check=False, timeout=30)
        assert r.returncode != 0 and "error dialing backend" in r.stderr
    except subprocess.TimeoutExpired:
        pytest.fail("kubectl exec hung on a dead kubelet")
    finally:
        admin.patch("nodes", "node1", {"status": {"daemonEndpoints": {"kubeletEndpoint": {
            "Port": port}}}}, subresource="status")


@pytest.fixture(scope="module")
def web_server():
    """An HTTP server on 127.0.0.1 (the pod's IP here): its port is the pod's port."""
    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = f"hello from {self.path}\n".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def forwarding(k, *target):
    """`kubectl port-forward` running, and the local port it chose."""
    proc = k.popen("port-forward", "web-node1", *target)
    line = proc.stdout.readline()
    found = re.search(r"Forwarding from 127\.0\.0\.1:(\d+)", line)
    if not found:
        proc.kill()
        raise AssertionError(f"kubectl port-forward: {line}{proc.stdout.read()}")
    return proc, int(found.group(1))


@pytest.mark.parametrize("version", [None, versions.KUBECTL_NEWEST], ids=["1.32", "newest"])
def test_kubectl_port_forward_carries_100_sequential_requests(node1, web_server, kubectl_of,
                                                              version):
    import requests
    proc, local = forwarding(kubectl_of(version), f":{web_server}")
    try:
        for i in range(100):
            r = requests.get(f"http://127.0.0.1:{local}/{i}", timeout=10)
            assert r.text == f"hello from /{i}\n"
    finally:
        proc.kill()
        proc.wait()


def test_port_forward_to_a_port_nobody_listens_on_reports_the_error(node1, kubectl):
    import requests
    proc, local = forwarding(kubectl, ":1")
    try:
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{local}/", timeout=10)
        proc.kill()
        out = proc.stdout.read()
        assert "error forwarding port 1 to pod web-node1" in out
    finally:
        proc.kill()
        proc.wait()


def test_the_python_clients_portforward_reaches_the_pods_port(node1, web_server, core):
    from kubernetes.stream import portforward
    pf = portforward(core.connect_get_namespaced_pod_portforward, "web-node1", "default",
                     ports=str(web_server))
    sock = pf.socket(web_server)
    try:
        sock.sendall(b"GET /py HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
        assert data.endswith(b"hello from /py\n") and pf.error(web_server) is None
    finally:
        sock.close()
