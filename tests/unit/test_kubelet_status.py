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
