"""The scheduler's cache: assumed pods count at once and are confirmed or forgotten."""
from kfs.scheduler.cache import Cache
from tests.unit.scheduler_objects import node, pod


def cpu_on(cache, name):
    return cache.node_info(name).requested.milli_cpu


def bound(p, node_name, phase="Running"):
    return {**p, "spec": {**p["spec"], "nodeName": node_name}, "status": {"phase": phase}}


def test_an_assumed_pod_counts_until_forgotten():
    cache, p = Cache(), pod(cpu="1")
    cache.add_node(node("node1"))
    cache.assume_pod(p, "node1")
    assert cpu_on(cache, "node1") == 1000 and cache.is_assumed(p)
    cache.forget_pod(p)
    assert cpu_on(cache, "node1") == 0 and not cache.is_assumed(p)


def test_seeing_the_pod_bound_confirms_it_and_forget_no_longer_applies():
    cache, p = Cache(), pod(cpu="1")
    cache.add_node(node("node1"))
    cache.assume_pod(p, "node1")
    cache.add_pod(bound(p, "node1"))
    cache.forget_pod(p)
    assert cpu_on(cache, "node1") == 1000 and not cache.is_assumed(p)


def test_a_pod_bound_elsewhere_than_assumed_moves_there():
    cache, p = Cache(), pod(cpu="1")
    cache.add_node(node("node1"))
    cache.add_node(node("node2"))
    cache.assume_pod(p, "node1")
    cache.add_pod(bound(p, "node2"))
    assert (cpu_on(cache, "node1"), cpu_on(cache, "node2")) == (0, 1000)


def test_a_finished_pod_no_longer_counts():
    cache, p = Cache(), pod(cpu="1")
    cache.add_node(node("node1"))
    cache.add_pod(bound(p, "node1"))
    cache.update_pod(bound(p, "node1", phase="Succeeded"))
    assert cpu_on(cache, "node1") == 0


def test_a_deleted_node_keeps_its_pods_counted_but_is_not_offered():
    cache, p = Cache(), pod(cpu="1")
    n = node("node1")
    cache.add_node(n)
    cache.add_pod(bound(p, "node1"))
    cache.remove_node(n)
    assert cache.node_infos() == [] and cpu_on(cache, "node1") == 1000
    cache.add_node(n)  # it comes back (a kubelet re-registering): its pods are still there
    assert cache.node_infos()[0].requested.milli_cpu == 1000
    cache.remove_pod(p)
    cache.remove_node(n)
    assert cache.node_info("node1") is None


def test_a_snapshot_counts_only_bound_unfinished_pods():
    from kfs.scheduler.cache import snapshot
    pods = [bound(pod("a", cpu="1"), "node1"), pod("pending", cpu="1"),
            bound(pod("done", cpu="1"), "node1", phase="Succeeded")]
    cache = snapshot([node("node1")], pods)
    assert [ni.name for ni in cache.node_infos()] == ["node1"]
    assert cpu_on(cache, "node1") == 1000
