"""Newer clients' list path (KEP-3157), over real HTTPS and with the real kubectls: a watch
with ``sendInitialEvents=true`` starts with the objects, then a bookmark annotated
``k8s.io/initial-events-end``, then the changes; the combinations upstream refuses are 422.

What the kubectls send (seen with -v=8): ``kubectl get pods -w`` of every version lists
(``?limit=500``) and then watches from the list's resourceVersion, a plain watch.
``kubectl rollout status`` lists and watches through a reflector: 1.32 and 1.20 list
(``?fieldSelector=metadata.name%3Dd&limit=500&resourceVersion=0``) and watch with
``allowWatchBookmarks=true``; 1.37 (client-go's WatchListClient on) sends one request,
``?allowWatchBookmarks=true&fieldSelector=metadata.name%3Dd&resourceVersionMatch=NotOlderThan
&sendInitialEvents=true&timeoutSeconds=...&watch=true``, and waits for the end bookmark.
"""
import json
import socket
import threading

import pytest
import requests

from kfs.util import wait_for

WATCH_LIST = "watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan"


@pytest.fixture
def http(cp):
    def call(method, path, **kwargs):
        kwargs.setdefault("timeout", 30)
        return requests.request(method, cp.server + path, verify=str(cp.pki.ca),
                                cert=(str(cp.pki.cert("admin")), str(cp.pki.key("admin"))),
                                **kwargs)
    return call


class Stream:
    """A watch read line by line in a thread."""

    def __init__(self, http, path):
        self.events, self.resp = [], http("GET", path, stream=True, timeout=(10, 60))
        assert self.resp.status_code == 200, self.resp.text
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        try:
            for line in self.resp.iter_lines():
                if line:
                    self.events.append(json.loads(line))
        except Exception:  # closed by the test
            pass

    def names(self):
        return [(e["type"], e["object"]["metadata"].get("name")) for e in self.events]

    def close(self):
        """Hang up (a shutdown wakes the reading thread at once)."""
        conn = getattr(self.resp.raw, "_connection", None) or getattr(self.resp.raw,
                                                                      "connection", None)
        sock = getattr(conn, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.resp.close()


def pod(name):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "kfs/busybox:1"}]}}


def is_end(event):
    annotations = event["object"]["metadata"].get("annotations") or {}
    return event["type"] == "BOOKMARK" and annotations.get("k8s.io/initial-events-end") == "true"


def test_a_watch_list_sends_the_objects_then_the_end_bookmark_then_the_changes(http, ns):
    for name in ("a", "b"):
        created = http("POST", f"/api/v1/namespaces/{ns}/pods", json=pod(name)).json()
    s = Stream(http, f"/api/v1/namespaces/{ns}/pods?{WATCH_LIST}&allowWatchBookmarks=true")
    try:
        wait_for(lambda: any(is_end(e) for e in s.events), 10, what="the end bookmark")
        assert s.names()[:3] == [("ADDED", "a"), ("ADDED", "b"), ("BOOKMARK", None)]
        end = s.events[2]["object"]
        assert (end["kind"], end["apiVersion"]) == ("Pod", "v1")
        assert int(end["metadata"]["resourceVersion"]) >= int(
            created["metadata"]["resourceVersion"])
        http("POST", f"/api/v1/namespaces/{ns}/pods", json=pod("c"))
        wait_for(lambda: ("ADDED", "c") in s.names(), 10, what="the change after the list")
    finally:
        s.close()


def test_a_watch_list_of_nothing_still_ends_with_the_bookmark(http, ns):
    s = Stream(http, f"/api/v1/namespaces/{ns}/pods?{WATCH_LIST}&allowWatchBookmarks=true"
                     "&resourceVersion=0")
    try:
        wait_for(lambda: s.events, 10, what="the end bookmark")
        assert is_end(s.events[0])
    finally:
        s.close()


def test_send_initial_events_false_watches_from_now_without_the_objects(http, ns):
    http("POST", f"/api/v1/namespaces/{ns}/pods", json=pod("before"))
    s = Stream(http, f"/api/v1/namespaces/{ns}/pods?watch=true&sendInitialEvents=false"
                     "&resourceVersionMatch=NotOlderThan")
    try:
        http("POST", f"/api/v1/namespaces/{ns}/pods", json=pod("after"))
        wait_for(lambda: s.events, 10, what="the new pod")
        assert s.names() == [("ADDED", "after")]
    finally:
        s.close()


@pytest.mark.parametrize("query, field, message", [
    ("watch=true&sendInitialEvents=true", "resourceVersionMatch",
     "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"),
    ("watch=true&resourceVersionMatch=NotOlderThan", "resourceVersionMatch",
     "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"),
    ("sendInitialEvents=true", "sendInitialEvents", "sendInitialEvents is forbidden for list"),
    ("resourceVersionMatch=Exact", "resourceVersionMatch",
     "resourceVersionMatch is forbidden unless resourceVersion is provided"),
])
def test_list_options_upstream_refuses_are_a_422_invalid(http, ns, query, field, message):
    r = http("GET", f"/api/v1/namespaces/{ns}/pods?{query}", timeout=10)
    status = r.json()
    assert (r.status_code, status["reason"]) == (422, "Invalid")
    assert status["details"]["kind"] == "ListOptions"
    assert status["details"]["causes"][0]["field"] == field
    assert message in status["message"]


def test_a_watch_list_from_a_future_resource_version_tells_the_client_to_relist(http, ns):
    rv = int(http("GET", f"/api/v1/namespaces/{ns}/pods").json()["metadata"]["resourceVersion"])
    lines = http("GET", f"/api/v1/namespaces/{ns}/pods?{WATCH_LIST}&resourceVersion={rv + 10**6}",
                 timeout=20).text.splitlines()
    assert [json.loads(line)["type"] for line in lines] == ["ERROR"]
    assert json.loads(lines[0])["object"]["code"] == 410


# -- the kubectls -------------------------------------------------------------------------------

def complete(apps, ns, name):
    """Write what the deployment controller would once the rollout is done."""
    d = apps.read_namespaced_deployment(name, ns)
    apps.patch_namespaced_deployment_status(name, ns, {"status": {
        "observedGeneration": d.metadata.generation, "replicas": 1, "updatedReplicas": 1,
        "readyReplicas": 1, "availableReplicas": 1}})


def test_rollout_status_returns_once_the_rollout_is_complete(any_kubectl, ns, apps):
    any_kubectl("create", "deployment", "d", "-n", ns, "--image=kfs/echo:1")
    proc = any_kubectl.popen("rollout", "status", "deployment/d", "-n", ns, "--timeout=60s")
    try:
        threading.Timer(1.0, complete, (apps, ns, "d")).start()
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, out
    assert 'deployment "d" successfully rolled out' in out


def test_get_pods_watch_prints_changes_with_every_kubectl(any_kubectl, ns, core):
    core.create_namespaced_pod(ns, pod("watched"))
    proc = any_kubectl.popen("get", "pods", "-n", ns, "-w")
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")),
                              daemon=True)
    reader.start()
    try:
        wait_for(lambda: any(line.startswith("watched") for line in lines), 20,
                 what="the first row")
        core.create_namespaced_pod(ns, pod("second"))
        wait_for(lambda: any(line.startswith("second") for line in lines), 20,
                 what="the new pod's row")
    finally:
        proc.kill()
        proc.wait()
