"""Pod sources: the manifest directory, the manifest URL, and their merge."""
import http.server
import logging
import threading

import pytest

from kfs.kubelet import sources
from kfs.kubelet.events import ListRecorder

POD = """apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  containers:
  - {{name: app, image: {image}}}
"""


def pod_yaml(name, image="kfs/busybox:1"):
    return POD.format(name=name, image=image)


@pytest.fixture
def config():
    return sources.PodConfig([sources.FILE, sources.HTTP], recorder=ListRecorder())


def names(config):
    return sorted(p["metadata"]["name"] for p in config.pods().values())


def test_files_added_changed_and_removed_change_the_desired_set(tmp_path, config):
    src = sources.FileSource(config, "node1", tmp_path)
    (tmp_path / "a.yaml").write_text(pod_yaml("a"))
    src.poll()
    assert names(config) == ["a-node1"]
    (uid,) = config.pods()
    (tmp_path / "a.yaml").write_text(pod_yaml("a", "kfs/echo:1"))
    src.poll()
    (new_uid,) = config.pods()
    assert new_uid != uid, "a changed manifest is a new pod"
    (tmp_path / "a.yaml").unlink()
    src.poll()
    assert names(config) == []


def test_hidden_files_and_directories_are_ignored(tmp_path, config):
    (tmp_path / ".a.yaml.swp").write_text(pod_yaml("a"))
    (tmp_path / "sub").mkdir()
    sources.FileSource(config, "node1", tmp_path).poll()
    assert names(config) == []


def test_a_bad_file_is_logged_and_the_other_pods_stay(tmp_path, config, caplog):
    src = sources.FileSource(config, "node1", tmp_path)
    (tmp_path / "good.yaml").write_text(pod_yaml("good"))
    (tmp_path / "bad.yaml").write_text(pod_yaml("bad").replace("image:", "imagee:"))
    with caplog.at_level(logging.ERROR):
        src.poll()
    assert names(config) == ["good-node1"]
    assert 'bad.yaml: pod \'bad\': unknown field "spec.containers[0].imagee"' in caplog.text


def test_a_file_that_turns_bad_keeps_its_last_good_pod_and_warns_on_it(tmp_path, config):
    src = sources.FileSource(config, "node1", tmp_path)
    (tmp_path / "a.yaml").write_text(pod_yaml("a"))
    src.poll()
    (tmp_path / "a.yaml").write_text("spec: [")
    src.poll()
    assert names(config) == ["a-node1"]
    assert config.recorder.events[0][:3] == ("a-node1", "Warning", "FailedToParseManifest")


def test_a_bad_file_is_reported_once_until_it_changes(tmp_path, config, caplog):
    src = sources.FileSource(config, "node1", tmp_path)
    (tmp_path / "bad.yaml").write_text("x: [")
    with caplog.at_level(logging.ERROR):
        src.poll(), src.poll(), src.poll()
    assert caplog.text.count("could not process manifest file") == 1


def test_a_missing_directory_is_an_empty_source(tmp_path, config):
    sources.FileSource(config, "node1", tmp_path / "nope").poll()
    assert sources.FILE in config.snapshots and names(config) == []


def test_the_same_pod_name_from_two_sources_runs_once_from_the_first(tmp_path, config):
    from kfs.kubelet import manifest
    (pod,) = manifest.decode_pods(pod_yaml("a"))
    config.set(sources.FILE, [manifest.static_pod(pod, "node1", "file", "x")])
    config.set(sources.HTTP, [manifest.static_pod(pod, "node1", "http", "y")])
    (only,) = config.pods().values()
    assert only["metadata"]["annotations"][manifest.CONFIG_SOURCE] == "file"


def test_sources_are_ready_once_each_delivered(config):
    assert not config.seen_all_sources()
    config.set(sources.FILE, [])
    assert not config.seen_all_sources()
    config.set(sources.HTTP, [])
    assert config.seen_all_sources()


def test_wait_returns_when_the_set_changed(config):
    v = config.version
    threading.Timer(0.05, config.set, (sources.FILE, [])).start()
    assert config.wait(v, timeout=5) != v


@pytest.fixture
def served():
    """A manifest server on loopback: set served.body, .status."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(state["status"])
            self.end_headers()
            self.wfile.write(state["body"].encode())

        def log_message(self, *a):
            pass
    state = {"status": 200, "body": ""}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{server.server_port}/pods"
    yield state
    server.shutdown()


def test_the_url_source_runs_what_the_url_serves_and_keeps_it_when_the_url_fails(served, config):
    src = sources.URLSource(config, "node1", served["url"])
    src.poll()
    assert sources.HTTP not in config.snapshots, "no pods seen before a first good answer"
    served["body"] = pod_yaml("fromurl")
    src.poll()
    assert names(config) == ["fromurl-node1"]
    served["status"] = 500
    src.poll()
    assert names(config) == ["fromurl-node1"]
    served["status"], served["body"] = 200, '{"apiVersion": "v1", "kind": "PodList", "items": []}'
    src.poll()
    assert names(config) == []
