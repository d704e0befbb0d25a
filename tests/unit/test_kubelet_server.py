"""The kubelet's HTTPS API on loopback: /healthz, /pods, /containerLogs, client certificates."""
import pytest
import requests

from kfs import pki
from kfs.kubelet.events import ListRecorder
from kfs.kubelet.fake_runtime import FakeRuntime
from kfs.kubelet.kubelet import Kubelet
from kfs.kubelet.server import KubeletServer
from tests.unit.test_kubelet_sync import make_pod

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return pki.ensure_pki(tmp_path_factory.mktemp("pki"), ["127.0.0.1"],
                          nodes={"node1": "127.0.0.1"})


@pytest.fixture
def kubelet(tmp_path):
    kl = Kubelet(FakeRuntime(), "node1", "127.0.0.1", tmp_path, recorder=ListRecorder())
    pod = make_pod()
    kl.desired = {pod["metadata"]["uid"]: pod}
    kl.sync(pod)
    yield kl
    kl.stop()


@pytest.fixture
def server(kubelet, certs):
    s = KubeletServer(kubelet, "127.0.0.1", 0, certs.cert("kubelet-node1-serving"),
                      certs.key("kubelet-node1-serving"), certs.ca).start()
    yield s
    s.stop()


def get(server, certs, path, client="admin", **params):
    cert = (str(certs.cert(client)), str(certs.key(client))) if client else None
    return requests.get(f"https://127.0.0.1:{server.port}{path}", params=params,
                        verify=str(certs.ca), cert=cert, timeout=10)


def test_healthz_answers_ok(server, certs):
    r = get(server, certs, "/healthz")
    assert r.status_code == 200 and r.text == "ok"


def test_a_request_without_a_client_certificate_is_unauthorized(server, certs):
    assert get(server, certs, "/pods", client=None).status_code == 401


def test_pods_is_a_pod_list_of_what_the_kubelet_runs_with_status(server, certs):
    body = get(server, certs, "/pods").json()
    assert body["kind"] == "PodList"
    (pod,) = body["items"]
    assert pod["metadata"]["name"] == "web-node1"
    assert pod["status"]["phase"] == "Running"


def test_container_logs_serves_the_output_and_honours_tail_lines(server, certs, kubelet):
    (app,) = kubelet.runtime.running("app")
    kubelet.runtime.logs_of[app.id] = b"one\ntwo\nthree\n"
    r = get(server, certs, "/containerLogs/default/web-node1/app")
    assert r.status_code == 200 and r.text == "one\ntwo\nthree\n"
    assert get(server, certs, "/containerLogs/default/web-node1/app", tailLines=1).text == "three\n"


def test_container_logs_of_unknown_pods_and_containers_are_404_with_a_reason(server, certs):
    r = get(server, certs, "/containerLogs/default/nope/app")
    assert r.status_code == 404 and "pod default/nope not found" in r.text
    r = get(server, certs, "/containerLogs/default/web-node1/nope")
    assert r.status_code == 404 and "choose one of: [app]" in r.text


def test_without_a_certificate_the_kubelet_makes_itself_a_self_signed_one(kubelet):
    s = KubeletServer(kubelet, "127.0.0.1", 0).start()
    try:
        r = requests.get(f"https://127.0.0.1:{s.port}/healthz", verify=False, timeout=10)
        assert r.text == "ok"
        assert (kubelet.root_dir / "pki" / "kubelet.crt").exists()
    finally:
        s.stop()
