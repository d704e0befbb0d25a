"""kfs.client against fakes: a canned HTTP server for the REST layer, a fake client for
the Informer (the real API server is the integration tier's)."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kfs.client import ApiError, Client, Expired, Informer
from kfs.util import wait_for

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"}}


@pytest.fixture
def server():
    """An HTTP server answering each request from `routes` and recording what it got."""
    routes, seen = {}, []

    class Handler(BaseHTTPRequestHandler):
        def handle_one(self):
            length = int(self.headers.get("Content-Length") or 0)
            seen.append((self.command, self.path, self.headers.get("Content-Type"),
                         self.rfile.read(length) if length else b""))
            code, body = routes.get((self.command, self.path.split("?")[0]), (404, {}))
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_one

        def log_message(self, *args):
            pass
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield Client(f"http://127.0.0.1:{httpd.server_port}"), routes, seen
    httpd.shutdown()


def status(code, reason):
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
            "reason": reason, "message": f"it is {reason}"}


def test_error_status_becomes_api_error_with_code_and_reason(server):
    client, routes, _ = server
    routes[("GET", "/api/v1/namespaces/default/pods/p")] = (404, status(404, "NotFound"))
    with pytest.raises(ApiError) as e:
        client.get("pods", "p", "default")
    assert (e.value.code, e.value.reason, e.value.not_found) == (404, "NotFound", True)


def test_create_posts_to_the_namespace_of_the_object(server):
    client, routes, seen = server
    routes[("POST", "/api/v1/namespaces/default/pods")] = (201, POD)
    assert client.create(POD) == POD
    assert seen[-1][0:2] == ("POST", "/api/v1/namespaces/default/pods")


def test_patch_sends_the_content_type_of_its_patch_type(server):
    client, routes, seen = server
    routes[("PATCH", "/apis/apps/v1/namespaces/ns/deployments/web/scale")] = (200, {})
    client.patch("deploy", "web", {"spec": {"replicas": 3}}, "ns", subresource="scale")
    client.patch("deploy", "web", {}, "ns", patch_type="strategic", subresource="scale")
    assert [s[2] for s in seen] == ["application/merge-patch+json",
                                    "application/strategic-merge-patch+json"]


def test_watch_yields_events_and_raises_expired_on_a_410_error_event(server):
    client, routes, _ = server
    lines = [{"type": "ADDED", "object": POD},
             {"type": "ERROR", "object": status(410, "Expired")}]
    routes[("GET", "/api/v1/pods")] = (200, "\n".join(map(json.dumps, lines)).encode())
    events = []
    with pytest.raises(Expired):
        for event in client.watch("pods"):
            events.append(event)
    assert events == [("ADDED", POD)]


def test_a_dead_server_is_an_api_error_with_code_0():
    with pytest.raises(ApiError) as e:
        Client("http://127.0.0.1:9", timeout=2).get("nodes", "n")
    assert e.value.code == 0


def obj(name, rv):
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": str(rv)}}


class FakeClient:
    """Serves lists and scripted watch streams; each watch call takes the next script."""

    def __init__(self, lists, watches):
        self.lists, self.watches, self.watch_calls = lists, watches, []

    def list(self, resource, namespace=None, **selectors):
        return self.lists.pop(0)

    def watch(self, resource, namespace=None, resource_version=None, **kw):
        self.watch_calls.append(resource_version)
        script = self.watches.pop(0) if self.watches else []
        if script == "block":
            threading.Event().wait(0.05)
            return
        for item in script:
            if isinstance(item, Exception):
                raise item
            yield item


def test_informer_lists_then_watches_from_the_lists_resource_version():
    fake = FakeClient([{"metadata": {"resourceVersion": "10"}, "items": [obj("a", 5)]}],
                      [[("MODIFIED", obj("a", 11)), ("ADDED", obj("b", 12))], "block"])
    events = []
    inf = Informer(fake, "pods").add_handler(lambda t, o, old: events.append((t, o["metadata"]["name"])))
    inf.start()
    wait_for(lambda: len(events) == 3, timeout=5, what="three events")
    inf.stop()
    assert events == [("ADDED", "a"), ("MODIFIED", "a"), ("ADDED", "b")]
    assert fake.watch_calls[:2] == ["10", "12"]  # resumed from the last event's version
    assert inf.get("ns/a")["metadata"]["resourceVersion"] == "11"


def test_informer_relists_on_expired_and_reports_what_changed_meanwhile():
    fake = FakeClient([{"metadata": {"resourceVersion": "10"}, "items": [obj("a", 5), obj("b", 6)]},
                       {"metadata": {"resourceVersion": "30"}, "items": [obj("a", 25)]}],
                      [[Expired({"code": 410})], "block"])
    events = []
    inf = Informer(fake, "pods").add_handler(lambda t, o, old: events.append((t, o["metadata"]["name"])))
    inf.start()
    wait_for(lambda: len(events) == 4, timeout=5, what="events after the relist")
    inf.stop()
    assert events[2:] == [("MODIFIED", "a"), ("DELETED", "b")]
    assert set(inf.store) == {"ns/a"}


def test_bookmarks_move_the_resource_version_without_calling_handlers():
    bookmark = {"metadata": {"resourceVersion": "99"}}
    fake = FakeClient([{"metadata": {"resourceVersion": "10"}, "items": []}],
                      [[("BOOKMARK", bookmark)], "block"])
    events = []
    inf = Informer(fake, "pods").add_handler(lambda *a: events.append(a)).start()
    wait_for(lambda: len(fake.watch_calls) >= 2, timeout=5, what="a second watch")
    inf.stop()
    assert events == [] and fake.watch_calls[1] == "99"


def test_stopping_an_informer_returns_at_once_while_its_watch_waits_for_data():
    """A watch blocks in recv until the server sends; stop must not wait for that."""
    import time
    release = threading.Event()

    class Silent(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            if "watch" not in self.path:
                body = json.dumps({"metadata": {"resourceVersion": "1"}, "items": []}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.flush()
            release.wait(30)  # a quiet watch: no event for a long time

        def log_message(self, *args):
            pass
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Silent)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    inf = Informer(Client(f"http://127.0.0.1:{httpd.server_port}"), "pods").start()
    inf.wait_synced(5)
    wait_for(lambda: inf._response is not None, timeout=5, what="the watch to be open")
    started = time.monotonic()
    inf.stop()
    assert time.monotonic() - started < 1
    release.set()
    httpd.shutdown()


KUBECONFIG = """apiVersion: v1
kind: Config
current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
clusters: [{name: k, cluster: {server: "https://10.0.0.1:6443"}}]
users: [{name: u, user: {token: secret}}]
"""


def test_a_component_without_a_kubeconfig_is_told_which_flag_to_pass(tmp_path, monkeypatch):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    with pytest.raises(FileNotFoundError, match=r"no kubeconfig at None: pass --kubeconfig "
                                                r"FILE \(the lab's is x\.kubeconfig\)"):
        Client.for_component(None, "kfs-x", hint="the lab's is x.kubeconfig")
    with pytest.raises(FileNotFoundError, match="no kubeconfig at '/nowhere'"):
        Client.for_component("/nowhere", "kfs-x")


def test_a_components_client_comes_from_its_flag_or_else_kubeconfig(tmp_path, monkeypatch):
    (tmp_path / "kc").write_text(KUBECONFIG)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kc"))
    for flag in (None, str(tmp_path / "kc")):
        c = Client.for_component(flag, "kfs-x", pool_maxsize=7)
        assert c.server == "https://10.0.0.1:6443"
        assert c.headers["User-Agent"] == "kfs-x"
        assert c.headers["Authorization"] == "Bearer secret"
        assert c.http.connection_pool_kw["maxsize"] == 7


def test_the_proxy_comes_from_the_environment_once_when_the_client_is_made(monkeypatch):
    """Go's http.ProxyFromEnvironment reads the environment once; so does the client
    (requests scanned it on every request)."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = Client("https://10.0.0.1:6443")
    assert client.http.proxy.host == "proxy.example"


def test_no_proxy_for_the_api_server_leaves_the_client_without_one(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "10.0.0.1")
    assert getattr(Client("https://10.0.0.1:6443").http, "proxy", None) is None


def test_a_followed_log_is_read_line_by_line_as_it_arrives(server):
    client, routes, _ = server
    routes[("GET", "/api/v1/namespaces/default/pods/p/log")] = (200, b"one\r\ntwo\nthree")
    assert list(client.log("p", follow=True)) == ["one", "two", "three"]
    assert client.log("p") == "one\r\ntwo\nthree"


def test_query_parameters_are_encoded(server):
    client, routes, seen = server
    routes[("GET", "/api/v1/namespaces/default/pods")] = (200, {"items": []})
    client.list("pods", "default", label_selector="app=web,tier in (a,b)")
    assert seen[-1][1] == ("/api/v1/namespaces/default/pods?labelSelector="
                           "app%3Dweb%2Ctier+in+%28a%2Cb%29")
