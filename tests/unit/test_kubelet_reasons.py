"""The reason cache: why each container of each pod waits, shared by every pod worker."""
from kfs.kubelet.reasons import ReasonCache


def test_a_reason_is_kept_per_pod_and_container_until_removed():
    r = ReasonCache()
    r.set("u1", "app", "ErrImagePull", "pull access denied")
    r.set("u2", "app", "CrashLoopBackOff", "back-off 10s")
    assert r.get("u1", "app") == ("ErrImagePull", "pull access denied")
    assert r.get("u1", "other") is None
    r.remove("u1", "app")
    assert r.get("u1", "app") is None and r.get("u2", "app") == ("CrashLoopBackOff", "back-off 10s")


def test_forgetting_a_pod_forgets_all_its_containers_and_only_its_own():
    r = ReasonCache()
    r.set("u1", "a", "ErrImagePull")
    r.set("u1", "b", "ImagePullBackOff")
    r.set("u2", "a", "RunContainerError")
    r.forget_pod("u1")
    assert r.snapshot("u1") == {}
    assert r.snapshot("u2") == {"a": ("RunContainerError", "")}


def test_a_snapshot_is_a_copy_that_later_changes_leave_alone():
    r = ReasonCache()
    r.set("u1", "a", "ErrImagePull")
    snap = r.snapshot("u1")
    r.set("u1", "b", "ImagePullBackOff")
    r.forget_pod("u1")
    assert snap == {"a": ("ErrImagePull", "")}
