"""The exercises' checks: one per notebook's blank, each answering with a sentence.

Cases are built here from plain objects (no lab needed), so the unit tests run the same
checks on a wrong answer and on the reference (``kfs.course.solutions``).
"""
from kfs import resources
from kfs.course.exercise import run_cases


def check_machine_address(machine_address):
    """Notebook 00: `machine_address(subnet, name)`: the address the lab gives machine `name`
    on its network `subnet` (what ``Lab.address`` computes)."""
    cases = [(("192.168.56.0/24", "cp"), "192.168.56.10",
              "cp is the network's address + 10 (the host has + 1, the bridge's)."),
             (("192.168.56.0/24", "node1"), "192.168.56.11", "node<N> is cp's address + N."),
             (("192.168.56.0/24", "node2"), "192.168.56.12", "node<N> is cp's address + N."),
             (("192.168.57.0/24", "node2"), "192.168.57.12",
              "The test lab has a network of its own: start from `subnet`, not 192.168.56."),
             (("10.1.0.0/24", "node12"), "10.1.0.22",
              "node12 is + 22: read the whole number after \"node\", not its last digit.")]
    return run_cases(_normalized(machine_address, str), cases,
                     lambda subnet, name: f"machine {name} on {subnet}",
                     "machine_address numbers the machines as the lab does: kfs lab status "
                     "would show the same addresses.")


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


def _normalized(fn, normalize):
    """`fn` with its answer normalized for comparison (a blank's None or ... left alone)."""
    def call(*args):
        value = fn(*args)
        return value if value is None or value is Ellipsis else normalize(value)
    return call


def check_restart_backoff(restart_backoff):
    """Notebook 01: `restart_backoff(deaths)`: seconds before a container that died `deaths`
    times in a row is started again."""
    cases = [((1,), 0, "The first death is restarted at once."),
             ((2,), 10, "The second waits the initial back-off: 10 s."),
             ((3,), 20, "Each further death doubles the wait: 10, 20, 40 ..."),
             ((5,), 80, "Doubling: 10 × 2^(deaths − 2)."),
             ((7,), 300, "The wait is capped at 300 s (upstream's MaxContainerBackOff, 5 min)."),
             ((30,), 300, "Still the cap, however many deaths.")]
    return run_cases(_normalized(restart_backoff, float), cases,
                     lambda deaths: f"a container that died {deaths} time(s)",
                     "restart_backoff waits as the kubelet's crash-loop back-off does.")


def check_statistic_probabilities(statistic_probabilities):
    """Notebook 05: `statistic_probabilities(n)`: the --probability of each rule of a
    KUBE-SVC chain with n endpoints (n − 1 rules with one; the last endpoint takes the rest)."""
    cases = [((1,), [], "One endpoint needs no statistic rule: the last rule takes the rest."),
             ((2,), [0.5], "Two endpoints: the first rule takes half, the last the rest."),
             ((4,), [0.25, 0.333333, 0.5],
              "Rule i sees only what the rules before it left: 1 / (endpoints left)."),
             ((3,), [0.333333, 0.5], "n − 1 rules, each 1 / (n − i) for i = 0, 1, ..."),
             ((10,), [round(1 / (10 - i), 6) for i in range(9)],
              "Each endpoint gets 1/n overall: p_i × (what is left) = 1/n.")]
    return run_cases(_normalized(statistic_probabilities, lambda ps: [round(p, 6) for p in ps]),
                     cases, lambda n: f"a Service with {n} endpoint(s)",
                     "every endpoint is picked with probability 1/n, as kube-proxy's "
                     "statistic rules do.")


def check_first_free_subnet(first_free_subnet):
    """Notebook 06: `first_free_subnet(network, taken)`: the first /24 of `network` a new
    node may lease (flannel skips the network's first /24), None when all are taken."""
    cases = [(("10.244.0.0/16", []), "10.244.1.0/24",
              "flannel leaves the first /24 out (SubnetMin is the network's second subnet)."),
             (("10.244.0.0/16", ["10.244.1.0/24", "10.244.2.0/24"]), "10.244.3.0/24",
              "Skip the subnets already leased."),
             (("10.244.0.0/16", ["10.244.1.0/24", "10.244.3.0/24"]), "10.244.2.0/24",
              "A subnet freed in the middle is free again: take the first free one."),
             (("10.244.0.0/16", ["10.244.1.0/24", "10.244.2.0/23"]), "10.244.4.0/24",
              "A taken /23 covers two /24s: check overlaps (ipaddress's .overlaps)."),
             (("10.200.0.0/22", ["10.200.1.0/24", "10.200.2.0/24", "10.200.3.0/24"]), None,
              "When every /24 is leased, return None (flanneld: out of subnets).")]
    return run_cases(_normalized(first_free_subnet, str), cases,
                     lambda network, taken: f"network {network} with {taken or 'nothing'} taken",
                     "first_free_subnet leases as flanneld does (upstream picks at random "
                     "among the first free ones).")


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
