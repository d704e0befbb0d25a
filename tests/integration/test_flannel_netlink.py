"""The netlink adapter against the real kernel (root): each call in a throwaway namespace,
checked with the real ``ip`` and ``bridge`` commands, and read back through the adapter."""
import errno
import ipaddress
import json
import os
import subprocess

import pytest

from kfs.flannel.netlink import Netlink, NetlinkError, Route

pytestmark = pytest.mark.root
NS = f"kfs-flanneltest-nl{os.getpid()}"
MAC = "7a:00:00:00:00:02"


def ip(*args, tool="ip"):
    out = subprocess.run([tool, "-n", NS, "-j", *args], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out or "[]")


@pytest.fixture
def nl():
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces)")
    subprocess.run(["ip", "netns", "add", NS], check=True)
    subprocess.run(["ip", "-n", NS, "link", "add", "eth0", "type", "veth", "peer", "name",
                    "peer0"], check=True)
    adapter = Netlink(netns=NS)
    try:
        yield adapter
    finally:
        adapter.close()
        subprocess.run(["ip", "netns", "del", NS])


def test_a_vxlan_device_its_address_and_its_entries_as_ip_and_bridge_show_them(nl):
    eth0 = nl.link("eth0")
    nl.add_address(eth0.index, "192.168.213.1/24")
    nl.set_up(eth0.index)
    assert nl.link_by_address("192.168.213.1") == nl.link("eth0")
    dev = nl.add_vxlan("flannel.1", 1, 8472, "192.168.213.1", eth0.index, 1450,
                       "7a:00:00:00:00:01")
    assert dev.vxlan == {"id": 1, "local": "192.168.213.1", "port": 8472, "link": eth0.index,
                         "learning": False} and dev.mtu == 1450
    with pytest.raises(NetlinkError) as e:
        nl.add_vxlan("flannel.1", 1, 8472, "192.168.213.1", eth0.index, 1450, MAC)
    assert e.value.errno == errno.EEXIST
    nl.add_address(dev.index, "10.244.1.0/32")
    nl.set_up(dev.index)
    assert nl.addresses(dev.index) == [ipaddress.IPv4Interface("10.244.1.0/32")]

    nl.neigh_set(dev.index, "10.244.2.0", MAC)
    nl.fdb_set(dev.index, MAC, "192.168.213.2")
    route = Route(ipaddress.IPv4Network("10.244.2.0/24"), "10.244.2.0", dev.index, onlink=True)
    nl.route_replace(route)
    assert [(n["dst"], n["lladdr"], n["state"]) for n in ip("neigh", "show", "dev", "flannel.1")] \
        == [("10.244.2.0", MAC, ["PERMANENT"])]
    assert [(f["mac"], f["dst"]) for f in ip("fdb", "show", "dev", "flannel.1", tool="bridge")
            if f.get("dst")] == [(MAC, "192.168.213.2")]
    shown = ip("route", "show", "dev", "flannel.1")
    assert [(r["dst"], r["gateway"], "onlink" in r["flags"]) for r in shown] == \
        [("10.244.2.0/24", "10.244.2.0", True)]
    assert nl.neighbours(dev.index) == [("10.244.2.0", MAC)]
    assert nl.fdb(dev.index) == [(MAC, "192.168.213.2")]
    assert route in nl.routes(dev.index)

    for _ in range(2):   # deleting twice is not an error
        nl.route_del(route)
        nl.fdb_del(dev.index, MAC, "192.168.213.2")
        nl.neigh_del(dev.index, "10.244.2.0", MAC)
    assert ip("route", "show", "dev", "flannel.1") == []
    assert nl.neighbours(dev.index) == [] and nl.fdb(dev.index) == []
    nl.delete_link(dev.index)
    nl.delete_link(dev.index)
    assert nl.link("flannel.1") is None


def test_the_default_route_names_the_external_interface(nl):
    eth0 = nl.link("eth0")
    nl.add_address(eth0.index, "192.168.213.1/24")
    nl.set_up(eth0.index)
    assert nl.default_route_index() is None
    nl.route_replace(Route(ipaddress.IPv4Network("0.0.0.0/0"), "192.168.213.254", eth0.index))
    assert nl.default_route_index() == eth0.index
