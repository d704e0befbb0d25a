"""The host-gw backend on a fake kernel: a route per remote node via its address, put back
if it goes missing; no NAT."""
import ipaddress

import pytest

from kfs.flannel.hostgw import HostGWBackend
from kfs.flannel.ip import ExternalInterface, lookup_ext_iface
from kfs.flannel.lease import ADDED, REMOVED, Event, Lease, LeaseAttrs
from kfs.flannel.local_manager import LocalManager
from kfs.flannel.netlink import Route
from tests.unit.flannel_fakes import CONFIG, FakeNetlink, FakeRegistry

HOSTGW = CONFIG.replace('"vxlan"', '"host-gw"')


def remote(subnet, ip, backend="host-gw"):
    return Lease(ipaddress.IPv4Network(subnet), LeaseAttrs(ip, backend))


def setup():
    nl, reg = FakeNetlink(), FakeRegistry(config=HOSTGW)
    m = LocalManager(reg, clock=reg.clock)
    network = HostGWBackend(m, lookup_ext_iface(nl), nl).register_network(m.get_network_config())
    return nl, reg, m, network


def test_the_lease_says_host_gw_and_the_pods_keep_the_whole_mtu():
    nl, reg, m, network = setup()
    assert reg.kvs[m.lease.subnet][0] == LeaseAttrs("192.168.56.11", "host-gw")
    assert network.mtu == 1500
    assert nl.link("flannel.1") is None


def test_each_remote_subnet_is_routed_via_its_node_and_unrouted_when_it_goes():
    nl, reg, m, network = setup()
    network.handle_subnet_events([Event(ADDED, remote("10.244.2.0/24", "192.168.56.12")),
                                  Event(ADDED, remote("10.244.3.0/24", "192.168.56.13"))])
    assert set(nl.routes()) == {
        Route(ipaddress.IPv4Network("10.244.2.0/24"), "192.168.56.12", 2),
        Route(ipaddress.IPv4Network("10.244.3.0/24"), "192.168.56.13", 2)}
    network.handle_subnet_events([Event(REMOVED, remote("10.244.2.0/24", "192.168.56.12"))])
    assert [str(r.dst) for r in nl.routes()] == ["10.244.3.0/24"]


def test_a_route_to_the_same_subnet_via_another_node_is_replaced():
    nl, reg, m, network = setup()
    network.handle_subnet_events([Event(ADDED, remote("10.244.2.0/24", "192.168.56.12"))])
    network.handle_subnet_events([Event(ADDED, remote("10.244.2.0/24", "192.168.56.22"))])
    assert [r.gw for r in nl.routes()] == ["192.168.56.22"]
    assert network.routes == nl.routes()


def test_a_route_deleted_by_hand_is_put_back_by_the_route_check():
    nl, reg, m, network = setup()
    network.handle_subnet_events([Event(ADDED, remote("10.244.2.0/24", "192.168.56.12"))])
    nl.route_table.clear()
    network.check_routes()
    assert [r.gw for r in nl.routes()] == ["192.168.56.12"]


def test_vxlan_leases_are_ignored():
    nl, reg, m, network = setup()
    network.handle_subnet_events([Event(ADDED, remote("10.244.2.0/24", "192.168.56.12", "vxlan"))])
    assert nl.routes() == []


def test_a_public_ip_other_than_the_interfaces_is_refused():
    ext = ExternalInterface(2, "eth0", 1500, "192.168.56.11", "203.0.113.7")
    with pytest.raises(ValueError, match="NAT"):
        HostGWBackend(None, ext, FakeNetlink())
