"""``kfs flanneld`` for real (root, no lab): two throwaway nodes, a real etcd, real vxlan.

Two network namespaces (``kfs-flanneltest-a``, ``-b``) joined by a bridge, a TLS etcd on
the host end of that network, and one ``kfs flanneld`` process per node, each leasing its
own subnet. Checked with the real ``ip``, ``bridge`` and ``iptables-save``: the device
and its attributes, each node's neighbour/FDB/route to the other, a ping between the two
nodes' "docker0" addresses through the tunnel, a killed flanneld that changes nothing
and a restarted one that keeps its subnet, a deleted lease whose routes are gone within
seconds; the same for host-gw; and ``--cleanup``.
"""
import ipaddress
import json
import os
import signal
from types import SimpleNamespace

import pytest
from etcd3 import etcdrpc

from kfs.flannel import main
from kfs.flannel.iptables import TrafficManager, forward_rules, masq_rules
from kfs.flannel.netlink import Netlink
from kfs.iptables import Iptables
from kfs.storage.codec import prefix_end
from kfs.util import wait_for
from tests.integration.flannel_etcd import start_flannel_etcd
from tests.integration.flannel_netns import (HOST_IP, NODES, Flanneld, Topology, cleanup,
                                             ip_json, netns, prefix, sh)

pytestmark = pytest.mark.root
NETWORK = "10.244.0.0/16"


@pytest.fixture(scope="module")
def topology():
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces, vxlan, iptables)")
    topo = Topology().create()
    yield topo
    topo.remove()


@pytest.fixture(scope="module")
def etcd(topology, tmp_path_factory):
    plane = start_flannel_etcd(tmp_path_factory.mktemp("flannel-netns-etcd"), host=HOST_IP)
    yield plane
    plane.stop(remove=True)


def put_config(etcd, prefix_, backend):
    reg = etcd.registry(prefix_)
    value = f'{{"Network": "{NETWORK}", "SubnetLen": 24, "Backend": {{"Type": "{backend}"}}}}'
    reg.kv.Put(etcdrpc.PutRequest(key=f"{prefix_}/config".encode(), value=value.encode()))
    return reg


@pytest.fixture
def cluster(etcd, tmp_path, request):
    """Start flanneld on both nodes for the backend named by the test's parameter."""
    backend = request.param
    pfx = f"/kfs-{backend}/network"
    reg = put_config(etcd, pfx, backend)
    flags = etcd.flags(pfx) + ["--ip-masq", "--subnet-lease-ttl", "30s",
                               "--subnet-lease-renew-margin", "0.25"]
    daemons = {n: Flanneld(n, tmp_path, flags).start(wait=False) for n in NODES}
    for d in daemons.values():
        d.wait_started()
    for node in daemons:   # a daemon's own subnet file is written before it sees the others'
        others = {str(d.subnet()) for n, d in daemons.items() if n != node}
        wait_for(lambda: others <= {r["dst"] for r in ip_json(node, "route", "show")}, 15,
                 what=f"{node}'s routes to the other nodes' subnets")
    yield backend, daemons, reg, flags
    for node, d in daemons.items():
        d.stop()
        nl = Netlink(netns=netns(node))
        main.cleanup(SimpleNamespace(subnet_file=d.subnet_file), nl, Iptables(prefix(node)))
        nl.close()
    reg.kv.DeleteRange(etcdrpc.DeleteRangeRequest(key=pfx.encode(), range_end=prefix_end(pfx)))
    reg.close()


def routes(node, dev):
    return {r["dst"]: r for r in ip_json(node, "route", "show", "dev", dev)}


def ping(src_node, src, dst, within=10):
    """Does `dst` answer from `src` within `within` seconds? (The first packets of a new
    path may be lost while the neighbours are resolved, more so on a loaded machine.)"""
    def answered():
        return sh(*prefix(src_node), "busybox", "ping", "-c", "1", "-W", "1", "-I", src, dst,
                  check=False).returncode == 0
    try:
        return wait_for(answered, within, interval=0.2, what=f"{dst} answering {src}")
    except TimeoutError:
        return False


def pods(daemons, topology):
    return {n: topology.pod_address(n, d.subnet()) for n, d in daemons.items()}


@pytest.mark.parametrize("cluster", ["vxlan"], indirect=True)
def test_vxlan_device_entries_tunnel_and_rules(cluster, topology):
    backend, daemons, reg, flags = cluster
    subnets = {n: d.subnet() for n, d in daemons.items()}
    assert subnets["a"] != subnets["b"] and all(
        s.subnet_of(ipaddress.IPv4Network(NETWORK)) for s in subnets.values())
    assert daemons["a"].subnet_file.read_text().splitlines()[2:] == \
        ["FLANNEL_MTU=1450", "FLANNEL_IPMASQ=true"]
    dev = ip_json("a", "-d", "addr", "show", "flannel.1")[0]
    info = dev["linkinfo"]["info_data"]
    assert (info["id"], info["port"], info["local"], info["learning"]) == \
        (1, 8472, NODES["a"], False)
    assert dev["mtu"] == 1450
    assert [(x["local"], x["prefixlen"]) for x in dev["addr_info"] if x["family"] == "inet"] \
        == [(str(subnets["a"].network_address), 32)]
    mac_b = ip_json("b", "link", "show", "flannel.1")[0]["address"]
    b0 = str(subnets["b"].network_address)
    neigh = ip_json("a", "neigh", "show", "dev", "flannel.1")
    assert {"dst": b0, "lladdr": mac_b, "state": ["PERMANENT"]} in \
        [{k: n.get(k) for k in ("dst", "lladdr", "state")} for n in neigh]
    fdb = [(f["mac"], f.get("dst")) for f in
           json.loads(sh("bridge", "-n", netns("a"), "-j", "fdb", "show", "dev",
                                       "flannel.1").stdout)]
    assert (mac_b, NODES["b"]) in fdb
    route = routes("a", "flannel.1")[str(subnets["b"])]
    assert route["gateway"] == b0 and "onlink" in route["flags"]

    addr = pods(daemons, topology)
    assert ping("a", addr["a"], addr["b"]) and ping("b", addr["b"], addr["a"])
    stats = ip_json("a", "-s", "link", "show", "flannel.1")[0]["stats64"]["tx"]["packets"]
    assert stats > 0                                      # the pings went through the tunnel

    ipt = Iptables(prefix("a"))
    tm = TrafficManager(ipt)
    tm.rules = masq_rules(NETWORK, subnets["a"], ipt.has_random_fully()) + forward_rules(NETWORK)
    assert tm.in_sync()          # iptables-save shows exactly the rules flanneld rendered


@pytest.mark.parametrize("cluster", ["vxlan"], indirect=True)
def test_a_killed_flanneld_changes_nothing_and_restarted_keeps_its_subnet(cluster, topology):
    backend, daemons, reg, flags = cluster
    addr = pods(daemons, topology)
    before = daemons["b"].subnet()
    daemons["b"].stop(signal.SIGKILL)
    assert ping("a", addr["a"], addr["b"])                # its lease outlives it
    daemons["b"].start()
    assert daemons["b"].subnet() == before
    assert [str(x.subnet) for x in reg.get_subnets()[0]].count(str(before)) == 1
    assert ping("a", addr["a"], addr["b"])


@pytest.mark.parametrize("cluster", ["vxlan"], indirect=True)
def test_a_deleted_lease_takes_its_entries_away_within_seconds(cluster, topology):
    backend, daemons, reg, flags = cluster
    subnet_b = daemons["b"].subnet()
    assert str(subnet_b) in routes("a", "flannel.1")
    reg.delete_subnet(subnet_b)
    wait_for(lambda: str(subnet_b) not in routes("a", "flannel.1"), 5,
             what="the route to b's subnet gone")
    b0 = str(subnet_b.network_address)
    assert b0 not in [n["dst"] for n in ip_json("a", "neigh", "show", "dev", "flannel.1")]
    assert daemons["b"].proc.wait(15) == 1                # its own lease revoked: it stops
    assert "has been revoked" in daemons["b"].text()


@pytest.mark.parametrize("cluster", ["host-gw"], indirect=True)
def test_host_gw_routes_via_the_other_node_without_a_device(cluster, topology):
    backend, daemons, reg, flags = cluster
    subnets = {n: d.subnet() for n, d in daemons.items()}
    assert ip_json("a", "link", "show", "type", "vxlan") == []
    assert daemons["a"].subnet_file.read_text().splitlines()[2] == "FLANNEL_MTU=1500"
    route = routes("a", "eth0")[str(subnets["b"])]
    assert route["gateway"] == NODES["b"]
    addr = pods(daemons, topology)
    assert ping("a", addr["a"], addr["b"]) and ping("b", addr["b"], addr["a"])
    reg.delete_subnet(subnets["b"])
    wait_for(lambda: str(subnets["b"]) not in routes("a", "eth0"), 5,
             what="the host-gw route gone")


@pytest.mark.parametrize("cluster", ["vxlan"], indirect=True)
def test_cleanup_removes_the_device_and_the_rules(cluster):
    backend, daemons, reg, flags = cluster
    daemons["a"].stop()
    assert cleanup("a", daemons["a"].subnet_file).returncode == 0
    assert ip_json("a", "link", "show", "type", "vxlan") == []
    for table in ("nat", "filter"):
        assert "FLANNEL" not in sh(*prefix("a"), "iptables-save", "-t", table).stdout
