"""flannel in the lab for real: stage ``flannel`` (etcd leases, ``kfs flanneld`` on node1
and node2, each node's Docker restarted with ``--bip``), checked from etcd, the machines'
kernels and their pods.

Two pods (``kfs/echo:1``, answering ``hostname=... ip=... client=...``) are made at stage
``proxy``, one per node, before flannel runs: both get 172.17.0.2, the talk's problem.
Then the lab goes to stage ``flannel`` and the same pods get new addresses in their node's
subnet; commands run in the pods' containers with ``docker exec`` (through the Docker SDK),
and once through the API server with ``kubectl exec``.
The last test goes back to stage ``proxy`` and checks that everything flannel made is gone.
"""
import ipaddress
import json
import subprocess
import threading

import pytest
import requests

from kfs import images, meta
from kfs.kubelet import runtime as rt
from kfs.lab import netns, supervisor
from kfs.lab.stages import flannel
from kfs.util import wait_for

LABEL = {"test": "flannel"}
quiet = dict(progress=lambda msg: None)
NETWORK = ipaddress.ip_network(flannel.NETWORK)
NODES = ("node1", "node2")


def echo_pod(node):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"echo-{node}", "namespace": "default", "labels": dict(LABEL)},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "app", "image": "kfs/echo:1"}]}}


def pod_ip(client, node):
    return client.get("pods", f"echo-{node}", "default")["status"].get("podIP")


def wait_pod_ip(client, node, condition, timeout=90):
    def check():
        p = client.get("pods", f"echo-{node}", "default")
        ip = p["status"].get("podIP")
        running = p["status"].get("phase") == "Running" and meta.condition_true(p, "Ready")
        return ip if running and ip and condition(ipaddress.ip_address(ip)) else None
    return wait_for(check, timeout, interval=0.5, what=f"echo-{node} running with a new IP")


def delete_test_pods(client):
    for p in client.list("pods", "default", label_selector=LABEL)["items"]:
        client.delete("pods", meta.name(p), "default", grace_period_seconds=0)
    wait_for(lambda: not client.list("pods", "default", label_selector=LABEL)["items"], 60,
             what="the test pods to be gone")


@pytest.fixture(scope="module")
def cluster(lab):
    """The lab at stage flannel, with pods made before flannel ran: (client, {node: old IP})."""
    from kfs.client import Client
    lab.up(stage="proxy", **quiet)
    client = Client.from_kubeconfig(lab.admin_kubeconfig)
    wait_for(lambda: sum(meta.condition_true(n, "Ready") for n in client.list("nodes")["items"])
             >= 2, 60, what="node1 and node2 Ready")
    delete_test_pods(client)
    for node in NODES:
        client.create(echo_pod(node))
    before = {n: wait_pod_ip(client, n, lambda ip: True) for n in NODES}
    uids = {n: client.get("pods", f"echo-{n}", "default")["metadata"]["uid"] for n in NODES}
    lab.up(stage="flannel", **quiet)
    yield client, before, uids
    delete_test_pods(client)


def exec_in(lab, node, *argv, timeout=20):
    """Run argv in the echo pod's app container on `node` (docker exec); (exit code, output)."""
    m = lab.machine(node)
    [c] = m.docker().containers.list(filters={"label": [f"{rt.POD_NAME}=echo-{node}",
                                                        f"{rt.CONTAINER_NAME}=app"]})
    code, out = c.exec_run(["timeout", str(timeout), *argv])
    return code, out.decode(errors="replace")


def wget(lab, node, url):
    """busybox wget's own -T segfaults (busybox-static 1.35): `timeout` bounds it instead."""
    code, out = exec_in(lab, node, "wget", "-qO-", url, timeout=10)
    assert code == 0, f"wget {url} from echo-{node}: {out}"
    return dict(field.split("=", 1) for field in out.split())


def etcd_subnets(lab):
    out = flannel.etcdctl(lab, "get", "--prefix", f"{flannel.PREFIX}/subnets/", "-w", "json")
    import base64
    return [(base64.b64decode(kv["key"]).decode(), json.loads(base64.b64decode(kv["value"])),
             kv.get("lease", 0)) for kv in json.loads(out).get("kvs", [])]


def node_subnet(lab, node):
    return ipaddress.ip_network(flannel.subnet(lab.machine(node)), strict=False)


def ip_json(machine, *argv):
    return json.loads(machine.run(["ip", "-j", *argv], capture_output=True, text=True,
                                  check=True).stdout or "[]")


# -- the leases ------------------------------------------------------------------------------

def test_each_node_has_a_24_lease_in_etcd_bound_to_an_etcd_lease(cluster, lab):
    leases = etcd_subnets(lab)
    by_ip = {value["PublicIP"]: (key, lease) for key, value, lease in leases}
    assert set(by_ip) == {lab.machine(n).ip for n in NODES}
    for node in NODES:
        key, lease = by_ip[lab.machine(node).ip]
        subnet = node_subnet(lab, node)
        assert key == f"{flannel.PREFIX}/subnets/{subnet.network_address}-24"
        assert subnet.prefixlen == 24 and subnet.subnet_of(NETWORK)
        assert lease != 0, f"{key} is not bound to an etcd lease"
        ttl = flannel.etcdctl(lab, "lease", "timetolive", f"{lease:x}")
        assert "remaining(" in ttl and "remaining(-1" not in ttl, ttl
    assert node_subnet(lab, "node1") != node_subnet(lab, "node2")


def test_the_network_config_is_in_etcd_and_subnet_env_names_the_lease(cluster, lab):
    assert flannel.network_config(lab) == flannel.CONFIG
    for node in NODES:
        env = (flannel.subnet_file(lab.machine(node))).read_text()
        first = node_subnet(lab, node).network_address + 1
        assert f"FLANNEL_NETWORK={flannel.NETWORK}\n" in env
        assert f"FLANNEL_SUBNET={first}/24\n" in env
        assert "FLANNEL_MTU=1450\n" in env and "FLANNEL_IPMASQ=true\n" in env


def test_docker_bridge_has_the_subnets_first_address_and_the_flannel_options(cluster, lab):
    for node in NODES:
        m = lab.machine(node)
        first = node_subnet(lab, node).network_address + 1
        assert netns.addresses("docker0", m.netns) == [f"{first}/24"]
        cmd = m.dockerd().cmdfile.read_text()
        assert f"--bip={first}/24 --mtu=1450 --ip-masq=false" in cmd


def test_lab_status_lists_flanneld_and_each_nodes_subnet(cluster, lab):
    rows = {r["machine"]: r for r in lab.status()}
    for node in NODES:
        assert rows[node]["daemons"]["flanneld"] is not None
        assert rows[node]["subnet"] == flannel.subnet(lab.machine(node))
    assert "flanneld" not in rows["cp"]["daemons"] and rows["cp"]["subnet"] is None


# -- the pods --------------------------------------------------------------------------------

def test_pods_that_ran_before_flannel_share_172_17_0_2(cluster):
    client, before, uids = cluster
    assert before == {"node1": "172.17.0.2", "node2": "172.17.0.2"}


def test_the_same_pods_get_new_addresses_in_their_nodes_subnet(cluster, lab):
    client, before, uids = cluster
    for node in NODES:
        subnet = node_subnet(lab, node)
        ip = wait_pod_ip(client, node, lambda ip: ip in subnet)
        assert client.get("pods", f"echo-{node}", "default")["metadata"]["uid"] == uids[node]
        assert ip == exec_in(lab, node, "ip", "-4", "-o", "addr", "show", "eth0")[1].split()[3] \
            .split("/")[0]


def test_a_pod_on_node1_reaches_a_pod_on_node2_by_its_ip_and_back(cluster, lab):
    client = cluster[0]
    ips = {n: wait_pod_ip(client, n, lambda ip: ip in NETWORK) for n in NODES}
    for src, dst in (("node1", "node2"), ("node2", "node1")):
        code, out = exec_in(lab, src, "ping", "-c", "3", "-W", "2", ips[dst])
        assert code == 0 and " 0% packet loss" in out, out
        answer = wget(lab, src, f"http://{ips[dst]}:8080/cgi-bin/index.cgi")
        assert (answer["hostname"], answer["ip"]) == (f"echo-{dst}", ips[dst])


def test_kubectl_exec_in_a_node1_pod_gets_the_node2_pods_answer_by_its_ip(cluster, lab):
    from kfs.kubectl import kubectl
    client = cluster[0]
    ips = {n: wait_pod_ip(client, n, lambda ip: ip in NETWORK) for n in NODES}
    for src, dst in (("node1", "node2"), ("node2", "node1")):
        out = kubectl("exec", f"echo-{src}", "--", "wget", "-qO-",
                      f"http://{ips[dst]}:8080/cgi-bin/index.cgi", lab=lab, show=False)
        assert f"hostname=echo-{dst} ip={ips[dst]} client={ips[src]}" in out


def test_the_other_pod_sees_the_pods_own_address_as_source(cluster, lab):
    client = cluster[0]
    ips = {n: wait_pod_ip(client, n, lambda ip: ip in NETWORK) for n in NODES}
    answer = wget(lab, "node1", f"http://{ips['node2']}:8080/cgi-bin/index.cgi")
    assert answer["client"] == ips["node1"]      # no masquerade between pods


def test_pods_reach_addresses_outside_the_cluster_masqueraded(cluster, lab):
    cp = lab.machine("cp")
    server = cp.docker().containers.run("kfs/echo:1", images.echo_command(18080), detach=True,
                                        network_mode="host", name="flannel-test-outside")
    try:   # on cp's own network: 8080 is kfs dns's health port there
        wait_for(lambda: exec_in(lab, "node1", "wget", "-qO-", f"http://{cp.ip}:18080/",
                                 timeout=2)[0] == 0, 30,
                 interval=0.5, what="the echo server on cp")
        answer = wget(lab, "node1", f"http://{cp.ip}:18080/cgi-bin/index.cgi")
        assert answer["client"] == lab.machine("node1").ip   # the node's address, not the pod's
    finally:
        server.remove(force=True)
    code, out = exec_in(lab, "node1", "ping", "-c", "1", "-W", "3", lab.host_ip)
    assert code == 0, out


# -- Services across nodes -------------------------------------------------------------------

@pytest.fixture
def echo_service(cluster):
    """A NodePort Service over the two echo pods, one on each node."""
    client = cluster[0]
    svc = client.create({"apiVersion": "v1", "kind": "Service",
                         "metadata": {"name": "flannel-echo", "namespace": "default"},
                         "spec": {"type": "NodePort", "selector": dict(LABEL),
                                  "ports": [{"port": 80, "targetPort": 8080}]}})
    for node in NODES:
        wait_pod_ip(client, node, lambda ip: ip in NETWORK)
    yield svc
    client.delete("services", "flannel-echo", "default")


def from_host(url):
    """The answering pod's name, for one request on a new connection from the host."""
    try:
        r = requests.get(url, timeout=2, headers={"Connection": "close"})
        return dict(field.split("=", 1) for field in r.text.split()).get("hostname")
    except (requests.RequestException, ValueError):
        return None


def from_pod(lab, node, url):
    """The answering pod's name, for one request from the echo pod on `node`."""
    code, out = exec_in(lab, node, "wget", "-qO-", url, timeout=3)
    return dict(field.split("=", 1) for field in out.split()).get("hostname") if code == 0 \
        else None


def answered_by_both_nodes(get, where):
    """Requests (12 a round, for at most 30 s) until the pods of both nodes answered."""
    seen = set()

    def both():
        seen.update(get() for _ in range(12))
        return {f"echo-{n}" for n in NODES} <= seen
    wait_for(both, 30, interval=0.2, what=f"answers from both nodes' pods {where}")
    return seen - {None}


def test_a_node_port_on_either_node_is_answered_by_the_pods_on_both_nodes(cluster, lab,
                                                                          echo_service):
    port = echo_service["spec"]["ports"][0]["nodePort"]
    for node in NODES:
        url = f"http://{lab.machine(node).ip}:{port}/"
        assert answered_by_both_nodes(lambda: from_host(url), f"at {url}") == {
            "echo-node1", "echo-node2"}


def test_the_cluster_ip_is_answered_by_the_pods_on_both_nodes_from_a_pod_on_either(
        cluster, lab, echo_service):
    url = f"http://{echo_service['spec']['clusterIP']}/"
    for node in NODES:
        assert answered_by_both_nodes(lambda: from_pod(lab, node, url),
                                      f"at {url} from echo-{node}") == {"echo-node1",
                                                                       "echo-node2"}


# -- vxlan -----------------------------------------------------------------------------------

def test_flannel_1_is_a_vxlan_device_with_vni_1_on_udp_8472(cluster, lab):
    for node in NODES:
        m = lab.machine(node)
        [dev] = ip_json(m, "-d", "link", "show", "flannel.1")
        info = dev["linkinfo"]["info_data"]
        assert dev["linkinfo"]["info_kind"] == "vxlan"
        assert (info["id"], info["port"], info["local"]) == (1, 8472, m.ip)
        assert not info.get("learning", False) and dev["mtu"] == 1450
        subnet = node_subnet(lab, node)
        assert f"{subnet.network_address}/32" in netns.addresses("flannel.1", m.netns)


def test_each_node_routes_the_other_subnet_through_flannel_1_with_neighbour_and_fdb(cluster,
                                                                                     lab):
    for node, other in (("node1", "node2"), ("node2", "node1")):
        m, o = lab.machine(node), lab.machine(other)
        remote = node_subnet(lab, other)
        [route] = [r for r in ip_json(m, "route", "show", "dev", "flannel.1")
                   if r["dst"] == str(remote)]
        assert route["gateway"] == str(remote.network_address) and "onlink" in route["flags"]
        [remote_dev] = ip_json(o, "link", "show", "flannel.1")
        neigh = ip_json(m, "neigh", "show", "dev", "flannel.1")
        assert [(n["dst"], n["lladdr"]) for n in neigh] == [
            (str(remote.network_address), remote_dev["address"])]
        fdb = json.loads(m.run(["bridge", "-j", "fdb", "show", "dev", "flannel.1"],
                               capture_output=True, text=True, check=True).stdout)
        assert [(f["mac"], f["dst"]) for f in fdb] == [(remote_dev["address"], o.ip)]


def test_a_request_between_pods_crosses_the_lab_bridge_as_udp_8472(cluster, lab):
    client = cluster[0]
    ips = {n: wait_pod_ip(client, n, lambda ip: ip in NETWORK) for n in NODES}
    # 8472 is flannel's (the Linux kernel's) vxlan port, IANA's is 4789: -T vxlan decodes it
    dump = subprocess.Popen(["tcpdump", "-n", "-l", "-T", "vxlan", "-i", lab.bridge, "-c", "4",
                             "udp", "port", "8472"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(dump.stdout), daemon=True)
    reader.start()
    try:
        def captured():
            exec_in(lab, "node1", "ping", "-c", "1", "-W", "1", ips["node2"])
            return len(lines) >= 4
        wait_for(captured, 30, interval=0.5, what="tcpdump to see vxlan packets")
    finally:
        dump.kill()
        dump.wait()
    node1, node2 = lab.machine("node1").ip, lab.machine("node2").ip
    text = "\n".join(lines)
    assert f"{node1}." in text and f"{node2}.8472" in text, text
    assert "VXLAN" in text and "vni 1" in text, text
    assert f"{ips['node1']} > {ips['node2']}: ICMP echo request" in text, text


# -- idempotence and down --------------------------------------------------------------------

def test_lab_up_again_at_stage_flannel_changes_nothing(cluster, lab):
    def pids():
        return {n: (supervisor.pid_of(flannel.daemon(lab, lab.machine(n))),
                    supervisor.pid_of(lab.machine(n).dockerd())) for n in NODES}
    before, subnets = pids(), {n: flannel.subnet(lab.machine(n)) for n in NODES}
    lab.up(stage="flannel", **quiet)
    assert pids() == before
    assert {n: flannel.subnet(lab.machine(n)) for n in NODES} == subnets


def test_going_back_to_stage_proxy_removes_flannel_and_puts_docker_on_172_17(cluster, lab):
    client = cluster[0]
    lab.up(stage="proxy", **quiet)
    for node in NODES:
        m = lab.machine(node)
        assert netns.link("flannel.1", m.netns) is None
        assert not [r for r in ip_json(m, "route") if r["dst"].startswith("10.244.")
                    and r.get("dev") != "docker0"]
        assert "FLANNEL" not in m.run(["iptables-save"], capture_output=True, text=True).stdout
        assert not flannel.subnet_file(m).exists()
        assert netns.addresses("docker0", m.netns) == ["172.17.0.1/16"]
        assert "--bip" not in m.dockerd().cmdfile.read_text()
        assert supervisor.pid_of(flannel.daemon(lab, m)) is None
    assert flannel.etcdctl(lab, "get", "--prefix", f"{flannel.PREFIX}/", "--keys-only") \
        .strip() == ""
    for node in NODES:
        assert wait_pod_ip(client, node, lambda ip: ip in ipaddress.ip_network("172.17.0.0/16"))
