"""Deletion rules (graceful pods, finalizers, propagation) and watch selector transitions."""
from kfs import resources, storage as st
from kfs.apiserver import deletion, kinds, registry, watch

POD = kinds.lookup("v1", "Pod")


def pod(node=None, phase=None, finalizers=None, grace=None):
    p = {"metadata": {"name": "p"}, "spec": {}, "status": {}}
    if node:
        p["spec"]["nodeName"] = node
    if phase:
        p["status"]["phase"] = phase
    if finalizers:
        p["metadata"]["finalizers"] = finalizers
    if grace is not None:
        p["spec"]["terminationGracePeriodSeconds"] = grace
    return p


def delete_pod(p, options):
    """What the registry does on a DELETE of a pod: the grace period the Pod kind asks for."""
    return deletion.before_delete(p, options, POD.delete_grace_period(p, options))


def test_a_pod_on_a_node_gets_its_termination_grace_period():
    p = pod(node="n1", grace=10)
    assert delete_pod(p, {}) == (True, False)
    assert p["metadata"]["deletionGracePeriodSeconds"] == 10


def test_an_unscheduled_or_finished_pod_is_deleted_at_once():
    assert delete_pod(pod(), {}) == (False, False)
    assert delete_pod(pod(node="n1", phase="Succeeded"), {}) == (False, False)


def test_grace_zero_on_a_terminating_pod_deletes_it_and_a_longer_grace_changes_nothing():
    p = pod(node="n1")
    delete_pod(p, {})
    assert delete_pod(dict(p), {"gracePeriodSeconds": 60}) == (False, True)
    assert delete_pod(dict(p), {}) == (False, True)
    assert delete_pod(p, {"gracePeriodSeconds": 0}) == (False, False)


def test_kinds_without_graceful_deletion_go_at_once():
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {}}
    grace = kinds.for_object(lease).delete_grace_period(lease, {"gracePeriodSeconds": 30})
    assert deletion.before_delete(lease, {"gracePeriodSeconds": 30}, grace) == (False, False)


def test_propagation_policies_set_the_garbage_collector_finalizers():
    obj = {"metadata": {"finalizers": ["x"]}}
    assert deletion.gc_finalizers(obj, {"propagationPolicy": "Foreground"}) == [
        "x", "foregroundDeletion"]
    assert deletion.gc_finalizers(obj, {"propagationPolicy": "Orphan"}) == ["x", "orphan"]
    assert deletion.gc_finalizers(obj, {"orphanDependents": True}) == ["x", "orphan"]
    assert deletion.gc_finalizers(obj, {"propagationPolicy": "Background"}) is None
    orphaning = {"metadata": {"finalizers": ["orphan"]}}
    assert deletion.gc_finalizers(orphaning, {"propagationPolicy": "Background"}) == []


def test_the_last_finalizer_removed_deletes_an_object_being_deleted():
    marked = {"metadata": {"deletionTimestamp": "t", "deletionGracePeriodSeconds": 0}}
    assert deletion.should_delete_during_update(marked)
    assert not deletion.should_delete_during_update({"metadata": {**marked["metadata"],
                                                                  "finalizers": ["f"]}})
    graceful = {"metadata": {"deletionTimestamp": "t", "deletionGracePeriodSeconds": 30}}
    assert not deletion.should_delete_during_update(graceful)  # the kubelet deletes it


def ev(type_, obj, prev):
    return st.Event(type_, obj, prev, 7)


def labelled(value):
    return {"metadata": {"name": "p", "labels": {"app": value}, "resourceVersion": "7"}}


def test_watch_selectors_turn_entering_and_leaving_into_added_and_deleted():
    flt = registry.predicate(POD, "app=web")
    assert watch.transition(ev("MODIFIED", labelled("web"), labelled("db")), flt)[0] == "ADDED"
    kind, obj = watch.transition(ev("MODIFIED", labelled("db"), labelled("web")), flt)
    assert kind == "DELETED" and obj["metadata"]["labels"] == {"app": "web"}
    assert watch.transition(ev("MODIFIED", labelled("web"), labelled("web")), flt)[0] == \
        "MODIFIED"
    assert watch.transition(ev("MODIFIED", labelled("db"), labelled("db")), flt) is None
    assert watch.transition(ev("DELETED", labelled("web"), labelled("web")), flt)[0] == \
        "DELETED"


def test_field_selectors_accept_only_upstreams_fields_per_kind():
    import pytest
    from kfs.apiserver import errors
    events = resources.lookup("events")
    match = registry.predicate(kinds.for_resource(events), None, "involvedObject.name=x,source=kubelet")
    assert match({"involvedObject": {"name": "x"}, "source": {"component": "kubelet"}})
    with pytest.raises(errors.StatusError):
        registry.predicate(POD, None, "spec.image=x")


def test_storage_keys_and_continue_tokens():
    assert st.prefix_end("/registry/pods/") == b"/registry/pods0"
    assert st.encode({"metadata": {"name": "a", "resourceVersion": "5"}}) == \
        b'{"metadata":{"name":"a"}}'
    token = st.Storage._make_continue("/registry/pods/", b"/registry/pods/ns/b\0", 42)
    assert st.Storage._parse_continue("/registry/pods/", token) == (
        b"/registry/pods/ns/b\0", 42)
