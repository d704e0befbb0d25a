"""Every controller's reconcile runs on caches that would catch it changing a cached object.

sample-controller's rule: what an informer hands out is shared by every controller in the
process, so deep-copy it before changing it. A reconcile that forgets makes the next
reader (and the next sync) see a state the API server never had. Here each controller's
reconcile is made to forget once, on one object of one of its caches, and the FakeApi's
mutation detector must fail the test, naming the object and the field.
"""
import pytest

from kfs.controllers.deployment import DeploymentController
from kfs.controllers.disruption import DisruptionController
from kfs.controllers.endpoints import EndpointsController
from kfs.controllers.endpointslice import EndpointSliceController
from kfs.controllers.garbagecollector import GarbageCollector
from kfs.controllers.manager import SharedInformers
from kfs.controllers.nodelifecycle import UNREACHABLE, NodeLifecycleController
from kfs.controllers.replicaset import ReplicaSetController
from tests.controller_objects import deployment, lease, node, pod, replicaset, service
from tests.fakes import CacheMutated, FakeApi


def set_status(rs):
    rs["status"] = {"replicas": 3}


def set_revision(d):
    d["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/revision"] = "1"


def set_headless(svc):
    svc["metadata"]["labels"]["service.kubernetes.io/headless"] = ""


def set_target_port(svc):
    svc["spec"]["ports"][0]["targetPort"] = 9090


def drop_owners(p):
    p["metadata"]["ownerReferences"] = []


def taint(n):
    n["spec"]["taints"] = [{"key": UNREACHABLE, "effect": "NoExecute"}]


def set_allowed(budget):
    budget["status"] = {"disruptionsAllowed": 1}


def budget():
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}}


def orphan():
    """A pod whose owner is gone: the garbage collector has work to do."""
    return pod("a", ownerReferences=[{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                      "name": "gone", "uid": "u-gone", "controller": True}])


CASES = {  # controller: (make, objects, (resource, key) of the object mutated, mutation, field)
    "replicaset": (ReplicaSetController, lambda: [replicaset()],
                   ("replicasets", "default/web"), set_status, r"status: added"),
    "deployment": (DeploymentController, lambda: [deployment()],
                   ("deployments", "default/web"), set_revision, r"metadata\.annotations"),
    "endpoint": (EndpointsController, lambda: [service(), pod("a", ip="172.17.0.2")],
                 ("services", "default/web"), set_headless,
                 r"metadata\.labels\.service\.kubernetes\.io/headless: added"),
    "endpointslice": (EndpointSliceController, lambda: [service(), pod("a", ip="172.17.0.2")],
                      ("services", "default/web"), set_target_port,
                      r"spec\.ports\[0\]\.targetPort: 8080 -> 9090"),
    "garbagecollector": (GarbageCollector, lambda: [orphan()], ("pods", "default/a"),
                         drop_owners, r"metadata\.ownerReferences: 1 items -> 0"),
    "nodelifecycle": (NodeLifecycleController, lambda: [node("node1"), lease("node1")],
                      ("nodes", "node1"), taint, r"spec\.taints: added"),
    "disruption": (DisruptionController, lambda: [budget(), pod("a")],
                   ("poddisruptionbudgets", "default/web"), set_allowed, r"status: added"),
}


@pytest.mark.parametrize("name", CASES)
def test_a_reconcile_that_changes_a_cached_object_fails_naming_it_and_the_field(name, monkeypatch):
    make, objects, (resource, key), mutate, field = CASES[name]
    api = FakeApi(*objects())
    informers = SharedInformers(api, api.informer)
    c = make(api, informers)
    real = c.reconcile

    def forgetful_reconcile(k):  # as if the reconcile changed what it read, without a copy
        mutate(informers[resource].get(key))
        monkeypatch.setattr(c, "reconcile", real)
        return real(k)
    monkeypatch.setattr(c, "reconcile", forgetful_reconcile)
    api.replay()
    c.enqueue(key if name != "garbagecollector" else f"pods:{key}")
    kind = informers[resource].resource.kind
    with pytest.raises(CacheMutated, match=rf"{kind} {key} .*{field}"):
        c.drain()
        api.verify_cache()  # a reconcile that wrote nothing afterwards: the end-of-test check
    assert len(api.detector.found) == 1
    api.detector.found.clear()  # caught: not for the end-of-test check


@pytest.mark.parametrize("name", CASES)
def test_the_same_reconcile_without_the_change_passes(name):
    make, objects, (resource, key), _, _ = CASES[name]
    api = FakeApi(*objects())
    c = make(api, SharedInformers(api, api.informer))
    api.replay()
    c.enqueue(key if name != "garbagecollector" else f"pods:{key}")
    c.drain()
    api.verify_cache()
