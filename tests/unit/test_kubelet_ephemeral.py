"""Ephemeral containers (kubectl debug) against the in-memory runtime: started once in the
sandbox, in the target's PID namespace, reported in ephemeralContainerStatuses."""
import pytest

from kfs.kubelet.events import ListRecorder
from kfs.kubelet.fake_runtime import FakeClock, FakeRuntime
from kfs.kubelet.kubelet import Kubelet
from tests.unit.test_kubelet_sync import make_pod


@pytest.fixture
def kl(tmp_path):
    clock = FakeClock()
    k = Kubelet(FakeRuntime(clock), "node1", "192.168.56.11", tmp_path, recorder=ListRecorder(),
                clock=clock)
    yield k
    k.stop()


def debugged(pod, **fields):
    pod["spec"]["ephemeralContainers"] = [
        {"name": "debugger", "image": "kfs/busybox:1", "command": ["sh"], "stdin": True,
         "tty": True, **fields}]
    return pod


def test_an_added_ephemeral_container_runs_in_the_pods_sandbox(kl):
    pod = make_pod()
    kl.sync(pod)
    kl.sync(debugged(pod))
    (debugger,) = kl.runtime.running("debugger")
    sandbox = next(c for c in kl.runtime.containers.values() if c.is_sandbox)
    assert debugger.sandbox_id == sandbox.id
    assert debugger.config.tty and debugger.config.stdin and debugger.config.pid_mode is None


def test_with_a_target_it_joins_the_targets_pid_namespace(kl):
    pod = make_pod()
    kl.sync(pod)
    kl.sync(debugged(pod, targetContainerName="app"))
    (app,), (debugger,) = kl.runtime.running("app"), kl.runtime.running("debugger")
    assert debugger.config.pid_mode == f"container:{app.id}"


def test_its_status_is_reported_apart_from_the_pods_containers(kl):
    pod = make_pod()
    kl.sync(pod)
    status = kl.sync(debugged(pod))
    assert [s["name"] for s in status["containerStatuses"]] == ["app"]
    (ephemeral,) = status["ephemeralContainerStatuses"]
    assert ephemeral["name"] == "debugger" and "running" in ephemeral["state"]
    assert ephemeral["ready"] is False


def test_an_exited_ephemeral_container_is_never_restarted(kl):
    pod = make_pod()
    kl.sync(pod)
    kl.sync(debugged(pod))
    kl.runtime.crash("debugger", exit_code=0)
    status = kl.sync(pod)
    assert kl.runtime.running("debugger") == []
    assert status["ephemeralContainerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
    assert status["phase"] == "Running"


def test_a_pod_without_ephemeral_containers_reports_no_such_statuses(kl):
    assert "ephemeralContainerStatuses" not in kl.sync(make_pod())
