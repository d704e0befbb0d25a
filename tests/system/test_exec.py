"""kubectl exec, attach, cp and port-forward in the lab (stage controller-manager): through
the API server to the kubelet of node1, and into the pod's containers through that
machine's Docker exec API; judged by the real kubectl (1.32 and the newest) and the
official Python client."""
import hashlib
import json
import os
import pty
import re
import select
import subprocess
import time

import pytest
import requests

from kfs import versions
from kfs.kubectl import binary, env
from tests.system.controllers_helpers import controller_manager_client

SHELL = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "shell"},
         "spec": {"nodeName": "node1", "terminationGracePeriodSeconds": 1, "containers": [
             {"name": "sh", "image": "kfs/busybox:1", "command": ["sleep", "100000"]}]}}
ECHO = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "echo"},
        "spec": {"nodeName": "node2", "terminationGracePeriodSeconds": 1, "containers": [
            {"name": "echo", "image": "kfs/echo:1", "ports": [{"containerPort": 8080}]}]}}
READER = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "reader"},
          "spec": {"nodeName": "node1", "restartPolicy": "Never", "containers": [
              {"name": "reader", "image": "kfs/busybox:1", "stdin": True,
               "command": ["sh", "-c", "read line; echo got $line"]}]}}
both_kubectls = pytest.mark.parametrize("version", [None, versions.KUBECTL_NEWEST],
                                        ids=["1.32", "newest"])


def run(lab, *argv, input=None, version=None, timeout=60):
    return subprocess.run([binary(version), *argv], input=input, capture_output=True,
                          text=True, env=env(lab), timeout=timeout)


@pytest.fixture(scope="module")
def xlab(lab):
    """The lab at stage controller-manager with pods `shell` (node1) and `echo` (node2)
    Ready; they are deleted at the end."""
    controller_manager_client(lab)
    for pod in (SHELL, ECHO):
        assert run(lab, "apply", "-f", "-", input=json.dumps(pod)).returncode == 0
    for name in ("shell", "echo"):
        r = run(lab, "wait", "--for=condition=Ready", f"pod/{name}", "--timeout=90s",
                timeout=100)
        assert r.returncode == 0, r.stderr
    yield lab
    run(lab, "delete", "pod", "shell", "echo", "reader", "--ignore-not-found", "--wait=false")


@both_kubectls
def test_exec_prints_both_streams_and_exits_with_the_commands_code(xlab, version):
    r = run(xlab, "exec", "shell", "--", "sh", "-c", "echo out; echo err >&2; exit 3",
            version=version)
    assert (r.returncode, r.stdout) == (3, "out\n") and "err\n" in r.stderr, r.stderr


@both_kubectls
def test_stdin_piped_into_exec_reaches_cat_and_ends_it(xlab, version):
    r = run(xlab, "exec", "-i", "shell", "--", "cat", input="hi\n", timeout=30,
            version=version)
    assert (r.returncode, r.stdout) == (0, "hi\n"), r.stderr


def test_exec_runs_in_the_pods_network_namespace(xlab):
    """The app container shares the pause container's network: one IP, the pod's."""
    pod = json.loads(run(xlab, "get", "pod", "shell", "-o", "json").stdout)
    r = run(xlab, "exec", "shell", "--", "hostname", "-i")
    assert r.stdout.split() == [pod["status"]["podIP"]]


def read_until(fd, text, timeout=15):
    out, deadline = b"", time.monotonic() + timeout
    while text.encode() not in out and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                out += os.read(fd, 4096)
            except OSError:
                break
    return out.decode(errors="replace")


@both_kubectls
def test_exec_it_gives_a_terminal_of_the_clients_size_and_its_exit_code(xlab, version):
    import fcntl
    import struct
    import termios
    pid, fd = pty.fork()
    if pid == 0:  # the child: kubectl on a pseudo-terminal of 33 rows, 111 columns
        os.environ.update(env(xlab))
        os.execv(binary(version), [binary(version), "exec", "-it", "shell", "--", "sh"])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 111, 0, 0))
    try:
        assert "#" in read_until(fd, "#")  # the shell's prompt
        os.write(fd, b"stty size; tty\r")
        out = read_until(fd, "/dev/pts")
        assert "33 111" in out and "/dev/pts/" in out, out
        os.write(fd, b"exit 5\r")
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 5
    finally:
        os.close(fd)


@both_kubectls
def test_kubectl_cp_copies_5_mb_both_ways_unchanged(xlab, tmp_path, version):
    data = os.urandom(5 * 1024 * 1024)
    (tmp_path / "big").write_bytes(data)
    inside = f"/tmp/big-{version or 'default'}"
    r = run(xlab, "cp", str(tmp_path / "big"), f"shell:{inside}", timeout=120, version=version)
    assert r.returncode == 0, r.stderr
    md5 = run(xlab, "exec", "shell", "--", "md5sum", inside).stdout.split()[0]
    assert md5 == hashlib.md5(data).hexdigest()
    r = run(xlab, "cp", f"shell:{inside}", str(tmp_path / "back"), timeout=120,
            version=version)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "back").read_bytes() == data


def test_attach_sends_stdin_to_the_containers_own_process(xlab):
    assert run(xlab, "apply", "-f", "-", input=json.dumps(READER)).returncode == 0
    assert run(xlab, "wait", "--for=condition=Ready", "pod/reader", "--timeout=60s",
               timeout=70).returncode == 0
    r = run(xlab, "attach", "-i", "reader", input="x\n", timeout=30)
    assert "got x" in r.stdout, r.stderr


@both_kubectls
def test_port_forward_serves_100_sequential_requests(xlab, version):
    proc = subprocess.Popen([binary(version), "port-forward", "pod/echo", ":8080"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env(xlab))
    try:
        line = proc.stdout.readline()
        local = int(re.search(r"127\.0\.0\.1:(\d+)", line).group(1))
        for i in range(100):
            r = requests.get(f"http://127.0.0.1:{local}/", timeout=10)
            assert r.status_code == 200 and "hostname=echo" in r.text
    finally:
        proc.kill()
        proc.wait()


def test_the_python_client_streams_exec_and_port_forward(xlab):
    kubernetes = pytest.importorskip("kubernetes")
    from kubernetes.stream import portforward, stream
    api = kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(
        config_file=str(xlab.admin_kubeconfig)))
    out = stream(api.connect_get_namespaced_pod_exec, "shell", "default",
                 command=["sh", "-c", "echo from python"], stdout=True, stderr=True,
                 stdin=False, tty=False)
    assert out == "from python\n"
    pf = portforward(api.connect_get_namespaced_pod_portforward, "echo", "default",
                     ports="8080")
    sock = pf.socket(8080)
    try:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
        assert b"hostname=echo" in data
    finally:
        sock.close()


def test_exec_into_a_missing_container_is_400_naming_it(xlab):
    r = run(xlab, "exec", "shell", "-c", "nosuch", "--", "true")
    assert r.returncode == 1 and "container nosuch is not valid for pod shell" in r.stderr


def test_debians_kubectl_1_20_is_told_spdy_is_not_served(xlab):
    r = run(xlab, "exec", "shell", "--", "true", version=versions.KUBECTL_OLDEST)
    assert r.returncode == 1 and "SPDY upgrades are not served" in r.stderr, r.stderr
