"""The kubelet's loop over all pods: workers, adoption after a restart, orphans, termination."""
import queue
import sys
import threading
import traceback

import pytest

from kfs.kubelet import sources
from kfs.kubelet.events import ListRecorder
from kfs.kubelet.fake_runtime import FakeRuntime
from kfs.kubelet.kubelet import Kubelet
from kfs.util import wait_for
from tests.unit.test_kubelet_sync import make_pod


def new_kubelet(runtime, tmp_path, config=None, **kwargs):
    return Kubelet(runtime, "node1", "192.168.56.11", tmp_path, config=config,
                   recorder=ListRecorder(), sync_frequency=0.05, **kwargs)


@pytest.fixture
def runtime():
    return FakeRuntime()


@pytest.fixture
def kubelets():
    made = []
    yield made
    for k in made:
        k.stop()


def test_a_restarted_kubelet_adopts_running_containers_instead_of_duplicating_them(
        runtime, tmp_path):
    pod = make_pod()
    new_kubelet(runtime, tmp_path).sync(pod)
    before = {c.id for c in runtime.containers.values()}
    status = new_kubelet(runtime, tmp_path).sync(pod)
    assert {c.id for c in runtime.containers.values()} == before
    assert status["phase"] == "Running"


def test_containers_of_pods_no_source_wants_are_removed_by_housekeeping(runtime, tmp_path,
                                                                         kubelets):
    gone, kept = make_pod("gone"), make_pod("kept")
    new_kubelet(runtime, tmp_path).sync(gone)
    config = sources.PodConfig([sources.FILE])
    config.set(sources.FILE, [kept])
    kl = new_kubelet(runtime, tmp_path, config)
    kubelets.append(kl)
    kl.handle_pods(config.pods())
    kl.housekeeping()
    wait_for(lambda: not [c for c in runtime.containers.values()
                          if c.pod_uid == gone["metadata"]["uid"]], 5, what="orphans removed")
    wait_for(lambda: runtime.running("app"), 5, what="the kept pod running")


def test_nothing_is_removed_before_every_source_has_delivered(runtime, tmp_path):
    pod = make_pod()
    new_kubelet(runtime, tmp_path).sync(pod)
    config = sources.PodConfig([sources.FILE, sources.HTTP])
    config.set(sources.FILE, [])
    kl = new_kubelet(runtime, tmp_path, config)
    kl.housekeeping()
    assert kl.workers == {} and runtime.running("app")


def test_a_pod_gone_from_its_source_is_stopped_with_its_grace_period_and_removed(
        runtime, tmp_path, kubelets):
    pod = make_pod(terminationGracePeriodSeconds=7)
    uid = pod["metadata"]["uid"]
    kl = new_kubelet(runtime, tmp_path)
    kubelets.append(kl)
    kl.handle_pods({uid: pod})
    (app,) = wait_for(lambda: runtime.running("app"), 5, what="the pod running")
    kl.handle_pods({})
    wait_for(lambda: not runtime.containers, 5, what="the pod's containers removed")
    assert ("stop_container", app.id, 7) in runtime.calls
    assert "Killing" in kl.recorder.reasons()
    wait_for(lambda: not kl.workers, 5, what="the worker gone")


def test_a_deleted_pod_uses_the_deletion_grace_period_and_is_reported_terminated(
        runtime, tmp_path, kubelets):
    pod = make_pod()
    uid = pod["metadata"]["uid"]
    done = []
    kl = new_kubelet(runtime, tmp_path, on_terminated=done.append)
    kubelets.append(kl)
    kl.handle_pods({uid: pod})
    (app,) = wait_for(lambda: runtime.running("app"), 5, what="the pod running")
    deleted = {**pod, "metadata": {**pod["metadata"], "deletionTimestamp": "2024-01-01T00:00:00Z",
                                   "deletionGracePeriodSeconds": 3}}
    kl.handle_pods({uid: deleted})
    wait_for(lambda: done, 5, what="the pod terminated")
    assert ("stop_container", app.id, 3) in runtime.calls
    kl.handle_pods({uid: deleted})
    assert uid not in kl.workers, "a terminated pod is not started again while it is deleted"


def test_a_new_pod_of_the_same_name_waits_for_the_old_one_to_terminate(runtime, tmp_path):
    old, new = make_pod(), make_pod()
    new["metadata"]["uid"] = "other-uid"
    kl = new_kubelet(runtime, tmp_path)
    kl.sync(old)
    from kfs.kubelet.kubelet import PodWorker
    w_old = PodWorker.__new__(PodWorker)
    w_old.pod, w_old.grace, w_old.uid = old, 30, old["metadata"]["uid"]
    w_new = PodWorker.__new__(PodWorker)
    w_new.pod, w_new.grace, w_new.uid = new, None, "other-uid"
    kl.workers = {w_old.uid: w_old, w_new.uid: w_new}
    assert kl.waiting_for_namesake(w_new)
    assert not kl.waiting_for_namesake(w_old)


def test_running_pods_lists_desired_pods_with_their_status(runtime, tmp_path, kubelets):
    pod = make_pod()
    kl = new_kubelet(runtime, tmp_path)
    kubelets.append(kl)
    kl.handle_pods({pod["metadata"]["uid"]: pod})
    wait_for(lambda: kl.running_pods()[0].get("status", {}).get("phase") == "Running", 5,
             what="the pod running")
    (listed,) = kl.running_pods()
    assert listed["metadata"]["name"] == "web-node1"



def test_status_is_reported_from_many_pod_workers_while_other_pods_terminate(runtime, tmp_path):
    """Pod workers record why their containers wait and compute statuses while another
    thread terminates pods (forgetting their reasons): none may see the kubelet's shared
    state change under it. Switching threads every microsecond makes a race show at once."""
    kl = new_kubelet(runtime, tmp_path)
    synced, errors, workers, pods_each = queue.Queue(), [], 6, 100

    def failing(i, n):  # every container's image pull fails: ErrImagePull, then its back-off
        return make_pod(f"w{i}-{n}", containers=[{"name": f"c{c}", "image": "nosuch/image:1"}
                                                 for c in range(20)])

    def pod_worker(i):
        for n in range(pods_each):
            if errors:
                return
            pod = failing(i, n)
            for _ in range(2):
                status = kl.sync(pod)
                assert {s["state"]["waiting"]["reason"] for s in status["containerStatuses"]} \
                    <= {"ErrImagePull", "ImagePullBackOff"}
            synced.put(pod)

    def terminator():
        for _ in range(workers * pods_each):
            if errors:
                return
            kl.terminate(synced.get(timeout=20), 0)

    def reporting(target, *args):
        def run():
            try:
                target(*args)
            except BaseException as e:  # the test fails with it below
                where = traceback.extract_tb(e.__traceback__)[-1]
                errors.append(f"{type(e).__name__}: {e} (in {where.name}: {where.line})")
        return threading.Thread(target=run)
    threads = [reporting(pod_worker, i) for i in range(workers)] + [reporting(terminator)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
    assert not runtime.containers, "every pod was terminated and its containers removed"
