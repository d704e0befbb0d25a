"""The vxlan backend on a fake kernel: the device, and per remote node the neighbour, the
FDB entry and the route, in upstream's order; a changed VtepMAC; removal; a failed step."""
import ipaddress

import pytest

from kfs.flannel.config import ConfigError, parse_config
from kfs.flannel.ip import lookup_ext_iface
from kfs.flannel.lease import ADDED, REMOVED, Event, Lease, LeaseAttrs
from kfs.flannel.local_manager import LocalManager
from kfs.flannel.netlink import Route
from kfs.flannel.vxlan import (VXLANBackend, VXLANDeviceAttrs, ensure_link, new_hardware_addr,
                               parse_vxlan_config)
from kfs.flannel.vxlan_network import plan_added, plan_removed
from tests.unit.flannel_fakes import CONFIG, FakeNetlink, FakeRegistry

MAC2, MAC3 = "7a:00:00:00:00:02", "7a:00:00:00:00:03"
IX = 10


def remote(subnet="10.244.2.0/24", ip="192.168.56.12", mac=MAC2):
    return Lease(ipaddress.IPv4Network(subnet), LeaseAttrs(ip, "vxlan", {"VNI": 1, "VtepMAC": mac}))


def test_a_remote_lease_is_a_neighbour_then_an_fdb_entry_then_a_route():
    assert plan_added(remote(), IX) == [
        ("neigh_set", IX, "10.244.2.0", MAC2),
        ("fdb_set", IX, MAC2, "192.168.56.12"),
        ("route_replace", Route(ipaddress.IPv4Network("10.244.2.0/24"), "10.244.2.0", IX, True))]


def test_a_removed_lease_takes_its_three_entries_away():
    assert [s[0] for s in plan_removed(remote(), IX)] == ["neigh_del", "fdb_del", "route_del"]
    assert plan_removed(remote(), IX)[1] == ("fdb_del", IX, MAC2, "192.168.56.12")


def test_a_new_vtep_mac_first_drops_the_old_fdb_entry():
    steps = plan_added(remote(mac=MAC3), IX, known=remote())
    assert steps[0] == ("fdb_del", IX, MAC2, "192.168.56.12")
    assert steps[1:] == plan_added(remote(mac=MAC3), IX)
    assert plan_added(remote(), IX, known=remote()) == plan_added(remote(), IX)


def setup_backend(nl=None, config=CONFIG):
    nl = nl or FakeNetlink()
    reg = FakeRegistry(config=config)
    m = LocalManager(reg, clock=reg.clock)
    ext = lookup_ext_iface(nl, ["192.168.56.11"])
    network = VXLANBackend(m, ext, nl).register_network(m.get_network_config())
    return nl, reg, m, network


def test_the_device_is_flannel_1_vni_1_port_8472_nolearning_from_the_nodes_address():
    nl, reg, m, network = setup_backend()
    dev = nl.link("flannel.1")
    assert dev.vxlan == {"id": 1, "local": "192.168.56.11", "port": 8472, "link": 2,
                         "learning": False}
    assert dev.mtu == 1450 and network.mtu == 1450 and dev.up
    assert nl.addresses(dev.index) == [ipaddress.IPv4Interface(f"{m.lease.subnet[0]}/32")]
    assert reg.kvs[m.lease.subnet][0].backend_data == {"VNI": 1, "VtepMAC": dev.mac}


def test_an_existing_compatible_device_is_kept_with_its_mac_and_a_stale_address_goes():
    nl = FakeNetlink()
    old = nl.add_vxlan("flannel.1", 1, 8472, "192.168.56.11", 2, 1450, MAC3)
    nl.addrs[old.index].append(ipaddress.IPv4Interface("10.244.77.0/32"))
    nl, reg, m, network = setup_backend(nl)
    assert network.dev.index == old.index and network.dev.mac == MAC3
    assert nl.addresses(old.index) == [ipaddress.IPv4Interface(f"{m.lease.subnet[0]}/32")]


def test_an_incompatible_device_is_recreated():
    nl = FakeNetlink()
    old = nl.add_vxlan("flannel.1", 1, 8472, "192.168.56.99", 2, 1450, MAC3)
    want = VXLANDeviceAttrs("flannel.1", 1, 1450, 2, "192.168.56.11", 8472)
    dev = ensure_link(nl, want)
    assert ("delete_link", old.index) in nl.calls and dev.vxlan["local"] == "192.168.56.11"


def test_a_generated_mac_is_unicast_and_locally_administered():
    mac = new_hardware_addr(lambda n: bytes([0xFF] * n))
    assert mac == "fe:ff:ff:ff:ff:ff"
    assert int(new_hardware_addr().split(":")[0], 16) & 0x03 == 0x02


def test_events_program_the_kernel_and_removal_cleans_it():
    nl, reg, m, network = setup_backend()
    index = network.dev.index
    network.handle_subnet_events([Event(ADDED, remote()),
                                  Event(ADDED, remote("10.244.3.0/24", "192.168.56.13", MAC3))])
    assert nl.neighs == {(index, "10.244.2.0", MAC2), (index, "10.244.3.0", MAC3)}
    assert nl.fdbs == {(index, MAC2, "192.168.56.12"), (index, MAC3, "192.168.56.13")}
    assert {str(r.dst) for r in nl.routes(index)} == {"10.244.2.0/24", "10.244.3.0/24"}
    network.handle_subnet_events([Event(REMOVED, remote())])
    assert nl.neighs == {(index, "10.244.3.0", MAC3)}
    assert nl.fdbs == {(index, MAC3, "192.168.56.13")}
    assert {str(r.dst) for r in nl.routes(index)} == {"10.244.3.0/24"}


def test_a_node_with_a_new_device_leaves_no_stale_fdb_entry():
    nl, reg, m, network = setup_backend()
    index = network.dev.index
    network.handle_subnet_events([Event(ADDED, remote())])
    network.handle_subnet_events([Event(ADDED, remote(mac=MAC3))])
    assert nl.fdbs == {(index, MAC3, "192.168.56.12")}
    assert nl.neighs == {(index, "10.244.2.0", MAC3)}


def test_a_failed_fdb_entry_takes_the_neighbour_back_and_adds_no_route():
    nl, reg, m, network = setup_backend()
    nl.fail.add("fdb_set")
    network.handle_subnet_events([Event(ADDED, remote())])
    assert nl.neighs == set() and nl.fdbs == set() and nl.routes(network.dev.index) == []
    network.handle_subnet_events([Event(ADDED, remote())])     # the next try works
    assert len(nl.routes(network.dev.index)) == 1


def test_non_vxlan_leases_and_leases_without_a_mac_are_ignored():
    nl, reg, m, network = setup_backend()
    hostgw = Lease(ipaddress.IPv4Network("10.244.5.0/24"), LeaseAttrs("192.168.56.15", "host-gw"))
    nomac = Lease(ipaddress.IPv4Network("10.244.6.0/24"), LeaseAttrs("192.168.56.16", "vxlan", {}))
    before = list(nl.calls)
    network.handle_subnet_events([Event(ADDED, hostgw), Event(ADDED, nomac),
                                  Event(REMOVED, hostgw)])
    assert nl.calls == before


def test_the_backend_config_takes_upstreams_options():
    assert parse_vxlan_config({"Type": "vxlan"}, 1500) == parse_vxlan_config(
        {"type": "vxlan", "VNI": 1, "Port": 8472, "MTU": 1500}, 9000)
    cfg = parse_vxlan_config({"Type": "vxlan", "vni": 4, "port": 4789, "mtu": 1400}, 1500)
    assert (cfg.vni, cfg.port, cfg.mtu) == (4, 4789, 1400)


@pytest.mark.parametrize("backend,field", [({"VNI": "one"}, "VNI"), ({"VNI": 1 << 24}, "VNI"),
                                           ({"Port": -1}, "Port"),
                                           ({"DirectRouting": True}, "directrouting")])
def test_a_bad_backend_option_is_refused_naming_it(backend, field):
    with pytest.raises(ConfigError, match=field):
        parse_vxlan_config({"Type": "vxlan", **backend}, 1500)


def test_a_vni_from_the_config_names_the_device():
    nl, reg, m, network = setup_backend(config=CONFIG.replace('"vxlan"', '"vxlan", "VNI": 7'))
    assert network.dev.name == "flannel.7" and network.dev.vxlan["id"] == 7
    assert parse_config(reg.config).backend["VNI"] == 7
