"""The lab as an IaaS for real: stage ``cloud`` (``kfs cloud-controller-manager`` on cp, the
``lb`` machine running ``kfs load-balancer``, kubelets ``--cloud-provider external``), checked
through the API server, the real kubectl, curl from the host and the load balancer machine.

One lab at stage cloud is shared by the module; a Deployment ``web`` of ``kfs/echo:1`` (4
replicas over node1 and node2) is made once. One test adds a machine with ``kfs lab
add-node`` and removes it again, one stops node2 (``kfs lab stop-node``) and starts it
again. The last test removes node2 from the lab and brings it back, so it runs last.
"""
import json
import subprocess
import time

import pytest

from kfs import meta
from kfs.cloud.controllers.node import UNINITIALIZED
from kfs.cloud.controllers.nodelifecycle import SHUTDOWN
from kfs.cloud.controllers.service import FINALIZER
from kfs.cloud.loadbalancer import STATUS_FILE
from kfs.kubectl import kubectl
from kfs.lab import netns, nodes as lab_nodes, supervisor
from kfs.lab.stages import cloud, kubelet
from kfs.util import wait_for

quiet = dict(progress=lambda msg: None)
LABEL = {"app": "web-cloud"}


def deployment(replicas=4):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web-cloud", "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": dict(LABEL)},
                     "template": {"metadata": {"labels": dict(LABEL)}, "spec": {
                         "terminationGracePeriodSeconds": 1,
                         "containers": [{"name": "app", "image": "kfs/echo:1"}]}}}}


def lb_service(name, **spec):
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"type": "LoadBalancer", "selector": dict(LABEL),
                     "ports": [{"port": 80, "targetPort": 8080}], **spec}}


def ingress_ip(client, name):
    ingress = (client.get("services", name, "default").get("status", {})
               .get("loadBalancer", {}).get("ingress") or [])
    return ingress[0].get("ip") if ingress else None


def curl(url, timeout=3):
    r = subprocess.run(["curl", "-s", "-m", str(timeout), url], capture_output=True, text=True)
    return r.stdout if r.returncode == 0 else None


def lb_addresses(lab):
    return {a.split("/")[0] for a in netns.addresses("eth0", cloud.lb_machine(lab).netns)}


def lb_status(lab):
    try:
        return json.loads((cloud.balancers_dir(lab) / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return {}


def delete_service(client, name):
    from kfs.client import ApiError
    try:
        client.delete("services", name, "default")
    except ApiError as e:
        if not e.not_found:
            raise


def service_gone(client, name):
    from kfs.client import ApiError
    try:
        client.get("services", name, "default")
        return False
    except ApiError as e:
        return e.not_found


@pytest.fixture(scope="module")
def cluster(lab):
    """The lab at stage cloud with the Deployment web-cloud ready on both nodes: the client."""
    from kfs.client import Client
    lab.up(nodes=2, stage="cloud", **quiet)
    client = Client.from_kubeconfig(lab.admin_kubeconfig)
    if not client.list("deployments", "default",
                       field_selector="metadata.name=web-cloud")["items"]:
        client.create(deployment())

    def spread():
        pods = client.list("pods", "default", label_selector=LABEL)["items"]
        ready = [p for p in pods if meta.condition_true(p, "Ready")]
        return len(ready) >= 4 and {p["spec"]["nodeName"] for p in ready} == {"node1", "node2"}
    wait_for(spread, 180, interval=0.5, what="web-cloud's 4 pods Ready on node1 and node2")
    yield client
    for name in ("web-lb", "web-local", "web-kept", "web-join"):
        delete_service(client, name)
    client.delete("deployments", "web-cloud", "default")


def test_every_node_carries_its_provider_id_zone_and_instance_type(cluster, lab):
    nodes = {meta.name(n): n for n in cluster.list("nodes")["items"]}
    for i, m in enumerate(lab.nodes, start=1):
        n = nodes[m.name]
        labels = n["metadata"]["labels"]
        assert n["spec"]["providerID"] == f"kfs://{lab.name}/{m.name}"
        assert labels["topology.kubernetes.io/zone"] == cloud.zone(i)
        assert labels["topology.kubernetes.io/region"] == cloud.REGION
        assert labels["node.kubernetes.io/instance-type"] == lab.kind  # "netns"
        assert {"type": "InternalIP", "address": m.ip} in n["status"]["addresses"]
        assert UNINITIALIZED not in [t["key"] for t in n["spec"].get("taints") or []]
    assert nodes["node1"]["metadata"]["labels"]["topology.kubernetes.io/zone"] != \
        nodes["node2"]["metadata"]["labels"]["topology.kubernetes.io/zone"]


def test_kubelets_run_with_an_external_cloud_provider_and_give_the_cloud_their_ip(cluster, lab):
    for m in lab.nodes:
        d = kubelet.daemon(lab, m, "cloud")
        assert "--cloud-provider external" in d.cmdfile.read_text()
        node = cluster.get("nodes", m.name)
        assert node["metadata"]["annotations"]["alpha.kubernetes.io/provided-node-ip"] == m.ip


def test_a_load_balancer_service_gets_an_external_ip_within_10_seconds(cluster, lab):
    cluster.create(lb_service("web-lb"))
    ip = wait_for(lambda: ingress_ip(cluster, "web-lb"), 10, interval=0.2,
                  what="web-lb's status.loadBalancer.ingress")
    first, last = cloud.pool(lab)
    assert int(first.rsplit(".", 1)[1]) <= int(ip.rsplit(".", 1)[1]) <= int(last.rsplit(".", 1)[1])
    row = kubectl("get", "svc", "web-lb", "--no-headers", lab=lab, show=False).split()
    assert row[1] == "LoadBalancer" and row[3] == ip
    svc = cluster.get("services", "web-lb", "default")
    assert FINALIZER in svc["metadata"]["finalizers"]
    wait_for(lambda: ip in lb_addresses(lab), 10, interval=0.2,   # at its next sync
             what=f"the lb machine to hold {ip}")


def test_the_load_balancer_address_answers_from_pods_on_both_nodes(cluster, lab):
    ip = wait_for(lambda: ingress_ip(cluster, "web-lb"), 10, what="web-lb's address")
    pods = {p["status"]["podIP"]: p["spec"]["nodeName"]
            for p in cluster.list("pods", "default", label_selector=LABEL)["items"]}
    seen = set()

    def both_nodes():
        out = curl(f"http://{ip}/")
        if out and "ip=" in out:
            seen.add(pods.get(out.split("ip=")[1].split()[0]))
        return seen >= {"node1", "node2"}
    wait_for(both_nodes, 20, interval=0.05, what=f"answers from pods on both nodes via {ip}")
    [status] = [b for b in lb_status(lab).values() if b["address"] == ip]
    assert status["backends"] == {m.ip: True for m in lab.nodes}


def test_a_local_traffic_policy_is_health_checked_on_the_services_health_check_node_port(
        cluster, lab):
    cluster.create(lb_service("web-local", externalTrafficPolicy="Local",
                              selector={**LABEL, "pinned": "node1"}))
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "web-pinned", "namespace": "default",
                        "labels": {**LABEL, "pinned": "node1"}},
           "spec": {"nodeName": "node1", "terminationGracePeriodSeconds": 1,
                    "containers": [{"name": "app", "image": "kfs/echo:1"}]}}
    cluster.create(pod)
    try:
        ip = wait_for(lambda: ingress_ip(cluster, "web-local"), 10, what="web-local's address")
        port = cluster.get("services", "web-local", "default")["spec"]["healthCheckNodePort"]
        node1, node2 = (m.ip for m in lab.nodes)

        def checked():
            b = [b for b in lb_status(lab).values() if b["address"] == ip]
            return b and b[0]["backends"] == {node1: True, node2: False}
        wait_for(checked, 30, interval=0.3,
                 what=f"node1 passing and node2 failing the health check on :{port}")
        answers = {curl(f"http://{ip}/") for _ in range(6)}
        assert all(a and "hostname=web-pinned" in a for a in answers)
    finally:
        delete_service(cluster, "web-local")
        cluster.delete("pods", "web-pinned", "default", grace_period_seconds=0)


def test_a_deleted_service_stays_until_its_load_balancer_is_released(cluster, lab):
    cluster.create(lb_service("web-kept"))
    ip = wait_for(lambda: ingress_ip(cluster, "web-kept"), 10, what="web-kept's address")
    supervisor.stop(cloud.ccm_daemon(lab))          # nobody to clean up
    cluster.delete("services", "web-kept", "default")
    kept = cluster.get("services", "web-kept", "default")
    assert kept["metadata"]["deletionTimestamp"] and FINALIZER in kept["metadata"]["finalizers"]
    assert ip in lb_addresses(lab)
    lab.up(stage="cloud", **quiet)                  # the cloud-controller-manager again
    wait_for(lambda: service_gone(cluster, "web-kept"), 15, interval=0.2,
             what="web-kept deleted once its load balancer is")
    wait_for(lambda: ip not in lb_addresses(lab) and not [
        b for b in lb_status(lab).values() if b["address"] == ip], 5, interval=0.2,
        what=f"{ip} off the load balancer machine")


def test_deleting_a_service_releases_its_address_for_the_next(cluster, lab):
    ip = wait_for(lambda: ingress_ip(cluster, "web-lb"), 10, what="web-lb's address")
    cluster.delete("services", "web-lb", "default")
    wait_for(lambda: service_gone(cluster, "web-lb"), 10, interval=0.2, what="web-lb gone")
    wait_for(lambda: ip not in lb_addresses(lab), 5, interval=0.2,
             what=f"{ip} off the load balancer machine")
    assert curl(f"http://{ip}/", timeout=1) is None
    cluster.create(lb_service("web-lb"))
    assert wait_for(lambda: ingress_ip(cluster, "web-lb"), 10, what="the address again") == ip


def test_going_below_stage_cloud_takes_the_cloud_away_and_coming_back_restores_it(cluster,
                                                                                  lab):
    """Also: a Node that registered while there was no cloud is tainted by the stage and
    initialized by the cloud node controller when the cloud comes back."""
    ip = wait_for(lambda: ingress_ip(cluster, "web-lb"), 10, what="web-lb's address")
    lab.up(stage="flannel", **quiet)
    assert not netns.netns_exists(cloud.lb_machine(lab).netns)
    assert not cloud.cloud_dir(lab).exists()
    assert supervisor.pid_of(cloud.ccm_daemon(lab)) is None
    for m in lab.nodes:
        assert "--cloud-provider" not in kubelet.daemon(lab, m).cmdfile.read_text()
    svc = cluster.get("services", "web-lb", "default")
    assert not svc["metadata"].get("finalizers") and not svc["status"].get("loadBalancer")
    # a Node registered without the cloud (no providerID, no taint): the stage hands it over
    cluster.delete("nodes", "node2")
    supervisor.restart(kubelet.daemon(lab, lab.machine("node2"), "flannel"))
    fresh = wait_for(lambda: [n for n in cluster.list("nodes")["items"]
                              if meta.name(n) == "node2"], 30, what="node2 registered again")[0]
    assert not fresh["spec"].get("providerID") and not fresh["spec"].get("taints")
    lab.up(stage="cloud", **quiet)
    node2 = cluster.get("nodes", "node2")
    assert node2["spec"]["providerID"] == f"kfs://{lab.name}/node2"
    assert not node2["spec"].get("taints")
    assert wait_for(lambda: ingress_ip(cluster, "web-lb"), 10, what="web-lb's address") == ip
    wait_for(lambda: curl(f"http://{ip}/"), 10, interval=0.2, what=f"{ip} answering again")


def first_registration(client, name):
    """A running Informer on Nodes and {name: the Node as first ADDED} it fills in."""
    from kfs.client import Informer
    first = {}

    def record(kind, obj, old):
        if kind == "ADDED" and meta.name(obj) == name and name not in first:
            first[name] = json.loads(json.dumps(obj))
    informer = Informer(client, "nodes").add_handler(record)
    informer.start()
    informer.wait_synced()
    return informer, first


def test_an_added_machine_is_initialized_by_the_cloud_balanced_to_and_deleted_with_it(
        cluster, lab):
    """add-node: the Node registers tainted, the cloud node controller initializes it, the
    load balancer takes it as a backend; remove-node: the cloud node lifecycle controller
    deletes the Node (no Lease left), and the load balancer drops it."""
    cluster.create(lb_service("web-join"))
    name = lab_nodes.next_name(lab)
    informer, first = first_registration(cluster, name)
    try:
        ip = wait_for(lambda: ingress_ip(cluster, "web-join"), 10, what="web-join's address")
        machine = lab_nodes.add_node(lab, **quiet)
        informer.stop()
        assert machine.name == name
        registered = first[name]["spec"]
        assert UNINITIALIZED in [t["key"] for t in registered.get("taints") or []]
        assert not registered.get("providerID")
        node = cluster.get("nodes", name)
        labels = node["metadata"]["labels"]
        assert node["spec"]["providerID"] == f"kfs://{lab.name}/{name}"
        assert labels["topology.kubernetes.io/zone"] == cloud.zone(cloud.index_of(lab, machine))
        assert labels["node.kubernetes.io/instance-type"] == lab.kind  # "netns"
        assert UNINITIALIZED not in [t["key"] for t in node["spec"].get("taints") or []]
        wait_for(lambda: [b["backends"] for b in lb_status(lab).values()
                          if b["address"] == ip] == [{m.ip: True for m in lab.nodes}], 20,
                 interval=0.3, what=f"{machine.ip} a healthy backend of {ip}")
        assert machine.ip in {m.ip for m in lab.nodes}

        lab_nodes.remove_node(lab, name, **quiet)
        assert name not in [meta.name(n) for n in cluster.list("nodes")["items"]]
        assert name not in [meta.name(le) for le in
                            cluster.list("leases", "kube-node-lease")["items"]]
        assert name not in [m["name"] for m in
                            json.loads(cloud.config_path(lab).read_text())["machines"]]
        assert any(e["reason"] == "DeletingNode"
                   and e["involvedObject"].get("uid") == node["metadata"]["uid"]
                   for e in cluster.list("events")["items"])
        wait_for(lambda: [b["backends"] for b in lb_status(lab).values()
                          if b["address"] == ip] == [{m.ip: True for m in lab.nodes}], 20,
                 interval=0.3, what=f"{machine.ip} off {ip}'s backends")
    finally:
        informer.stop()
        delete_service(cluster, "web-join")
        if name in lab.joined:
            lab_nodes.remove_node(lab, name, **quiet)


def taint_keys(client, name):
    return [t["key"] for t in client.get("nodes", name)["spec"].get("taints") or []]


def test_a_stopped_machine_keeps_its_node_tainted_shutdown_until_it_is_started(cluster, lab):
    """stop-node: every daemon of node2 stops, kfs lab up leaves it stopped; after the
    controller manager's 20 s grace the Node is NotReady and the cloud node lifecycle
    controller, finding the instance there but not running, taints it shutdown and does not
    delete it. start-node: Ready again, the taint removed, web-cloud's pods Ready again."""
    before = cluster.get("nodes", "node2")["metadata"]["uid"]
    start = time.monotonic()
    stopped = lab_nodes.stop_node(lab, "node2", **quiet)
    try:
        assert {"kubelet", "proxy", "flanneld", "dockerd", "containerd"} <= set(stopped)
        assert {m["name"]: m["running"] for m in json.loads(
            cloud.config_path(lab).read_text())["machines"]}["node2"] is False
        lab.up(stage="cloud", **quiet)              # a repair does not start it again
        node2 = lab.machine("node2")
        assert node2.stopped and supervisor.pid_of(node2.dockerd()) is None
        assert supervisor.pid_of(kubelet.daemon(lab, node2)) is None
        wait_for(lambda: SHUTDOWN in taint_keys(cluster, "node2"), 60, interval=0.5,
                 what="node2 tainted shutdown by the cloud-controller-manager")
        assert time.monotonic() - start < 20 + 5 + 30
        node = cluster.get("nodes", "node2")
        assert node["metadata"]["uid"] == before                 # the same Node: not deleted
        assert not meta.condition_true(node, "Ready")
        assert not any(e["reason"] == "DeletingNode" and e["involvedObject"].get("uid") == before
                       for e in cluster.list("events")["items"])
    finally:
        lab_nodes.start_node(lab, "node2", **quiet)
    assert not lab.machine("node2").stopped
    wait_for(lambda: SHUTDOWN not in taint_keys(cluster, "node2"), 20, interval=0.5,
             what="the shutdown taint off node2")
    node = cluster.get("nodes", "node2")
    assert node["metadata"]["uid"] == before and meta.condition_true(node, "Ready")

    def web_ready():
        pods = cluster.list("pods", "default", label_selector=LABEL)["items"]
        return sum(meta.condition_true(p, "Ready") and not p["metadata"].get("deletionTimestamp")
                   for p in pods) >= 4
    wait_for(web_ready, 90, interval=0.5, what="web-cloud's 4 pods Ready again")


def test_a_machine_removed_from_the_lab_loses_its_node_within_the_grace(cluster, lab):
    """Runs last: node2 goes and comes back (grace: the controller manager's 20 s
    --node-monitor-grace-period, then the cloud's 5 s --node-monitor-period)."""
    start = time.monotonic()
    lab.up(nodes=1, **quiet)                        # the IaaS deletes the instance
    assert "node2" not in [m["name"] for m in json.loads(cloud.config_path(lab).read_text())
                           ["machines"]]
    try:
        wait_for(lambda: "node2" not in [meta.name(n) for n in cluster.list("nodes")["items"]],
                 60, interval=0.5, what="node2's Node deleted by the cloud-controller-manager")
        assert time.monotonic() - start < 20 + 5 + 30
        events = cluster.list("events")["items"]
        assert any(e["reason"] == "DeletingNode" and e["involvedObject"]["name"] == "node2"
                   for e in events)
        wait_for(lambda: all(list(b["backends"]) == [lab.nodes[0].ip]
                             for b in lb_status(lab).values()), 15, interval=0.3,
                 what="the load balancers pointing at node1 only")
    finally:
        lab.up(nodes=2, **quiet)                    # node2 again: a new instance
    node2 = cluster.get("nodes", "node2")
    assert node2["spec"]["providerID"] == f"kfs://{lab.name}/node2"
    assert UNINITIALIZED not in [t["key"] for t in node2["spec"].get("taints") or []]
