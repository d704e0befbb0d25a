"""The standalone kubelet on real Docker in the lab: pod sources, the pod's shared network,
volumes, limits, images, bad manifests, its own HTTPS API."""
import http.server
import threading

import pytest
import requests

from kfs.lab import supervisor
from kfs.lab.stages import kubelet as stage
from kfs.util import wait_for
from tests.system.kubelet_helpers import (  # noqa: F401  (fixtures)
    container, docker, klab, kubelet_containers, kubelet_pods, log_text, node1, pod_manifest,
    running, wait_pod, write_manifest)

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")

ECHO = {"name": "echo", "image": "kfs/echo:1", "ports": [{"containerPort": 8080}]}
SLEEPER = {"name": "shell", "image": "kfs/busybox:1", "command": ["sleep", "3600"]}


def running_container(machine, pod, container_name):
    """The Docker name of the running instance of one of the pod's containers."""
    (name,) = [n for n in kubelet_containers(machine, pod, running=True)
               if n.startswith(f"k8s_{container_name}_")]
    return name


def exec_in(machine, pod, container_name, *argv):
    return docker(machine, "exec", running_container(machine, pod, container_name), *argv)


def test_a_static_pod_is_a_pause_container_plus_app_containers_sharing_one_ip(node1):
    write_manifest(node1, "web.yaml", pod_manifest("web", [ECHO, SLEEPER]))
    st = wait_pod(node1, "web-node1", running)
    names = kubelet_containers(node1, "web-node1")
    assert sorted(n.split("_")[1] for n in names) == ["POD", "echo", "shell"]
    assert st["podIP"].startswith("172.17.") and st["hostIP"] == node1.ip
    for c in ("echo", "shell"):
        assert f"inet {st['podIP']}/16" in exec_in(node1, "web-node1", c, "ip", "-4", "addr")
    assert exec_in(node1, "web-node1", "shell", "hostname").strip() == "web-node1"
    answer = exec_in(node1, "web-node1", "shell", "wget", "-qO-", "http://localhost:8080/")
    assert f"ip={st['podIP']}" in answer, "containers of a pod reach each other on localhost"


def test_a_removed_manifest_removes_its_pod_and_a_changed_one_replaces_it(node1):
    write_manifest(node1, "a.yaml", pod_manifest("a", [SLEEPER]))
    old = container(wait_pod(node1, "a-node1", running), "shell")["containerID"]
    write_manifest(node1, "a.yaml", pod_manifest("a", [{**SLEEPER, "command": ["sleep", "99"]}]))
    new = wait_pod(node1, "a-node1", lambda st: running(st) and container(
        st, "shell")["containerID"] != old)
    assert len(kubelet_containers(node1, "a-node1")) == 2, "the old pod's containers are gone"
    (stage.manifest_dir(node1) / "a.yaml").unlink()
    wait_for(lambda: not kubelet_containers(node1, "a-node1"), 60, what="pod a removed")
    assert "a-node1" not in kubelet_pods(node1)
    assert new


def test_bad_manifests_are_reported_in_the_log_and_other_pods_keep_running(node1):
    write_manifest(node1, "good.yaml", pod_manifest("good", [SLEEPER]))
    cid = container(wait_pod(node1, "good-node1", running), "shell")["containerID"]
    write_manifest(node1, "broken.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: [\n")
    write_manifest(node1, "noimage.yaml", pod_manifest("noimage", [{"name": "c"}]))
    write_manifest(node1, "typo.yaml", pod_manifest("typo", [{**SLEEPER, "imagee": "x"}]))
    wait_for(lambda: log_text(node1).count("could not process manifest file") >= 3, 30,
             what="three errors in the kubelet's log")
    log = log_text(node1)
    assert "broken.yaml: invalid YAML" in log
    assert "noimage.yaml: pod 'noimage': spec.containers[0].image: Required value" in log
    assert 'typo.yaml: pod \'typo\': unknown field "spec.containers[0].imagee"' in log
    assert container(wait_pod(node1, "good-node1", running), "shell")["containerID"] == cid
    assert set(kubelet_pods(node1)) == {"good-node1"}


def test_an_image_that_cannot_be_pulled_is_err_image_pull_then_image_pull_back_off(node1):
    write_manifest(node1, "nosuch.yaml", pod_manifest("nosuch", [
        {"name": "c", "image": "nosuch/image:1"}]))
    seen = set()

    def reasons():
        st = kubelet_pods(node1).get("nosuch-node1", {}).get("status") or {}
        for c in st.get("containerStatuses", []):
            seen.add(c["state"].get("waiting", {}).get("reason"))
        return {"ErrImagePull", "ImagePullBackOff"} <= seen
    wait_for(reasons, 60, interval=0.2, what="ErrImagePull and ImagePullBackOff")
    assert pod_status_phase(node1, "nosuch-node1") == "Pending"


def pod_status_phase(machine, name):
    return kubelet_pods(machine)[name]["status"]["phase"]


def test_empty_dir_is_shared_between_containers_and_host_path_reaches_the_machine(node1, tmp_path):
    host_dir = node1.dir / "test-hostpath"
    writer = {"name": "writer", "image": "kfs/busybox:1",
              "command": ["sh", "-c", "echo hello > /shared/msg; echo host > /host/msg; sleep 3600"],
              "volumeMounts": [{"name": "shared", "mountPath": "/shared"},
                               {"name": "host", "mountPath": "/host"}]}
    reader = {"name": "reader", "image": "kfs/busybox:1", "command": [
        "sh", "-c", "until [ -f /data/msg ]; do sleep 0.1; done; echo read $(cat /data/msg); "
        "sleep 3600"], "volumeMounts": [{"name": "shared", "mountPath": "/data", "readOnly": True}]}
    write_manifest(node1, "vol.yaml", pod_manifest("vol", [writer, reader], volumes=[
        {"name": "shared", "emptyDir": {}},
        {"name": "host", "hostPath": {"path": str(host_dir), "type": "DirectoryOrCreate"}}]))
    wait_pod(node1, "vol-node1", running)
    wait_for(lambda: (host_dir / "msg").exists(), 30, what="the hostPath file")
    reader_logs = lambda: docker(node1, "logs", running_container(node1, "vol-node1", "reader"))  # noqa: E731
    assert wait_for(lambda: "read" in reader_logs(), 30, what="the reader's output")
    assert reader_logs().strip() == "read hello"
    assert (host_dir / "msg").read_text().strip() == "host"


def test_env_command_working_dir_and_limits_reach_docker(node1):
    c = {"name": "c", "image": "kfs/busybox:1", "workingDir": "/tmp",
         "command": ["sh", "-c"], "args": ["echo $(GREETING) from $POD_IP in $PWD; sleep 3600"],
         "env": [{"name": "GREETING", "value": "hi"},
                 {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
         "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}}}
    write_manifest(node1, "env.yaml", pod_manifest("env", [c]))
    st = wait_pod(node1, "env-node1", running)
    (name,) = [n for n in kubelet_containers(node1, "env-node1") if n.startswith("k8s_c_")]
    assert docker(node1, "inspect", "-f", "{{.HostConfig.NanoCpus}} {{.HostConfig.Memory}}",
                  name).split() == ["500000000", str(64 * 2**20)]
    wait_for(lambda: "hi from" in docker(node1, "logs", name), 10, what="the container's output")
    assert docker(node1, "logs", name).strip() == f"hi from {st['podIP']} in /tmp"


def test_container_logs_on_the_kubelets_https_port_with_tail_lines_and_follow(node1):
    c = {"name": "count", "image": "kfs/busybox:1",
         "command": ["sh", "-c", "for i in 1 2 3; do echo line $i; done; "
                                 "i=4; while true; do sleep 0.2; echo line $i; i=$((i+1)); done"]}
    write_manifest(node1, "logs.yaml", pod_manifest("logs", [c]))
    wait_pod(node1, "logs-node1", running)
    url = f"https://{node1.ip}:{stage.PORT}/containerLogs/default/logs-node1/count"
    wait_for(lambda: "line 5" in requests.get(url, verify=False, timeout=10).text, 20,
             what="five lines of output")
    assert requests.get(url, verify=False, timeout=10).text.startswith("line 1\nline 2\n")
    assert len(requests.get(url, params={"tailLines": 2}, verify=False,
                            timeout=10).text.splitlines()) == 2
    with requests.get(url, params={"follow": "true", "tailLines": 1}, verify=False, stream=True,
                      timeout=10) as r:
        lines = r.iter_lines()
        first = int(next(lines).split()[1])
        assert int(next(lines).split()[1]) == first + 1, "follow streams new lines as they come"


@pytest.fixture
def manifest_server(klab):
    """An HTTP server on the host's lab address serving `state["body"]`."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(state["body"].encode())

        def log_message(self, *a):
            pass
    state = {"body": ""}
    server = http.server.ThreadingHTTPServer((klab.host_ip, 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["url"] = f"http://{klab.host_ip}:{server.server_port}/pods.yaml"
    yield state
    server.shutdown()
    server.server_close()


def test_the_manifest_url_source_runs_what_the_url_serves(klab, manifest_server):
    m = klab.machine("node2")
    argv = [*stage.kubelet_argv(klab, m, "kubelet"), "--manifest-url", manifest_server["url"],
            "--http-check-frequency", "1s"]
    supervisor.ensure(m.daemon("kubelet", argv))
    try:
        wait_for(lambda: stage.listening(m), 30, what="the kubelet on node2 up again")
        manifest_server["body"] = pod_manifest("fromurl", [SLEEPER])
        wait_pod(m, "fromurl-node2", running)
        manifest_server["body"] = '{"apiVersion": "v1", "kind": "PodList", "items": []}'
        wait_for(lambda: not kubelet_containers(m, "fromurl-node2"), 60,
                 what="the URL's pod removed")
    finally:
        stage.up(klab, "kubelet", lambda msg: None)
