"""The exercises' checks: one per notebook's blank, each answering with a sentence.

Cases are built here from plain objects (no lab needed), so the unit tests run the same
checks on a wrong answer and on the reference (``kfs.course.solutions``).
"""
from kfs import resources
from kfs.course.exercise import run_cases


def check_registry_key(registry_key):
    """Notebook 02: `registry_key(plural, namespace, name)` is the etcd key of an object."""
    cases = [(("pods", "default", "hello"), "/registry/pods/default/hello",
              "Keys are /registry/<resource>/<namespace>/<name>."),
             (("deployments", "shop", "web"), "/registry/deployments/shop/web",
              "The API group (apps) is not part of the key."),
             (("namespaces", None, "shop"), "/registry/namespaces/shop",
              "A cluster-scoped object has no namespace in its key."),
             (("nodes", None, "node1"), resources.lookup("nodes").etcd_key(None, "node1"),
              "Nodes keep their old name in etcd: minions.")]
    return run_cases(registry_key, cases, lambda p, ns, n: f"{p} {ns}/{n}",
                     "every key is where the API server stores it: "
                     "etcdctl get <key> would find the object.")


def pod(name, cpu=None, ready=True, created="2026-01-01T00:00:00Z"):
    requests = {"cpu": cpu} if cpu else {}
    return {"metadata": {"name": name, "creationTimestamp": created},
            "spec": {"containers": [{"name": "app", "resources": {"requests": requests}}]},
            "status": {"phase": "Running",
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def node(name, cpu):
    return {"metadata": {"name": name}, "status": {"allocatable": {"cpu": cpu}}}


def check_fits_cpu(fits_cpu):
    """Notebook 03: `fits_cpu(pod, node, pods_on_node)` is the cpu half of NodeResourcesFit."""
    cases = [((pod("a", "500m"), node("n", "2"), []), True, "An empty node with 2 cpus fits 500m."),
             ((pod("a", "1500m"), node("n", "2"), [pod("b", "1")]), False,
              "1 cpu used + 1.5 asked > 2: sum the requests of the pods already there "
              "(kfs.meta.parse_quantity('100m') == 0.1)."),
             ((pod("a", "1"), node("n", "2"), [pod("b", "1")]), True,
              "Exactly full still fits: requested + asked <= allocatable."),
             ((pod("a", "100m"), node("n", "1"), [pod("b"), pod("c", "900m")]), True,
              "A container without a request asks for 0 cpu in the filter."),
             ((pod("a", "2"), node("n", "1500m"), []), False,
              "Allocatable is a quantity too: 1500m is 1.5 cpus.")]
    return run_cases(fits_cpu, cases,
                     lambda p, n, on: f"a pod asking {_cpu(p)} on a node of "
                                      f"{n['status']['allocatable']['cpu']} cpu running "
                                      f"{[_cpu(q) for q in on]}",
                     "fits_cpu filters like the scheduler's NodeResourcesFit (for cpu).")


def _cpu(p):
    return p["spec"]["containers"][0]["resources"]["requests"].get("cpu", "0")


def check_manage_replicas(manage_replicas):
    """Notebook 04: `manage_replicas(replicas, pods)` -> (pods to create, names to delete)."""
    a, b = pod("echo-a", created="2026-01-01T00:00:01Z"), pod("echo-b", created="2026-01-01T00:00:02Z")
    unready = pod("echo-c", ready=False, created="2026-01-01T00:00:00Z")
    cases = [((3, []), (3, []), "No pods and 3 wanted: create 3."),
             ((2, [a, b]), (0, []), "As many as wanted: nothing to do."),
             ((3, [a]), (2, []), "Create the difference."),
             ((1, [a, b]), (0, ["echo-b"]), "Too many: delete the newest first."),
             ((2, [a, b, unready]), (0, ["echo-c"]),
              "Not-Ready pods go first: they serve nobody.")]
    return run_cases(manage_replicas, cases,
                     lambda n, ps: f"{n} replicas wanted, pods {[p['metadata']['name'] for p in ps]}",
                     "manage_replicas closes the gap as the ReplicaSet controller does.")


def lb_node(name, ip=None, labels=None, taints=()):
    addresses = [{"type": "Hostname", "address": name}]
    if ip:
        addresses.insert(0, {"type": "InternalIP", "address": ip})
    return {"metadata": {"name": name, "labels": dict(labels or {})},
            "spec": {"taints": [{"key": t, "effect": "NoSchedule"} for t in taints]},
            "status": {"addresses": addresses}}


def check_load_balancer_backends(load_balancer_backends):
    """Notebook 07: `load_balancer_backends(nodes)` -> the sorted InternalIPs a load balancer
    sends traffic to (the service controller's nodeIncludedPredicate)."""
    n1, n2 = lb_node("node1", "10.0.0.11"), lb_node("node2", "10.0.0.12")
    excluded = lb_node("node3", "10.0.0.13",
                       labels={"node.kubernetes.io/exclude-from-external-load-balancers": ""})
    new = lb_node("node4", "10.0.0.14", taints=["node.cloudprovider.kubernetes.io/uninitialized"])
    going = lb_node("node5", "10.0.0.15", taints=["ToBeDeletedByClusterAutoscaler"])
    cases = [(([n2, n1],), ["10.0.0.11", "10.0.0.12"],
              "Every node's InternalIP (status.addresses), sorted."),
             (([n1, lb_node("node9")],), ["10.0.0.11"],
              "A node without an InternalIP cannot be a backend."),
             (([n1, excluded],), ["10.0.0.11"],
              "The label node.kubernetes.io/exclude-from-external-load-balancers (any value) "
              "keeps a node out."),
             (([n1, new],), ["10.0.0.11"],
              "A node still tainted node.cloudprovider.kubernetes.io/uninitialized is not "
              "described by the cloud yet."),
             (([going, n1],), ["10.0.0.11"],
              "The cluster-autoscaler's ToBeDeletedByClusterAutoscaler taint: about to go.")]
    return run_cases(load_balancer_backends, cases,
                     lambda nodes: f"nodes {[n['metadata']['name'] for n in nodes]}",
                     "load_balancer_backends picks the nodes as the service controller does.")
