"""sync_pod against the in-memory runtime: sandbox, containers, restarts, back-off, images."""
import pytest

from kfs.kubelet import manifest, runtime as rt
from kfs.kubelet.dns import Configurer
from kfs.kubelet.events import ListRecorder
from kfs.kubelet.fake_runtime import FakeClock, FakeRuntime
from kfs.kubelet.kubelet import Kubelet
from kfs.kubelet.sync import compute_pod_actions


def make_pod(name="web", containers=None, restart_policy="Always", **spec):
    containers = containers or [{"name": "app", "image": "kfs/busybox:1",
                                 "command": ["sleep", "1000"]}]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"containers": containers, "restartPolicy": restart_policy, **spec}}
    return manifest.static_pod(pod, "node1", "file", f"/manifests/{name}.yaml")


@pytest.fixture
def kl(tmp_path):
    clock = FakeClock()
    k = Kubelet(FakeRuntime(clock), "node1", "192.168.56.11", tmp_path, recorder=ListRecorder(),
                clock=clock, dns_configurer=Configurer(["10.96.0.10"], "cluster.local", ""))
    k.clock_ = clock
    yield k
    k.stop()


def status_of(kl, pod):
    return kl.sync(pod)


def state(status, i=0):
    return status["containerStatuses"][i]["state"]


def test_a_pod_is_a_sandbox_plus_app_containers_joined_to_it(kl):
    pod = make_pod(containers=[{"name": "a", "image": "kfs/busybox:1"},
                               {"name": "b", "image": "kfs/echo:1"}])
    kl.runtime_manager.sync_pod(pod)
    sandboxes = [c for c in kl.runtime.containers.values() if c.is_sandbox]
    apps = kl.runtime.app_containers()
    assert len(sandboxes) == 1 and sandboxes[0].running
    assert sandboxes[0].config.hostname == "web-node1"
    assert sorted(c.container_name for c in apps) == ["a", "b"]
    assert all(c.sandbox_id == sandboxes[0].id and c.running for c in apps)


def test_every_container_is_labelled_with_its_pod_and_named_as_dockershim_names_it(kl):
    pod = make_pod()
    kl.runtime_manager.sync_pod(pod)
    uid = pod["metadata"]["uid"]
    (app,) = kl.runtime.app_containers()
    assert app.labels[rt.POD_NAME] == "web-node1"
    assert app.labels[rt.POD_NAMESPACE] == "default"
    assert app.labels[rt.POD_UID] == uid
    assert app.labels[rt.CONTAINER_NAME] == "app"
    assert app.name == f"k8s_app_web-node1_default_{uid}_0"


def test_a_second_sync_of_a_running_pod_changes_nothing(kl):
    pod = make_pod()
    kl.runtime_manager.sync_pod(pod)
    before = set(kl.runtime.containers)
    kl.runtime.calls.clear()
    kl.runtime_manager.sync_pod(pod)
    assert set(kl.runtime.containers) == before
    assert not [c for c in kl.runtime.calls if c[0] != "list"]


def test_status_of_a_running_pod_has_the_sandbox_ip_and_ready_conditions(kl):
    pod = make_pod()
    status = kl.sync(pod)
    sandbox = next(c for c in kl.runtime.containers.values() if c.is_sandbox)
    assert status["phase"] == "Running"
    assert status["podIP"] == sandbox.ip and status["hostIP"] == "192.168.56.11"
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "PodScheduled": "True", "Initialized": "True", "ContainersReady": "True",
        "Ready": "True"}
    assert "running" in state(status)


@pytest.mark.parametrize("policy,code,restarts", [
    ("Always", 0, True), ("Always", 1, True), ("OnFailure", 1, True),
    ("OnFailure", 0, False), ("Never", 1, False), ("Never", 0, False)])
def test_restart_policy_decides_whether_an_exited_container_is_restarted(kl, policy, code,
                                                                          restarts):
    pod = make_pod(restart_policy=policy)
    kl.runtime_manager.sync_pod(pod)
    kl.runtime.crash("app", code)
    kl.runtime_manager.sync_pod(pod)
    assert bool(kl.runtime.running("app")) == restarts


@pytest.mark.parametrize("policy,code,phase,reason", [
    ("Never", 0, "Succeeded", "Completed"), ("Never", 2, "Failed", "Error"),
    ("OnFailure", 0, "Succeeded", "Completed")])
def test_a_pod_whose_containers_stopped_for_good_is_terminal(kl, policy, code, phase, reason):
    pod = make_pod(restart_policy=policy)
    kl.sync(pod)
    kl.runtime.crash("app", code)
    status = kl.sync(pod)
    assert status["phase"] == phase
    assert state(status)["terminated"]["reason"] == reason
    assert state(status)["terminated"]["exitCode"] == code
    assert not kl.runtime.running(), "the sandbox of a finished pod is stopped"


def test_a_crashing_container_backs_off_10s_then_20s_then_is_restarted(kl):
    pod = make_pod()
    clock = kl.clock_
    kl.sync(pod)
    kl.runtime.crash("app")
    status = kl.sync(pod)                          # first restart: at once
    assert status["containerStatuses"][0]["restartCount"] == 1
    kl.runtime.crash("app")
    status = kl.sync(pod)
    assert state(status)["waiting"]["reason"] == "CrashLoopBackOff"
    assert "back-off 10s" in state(status)["waiting"]["message"]
    assert status["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] == 1
    assert status["phase"] == "Running"
    clock.advance(9)
    assert "waiting" in state(kl.sync(pod))
    clock.advance(1.5)
    status = kl.sync(pod)
    assert "running" in state(status) and status["containerStatuses"][0]["restartCount"] == 2
    kl.runtime.crash("app")
    clock.advance(15)
    assert "back-off 20s" in state(kl.sync(pod))["waiting"]["message"]
    clock.advance(6)
    assert "running" in state(kl.sync(pod))
    assert "BackOff" in kl.recorder.reasons()


def test_the_back_off_is_capped_by_max_backoff(tmp_path):
    clock = FakeClock()
    kl = Kubelet(FakeRuntime(clock), "node1", "10.0.0.1", tmp_path, recorder=ListRecorder(),
                 clock=clock, max_backoff=4)
    pod = make_pod()
    kl.sync(pod)
    for _ in range(4):
        kl.runtime.crash("app")
        kl.sync(pod)
        clock.advance(4.1)
        assert "running" in state(kl.sync(pod))


def test_a_failed_pull_is_err_image_pull_then_image_pull_back_off(kl):
    pod = make_pod(containers=[{"name": "app", "image": "nosuch/image:1"}])
    status = kl.sync(pod)
    assert state(status)["waiting"]["reason"] == "ErrImagePull"
    assert status["phase"] == "Pending"
    assert state(kl.sync(pod))["waiting"]["reason"] == "ImagePullBackOff"
    kl.clock_.advance(11)
    assert state(kl.sync(pod))["waiting"]["reason"] == "ErrImagePull"
    assert kl.recorder.reasons().count("Pulling") == 2
    assert "Failed" in kl.recorder.reasons()


def test_a_pullable_image_is_pulled_when_missing(kl):
    kl.runtime.pullable.add("nginx:1.25")
    pod = make_pod(containers=[{"name": "app", "image": "nginx:1.25"}])
    status = kl.sync(pod)
    assert "running" in state(status)
    assert ("pull_image", "nginx:1.25") in kl.runtime.calls
    assert kl.recorder.reasons()[:2] == ["Pulling", "Pulled"]


def test_if_not_present_does_not_pull_an_image_that_is_there_but_always_does(kl):
    pod = make_pod(containers=[{"name": "app", "image": "kfs/busybox:1",
                                "imagePullPolicy": "Always"}])
    status = kl.sync(pod)
    assert state(status)["waiting"]["reason"] == "ErrImagePull"
    pod = make_pod(name="other")
    kl.sync(pod)
    assert [c for c in kl.runtime.calls if c[0] == "pull_image"] == [
        ("pull_image", "kfs/busybox:1")]


def test_a_container_that_fails_to_start_reports_the_runtime_error(kl):
    kl.runtime.fail_start["kfs/busybox:1"] = 'exec: "nosuch": executable file not found'
    status = kl.sync(make_pod())
    waiting = state(status)["waiting"]
    assert waiting["reason"] == "RunContainerError" and "nosuch" in waiting["message"]


def test_a_dead_sandbox_is_replaced_and_the_containers_restarted_in_it(kl):
    pod = make_pod()
    kl.sync(pod)
    sandbox = next(c for c in kl.runtime.containers.values() if c.is_sandbox)
    sandbox.state = "exited"
    status = kl.sync(pod)
    sandboxes = [c for c in kl.runtime.containers.values() if c.is_sandbox and c.running]
    assert len(sandboxes) == 1 and sandboxes[0].attempt == 1
    (app,) = kl.runtime.running("app")
    assert app.sandbox_id == sandboxes[0].id
    assert status["podIP"] == sandboxes[0].ip


def test_a_never_pod_whose_sandbox_died_gets_no_second_sandbox(kl):
    pod = make_pod(restart_policy="Never")
    kl.sync(pod)
    next(c for c in kl.runtime.containers.values() if c.is_sandbox).state = "exited"
    actions = compute_pod_actions(pod, kl.runtime.list_containers())
    assert not actions.create_sandbox and actions.kill_pod


def test_a_changed_container_spec_restarts_that_container(kl):
    pod = make_pod()
    kl.sync(pod)
    (old,) = kl.runtime.running("app")
    pod["spec"]["containers"][0]["command"] = ["sleep", "2000"]
    kl.sync(pod)
    (new,) = kl.runtime.running("app")
    assert new.id != old.id and new.config.command == ["sleep", "2000"]
    assert "Killing" in kl.recorder.reasons()


def test_a_failed_liveness_probe_kills_and_restarts_the_container(kl):
    pod = make_pod()
    kl.sync(pod)
    (old,) = kl.runtime.running("app")
    uid = pod["metadata"]["uid"]
    actions = compute_pod_actions(
        pod, kl.runtime.list_containers(uid),
        lambda u, n, cid: "failed liveness probe" if cid == old.id else None)
    assert actions.kill == {old.id: ("app", "failed liveness probe")}
    assert actions.start == ["app"]


def test_dead_containers_beyond_the_newest_are_garbage_collected(kl):
    pod = make_pod()
    kl.sync(pod)
    for _ in range(4):
        kl.runtime.crash("app")
        kl.clock_.advance(400)
        kl.sync(pod)
    apps = kl.runtime.app_containers("app")
    assert len(apps) == 2, "the running one and the newest dead one (its lastState)"
    assert sorted(c.attempt for c in apps) == [3, 4]


def test_restart_count_survives_in_labels(kl):
    pod = make_pod()
    kl.sync(pod)
    kl.runtime.crash("app")
    kl.sync(pod)
    (app,) = kl.runtime.running("app")
    assert app.labels[rt.RESTART_COUNT] == "1"
