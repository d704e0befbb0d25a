"""kubectl debug (an ephemeral container added through pods/ephemeralcontainers, run by
node1's kubelet in the pod's namespaces) and kubectl run -it --rm, in the lab at stage
controller-manager; judged by the real kubectl (1.32 and the newest) on a pseudo-terminal."""
import json
import os
import pty
import select
import signal
import subprocess
import time

import pytest

from kfs import versions
from kfs.kubectl import binary, env
from kfs.util import wait_for
from tests.system.controllers_helpers import controller_manager_client

APP = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app"},
       "spec": {"nodeName": "node1", "terminationGracePeriodSeconds": 1, "containers": [
           {"name": "app", "image": "kfs/busybox:1", "command": ["sleep", "424242"]}]}}
VERSIONS = pytest.mark.parametrize("version", [None, versions.KUBECTL_NEWEST],
                                   ids=["1.32", "newest"])


def run(lab, *argv, input=None, version=None, timeout=60):
    return subprocess.run([binary(version), *argv], input=input, capture_output=True,
                          text=True, env=env(lab), timeout=timeout)


@pytest.fixture(scope="module")
def dlab(lab):
    """The lab at stage controller-manager with pod `app` Ready on node1; deleted at the end."""
    controller_manager_client(lab)
    assert run(lab, "apply", "-f", "-", input=json.dumps(APP)).returncode == 0
    r = run(lab, "wait", "--for=condition=Ready", "pod/app", "--timeout=90s", timeout=100)
    assert r.returncode == 0, r.stderr
    yield lab
    run(lab, "delete", "pod", "app", "--ignore-not-found", "--wait=false")


class Terminal:
    """kubectl on a pseudo-terminal: what it prints, read until a text shows up."""

    def __init__(self, lab, argv, version=None):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.environ.update(env(lab))
            os.execv(binary(version), [binary(version), *argv])
        self.out = ""

    def read_until(self, text, timeout=60):
        deadline = time.monotonic() + timeout
        while text not in self.out and time.monotonic() < deadline:
            ready, _, _ = select.select([self.fd], [], [], 0.5)
            if ready:
                try:
                    self.out += os.read(self.fd, 4096).decode(errors="replace")
                except OSError:
                    break
        return text in self.out

    def type(self, line):
        os.write(self.fd, line.encode() + b"\r")

    def exit_code(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.read_until("\0", timeout=0.5)  # keep the terminal drained
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        return None

    def close(self):
        """A kubectl still running after a failed assertion is killed (it is our child)."""
        try:
            if os.waitpid(self.pid, os.WNOHANG) == (0, 0):
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
        except ChildProcessError:  # already reaped by exit_code
            pass
        os.close(self.fd)


def pod(lab, name="app"):
    return json.loads(run(lab, "get", "pod", name, "-o", "json").stdout)


@VERSIONS
def test_debug_shell_sees_the_pods_network_and_with_target_the_apps_processes(dlab, version):
    name = f"dbg-{'newest' if version else '132'}"
    t = Terminal(dlab, ["debug", "-it", "pod/app", "--image=kfs/busybox:1", "--target=app",
                        f"--container={name}", "--", "sh"], version)
    try:
        t.type("")                                    # "If you don't see a command prompt..."
        assert t.read_until("#"), t.out
        t.type("hostname -i; ps; echo END-$((40+2))")
        assert t.read_until("END-42"), t.out
        ip = pod(dlab)["status"]["podIP"]
        assert ip in t.out and "sleep 424242" in t.out, t.out
        t.type("exit")
        assert t.exit_code() == 0, t.out
    finally:
        t.close()

    def ephemeral_state():
        r = run(dlab, "get", "pod", "app", "-o",
                "jsonpath={.status.ephemeralContainerStatuses}", version=version)
        statuses = {s["name"]: s for s in json.loads(r.stdout or "[]")}
        return statuses.get(name, {}).get("state", {})
    assert "running" in ephemeral_state() or "terminated" in ephemeral_state()
    wait_for(lambda: "terminated" in ephemeral_state(), 30,
             what=f"{name} terminated in ephemeralContainerStatuses")
    assert pod(dlab)["spec"]["containers"][0]["name"] == "app"  # the pod's spec unchanged


def test_debug_with_a_target_that_is_not_a_container_is_refused_naming_the_field(dlab):
    r = run(dlab, "debug", "pod/app", "--image=kfs/busybox:1", "--target=nope")
    assert r.returncode != 0
    assert "targetContainerName" in r.stderr and "nope" in r.stderr, r.stderr


def test_kubectl_run_it_rm_gives_a_throwaway_shell_and_deletes_its_pod(dlab):
    t = Terminal(dlab, ["run", "throwaway", "-it", "--rm", "--image=kfs/busybox:1",
                        "--restart=Never", "--",
                        "sh", "-c", "sleep 1; echo hello from $(hostname)-$((40+2))"])
    try:
        assert t.read_until("hello from throwaway-42"), t.out
        assert t.exit_code(timeout=60) == 0, t.out
    finally:
        t.close()
    assert "deleted" in t.out, t.out
    r = run(dlab, "get", "pod", "throwaway", "--ignore-not-found", "-o", "name")
    assert r.stdout.strip() in ("", "pod/throwaway")  # gone, or going (graceful)
