"""Pod status from containers: phase, conditions, container states."""
import pytest

from kfs.kubelet import status


def cs(state, last=None):
    return {"name": "c", "ready": "running" in state, "state": state,
            "lastState": {"terminated": last} if last else {}}


RUN = {"running": {"startedAt": "t"}}
WAIT = {"waiting": {"reason": "ContainerCreating"}}
CRASH = {"waiting": {"reason": "CrashLoopBackOff"}}


def done(code):
    return {"terminated": {"exitCode": code}}


@pytest.mark.parametrize("policy,states,phase", [
    ("Always", [WAIT], "Pending"),
    ("Always", [RUN, WAIT], "Pending"),
    ("Always", [RUN], "Running"),
    ("Always", [RUN, done(0)], "Running"),
    ("Always", [done(0)], "Running"),
    ("Never", [done(0), done(0)], "Succeeded"),
    ("Never", [done(0), done(1)], "Failed"),
    ("OnFailure", [done(0)], "Succeeded"),
    ("OnFailure", [done(1)], "Running"),
])
def test_get_phase(policy, states, phase):
    pod = {"spec": {"restartPolicy": policy}}
    assert status.get_phase(pod, [cs(s) for s in states]) == phase


def test_a_crash_looping_container_counts_as_stopped_so_the_pod_stays_running():
    pod = {"spec": {"restartPolicy": "Always"}}
    assert status.get_phase(pod, [cs(CRASH, last={"exitCode": 1})]) == "Running"


def test_unready_containers_are_named_in_the_ready_condition():
    st = {"conditions": []}
    status.set_conditions(st, [{"name": "a", "ready": True}, {"name": "b", "ready": False}],
                          "Running")
    ready = next(c for c in st["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False" and ready["reason"] == "ContainersNotReady"
    assert ready["message"] == "containers with unready status: [b]"


def test_a_condition_keeps_its_transition_time_until_it_flips():
    st = {"conditions": []}
    status.set_conditions(st, [{"name": "a", "ready": False}], "Running", now="T1")
    status.set_conditions(st, [{"name": "a", "ready": False}], "Running", now="T2")
    ready = next(c for c in st["conditions"] if c["type"] == "Ready")
    assert ready["lastTransitionTime"] == "T1"
    status.set_conditions(st, [{"name": "a", "ready": True}], "Running", now="T3")
    ready = next(c for c in st["conditions"] if c["type"] == "Ready")
    assert ready["lastTransitionTime"] == "T3"


def test_the_status_manager_retries_a_failed_write_until_it_succeeds():
    writes, fail = [], [True]

    def writer(pod, st):
        if fail[0]:
            raise ConnectionError("api server away")
        writes.append(st)
    m = status.StatusManager(writer)
    pod = {"metadata": {"uid": "u", "name": "p"}}
    m.set(pod, {"phase": "Running"})
    fail[0] = False
    m.set(pod, {"phase": "Running"})
    m.set(pod, {"phase": "Running"})
    assert writes == [{"phase": "Running"}]


def ready_status(ready):
    return {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True" if ready else "False"},
        {"type": "ContainersReady", "status": "True" if ready else "False"}]}


def api_pod(api_status):
    return {"metadata": {"uid": "u", "name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "i"}]}, "status": api_status}


def test_a_status_the_api_server_shows_otherwise_is_written_again():
    """The node lifecycle controller marked the pod not Ready while the kubelet was away;
    the kubelet's own status never changed, but it must make the API server's true again."""
    writes = []
    m = status.StatusManager(lambda pod, st: writes.append(st))
    m.set(api_pod({"phase": "Pending"}), ready_status(True))
    m.set(api_pod(ready_status(True)), ready_status(True))   # our write came back: quiet
    assert len(writes) == 1
    marked = ready_status(False)  # what the node lifecycle controller wrote
    m.set(api_pod(marked), ready_status(True))
    assert writes == [ready_status(True), ready_status(True)]


def test_fields_the_kubelet_does_not_own_do_not_cause_rewrites():
    writes = []
    m = status.StatusManager(lambda pod, st: writes.append(st))
    api = dict(ready_status(True), qosClass="BestEffort", conditions=ready_status(True)[
        "conditions"] + [{"type": "PodScheduled", "status": "True"}])
    for _ in range(3):
        m.set(api_pod(api), ready_status(True))
    assert len(writes) == 1


def test_a_static_pods_manifest_never_counts_as_the_api_servers_copy():
    writes = []
    m = status.StatusManager(lambda pod, st: writes.append(st))
    pod = api_pod({"phase": "Pending"})
    pod["metadata"]["annotations"] = {"kubernetes.io/config.source": "file"}
    m.set(pod, ready_status(True))
    m.set(pod, ready_status(True))
    assert len(writes) == 1
