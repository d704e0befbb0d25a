"""Pod lifecycle with the standalone kubelet on real Docker: restart policies and back-off,
probes, graceful deletion, and a kubelet killed with SIGKILL and started again."""
import signal
import time

import pytest

from kfs.lab import supervisor
from kfs.lab.stages import kubelet as stage
from kfs.util import wait_for
from tests.system.kubelet_helpers import (  # noqa: F401  (fixtures)
    container, docker, klab, kubelet_containers, kubelet_pods, log_text, node1, pod_manifest,
    ready, running, wait_pod, write_manifest)

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")


def busybox(name, script, **extra):
    return {"name": name, "image": "kfs/busybox:1", "command": ["sh", "-c", script], **extra}


def app_container(machine, pod, name):
    """The Docker name of the running instance of a pod's container."""
    return next((n for n in kubelet_containers(machine, pod, running=True)
                 if n.startswith(f"k8s_{name}_")), None)


def test_a_crashing_container_is_restarted_then_backs_off(node1):
    write_manifest(node1, "crash.yaml", pod_manifest("crash", [busybox("c", "exit 3")]))
    st = wait_pod(node1, "crash-node1", lambda st: container(st, "c")["restartCount"] >= 1 and
                  container(st, "c")["state"].get("waiting", {}).get("reason") ==
                  "CrashLoopBackOff", timeout=60, what="CrashLoopBackOff")
    c = container(st, "c")
    assert "back-off 10s restarting failed container=c" in c["state"]["waiting"]["message"]
    assert c["lastState"]["terminated"]["exitCode"] == 3
    assert c["lastState"]["terminated"]["reason"] == "Error"
    assert st["phase"] == "Running"
    st = wait_pod(node1, "crash-node1", lambda st: container(st, "c")["restartCount"] >= 2,
                  timeout=30, what="a restart after the 10s back-off")
    assert "back-off 20s" in container(
        wait_pod(node1, "crash-node1", lambda st: "waiting" in container(st, "c")["state"]),
        "c")["state"]["waiting"]["message"]
    assert "reason=BackOff" in log_text(node1)


@pytest.mark.parametrize("policy,code,phase,reason", [
    ("Never", 1, "Failed", "Error"), ("OnFailure", 0, "Succeeded", "Completed")])
def test_a_pod_whose_containers_may_not_restart_ends_terminated(node1, policy, code, phase,
                                                                reason):
    name = f"once-{policy.lower()}"
    write_manifest(node1, f"{name}.yaml", pod_manifest(name, [busybox("c", f"exit {code}")],
                                                       restartPolicy=policy))
    st = wait_pod(node1, f"{name}-node1", lambda st: st.get("phase") == phase, timeout=60)
    c = container(st, "c")
    assert c["state"]["terminated"]["reason"] == reason and c["restartCount"] == 0
    wait_for(lambda: not app_container(node1, f"{name}-node1", "POD"), 30,
             what="the finished pod's sandbox stopped")


def test_a_killed_container_is_restarted_and_counted(node1):
    write_manifest(node1, "killme.yaml", pod_manifest("killme", [busybox("c", "sleep 3600")]))
    wait_pod(node1, "killme-node1", running)
    docker(node1, "kill", app_container(node1, "killme-node1", "c"))
    st = wait_pod(node1, "killme-node1", lambda st: running(st) and
                  container(st, "c")["restartCount"] == 1, timeout=30)
    assert container(st, "c")["lastState"]["terminated"]["exitCode"] == 137


def test_readiness_probe_flips_the_pods_ready_condition(node1):
    probe = {"exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 1,
             "failureThreshold": 1}
    write_manifest(node1, "probe.yaml", pod_manifest("probe", [
        busybox("c", "sleep 3600", readinessProbe=probe)]))
    st = wait_pod(node1, "probe-node1", running)
    assert not ready(st) and container(st, "c")["ready"] is False
    name = app_container(node1, "probe-node1", "c")
    docker(node1, "exec", name, "touch", "/tmp/ready")
    wait_pod(node1, "probe-node1", ready, timeout=20, what="Ready")
    docker(node1, "exec", name, "rm", "/tmp/ready")
    st = wait_pod(node1, "probe-node1", lambda st: not ready(st), timeout=20, what="not Ready")
    assert container(st, "c")["restartCount"] == 0, "readiness never restarts a container"


def test_http_readiness_and_a_failing_liveness_probe_restarts_the_container(node1):
    """Container c serves /alive from a hostPath directory; the test deletes the file on
    the machine, the liveness probe gets a 404, the kubelet restarts c (which makes the
    file again at start)."""
    probe_dir = node1.dir / "test-liveness"
    echo = {"name": "echo", "image": "kfs/echo:1",
            "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1},
            "livenessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}}
    alive = {"httpGet": {"path": "/alive", "port": 8081}, "periodSeconds": 1,
             "failureThreshold": 2}
    c = busybox("c", "touch /probe/alive; httpd -f -p 8081 -h /probe", livenessProbe=alive,
                volumeMounts=[{"name": "probe", "mountPath": "/probe"}])
    write_manifest(node1, "live.yaml", pod_manifest("live", [echo, c], volumes=[
        {"name": "probe", "hostPath": {"path": str(probe_dir), "type": "DirectoryOrCreate"}}]))
    wait_pod(node1, "live-node1", lambda st: running(st) and ready(st), timeout=30)
    wait_for((probe_dir / "alive").exists, 10, what="c's /probe/alive")
    (probe_dir / "alive").unlink()
    st = wait_pod(node1, "live-node1", lambda st: running(st) and
                  container(st, "c")["restartCount"] == 1, timeout=30, what="a liveness restart")
    assert container(st, "echo")["restartCount"] == 0
    log = log_text(node1)
    assert "reason=Unhealthy" in log and "Liveness probe failed" in log
    assert "Container c failed liveness probe, will be restarted" in log


def test_graceful_deletion_sends_sigterm_and_sigkill_after_the_grace_period(node1):
    stubborn = busybox("stubborn", "sleep 3600")  # PID 1 without a TERM handler ignores it
    polite = busybox("polite", "trap 'echo got TERM; exit 0' TERM; sleep 3600 & wait")
    write_manifest(node1, "grace.yaml", pod_manifest("grace", [stubborn],
                                                     terminationGracePeriodSeconds=4))
    write_manifest(node1, "polite.yaml", pod_manifest("polite", [polite],
                                                      terminationGracePeriodSeconds=30))
    wait_pod(node1, "grace-node1", running)
    wait_pod(node1, "polite-node1", running)
    polite_name = app_container(node1, "polite-node1", "polite")
    start = time.monotonic()
    (stage.manifest_dir(node1) / "grace.yaml").unlink()
    (stage.manifest_dir(node1) / "polite.yaml").unlink()
    wait_for(lambda: not app_container(node1, "polite-node1", "polite"), 20,
             what="the polite container stopped")
    assert time.monotonic() - start < 4, "a container that exits on SIGTERM stops at once"
    wait_for(lambda: not kubelet_containers(node1, "grace-node1"), 30, what="pod grace gone")
    assert time.monotonic() - start >= 4, "SIGKILL only after the grace period"
    assert polite_name


def test_a_kubelet_killed_and_restarted_neither_duplicates_nor_loses_containers(klab, node1):
    write_manifest(node1, "keep.yaml", pod_manifest("keep", [busybox("c", "sleep 3600")]))
    write_manifest(node1, "drop.yaml", pod_manifest("drop", [busybox("c", "sleep 3600")]))
    wait_pod(node1, "keep-node1", running)
    wait_pod(node1, "drop-node1", running)
    before = sorted(kubelet_containers(node1, "keep-node1"))
    daemon = stage.daemon(klab, node1)
    assert supervisor.kill(daemon, signal.SIGKILL)
    (stage.manifest_dir(node1) / "drop.yaml").unlink()  # removed while the kubelet is down
    stage.up(klab, "kubelet", lambda msg: None)
    wait_for(lambda: not kubelet_containers(node1, "drop-node1"), 60,
             what="the pod removed while the kubelet was down cleaned up")
    st = wait_pod(node1, "keep-node1", running)
    assert sorted(kubelet_containers(node1, "keep-node1")) == before
    assert container(st, "c")["restartCount"] == 0
    assert len(kubelet_pods(node1)) == 1
