"""Subnet keys in etcd and subnet.env, the file Docker's --bip is read from."""
import ipaddress
import os
import stat

from kfs.flannel.subnet import (make_subnet_key, parse_subnet_key, read_cidr, read_subnet_file,
                                write_subnet_file)

SUBNET = ipaddress.IPv4Network("10.244.1.0/24")


def test_a_subnet_key_is_the_subnet_with_a_dash_and_parses_back():
    assert make_subnet_key(SUBNET) == "10.244.1.0-24"
    assert parse_subnet_key("/coreos.com/network/subnets/10.244.1.0-24") == SUBNET
    assert parse_subnet_key("/coreos.com/network/subnets/10.244.1.0-24&fd00::-64") == SUBNET


def test_a_key_that_names_no_subnet_parses_to_none():
    for key in ("/coreos.com/network/config", "/coreos.com/network/subnets/x-24",
                "/coreos.com/network/subnets/10.244.1.0-99"):
        assert parse_subnet_key(key) is None


def test_subnet_env_has_the_network_the_first_usable_address_the_mtu_and_ipmasq(tmp_path):
    path = tmp_path / "run" / "flannel" / "subnet.env"
    write_subnet_file(path, ipaddress.IPv4Network("10.244.0.0/16"), SUBNET, 1450, True)
    assert path.read_text() == ("FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\n"
                                "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert os.listdir(path.parent) == ["subnet.env"]   # no temporary file left behind


def test_subnet_env_is_replaced_whole_never_appended(tmp_path):
    path = tmp_path / "subnet.env"
    write_subnet_file(path, "10.244.0.0/16", SUBNET, 1450, True)
    write_subnet_file(path, "10.244.0.0/16", "10.244.7.0/24", 1500, False)
    assert read_subnet_file(path) == {"FLANNEL_NETWORK": "10.244.0.0/16",
                                      "FLANNEL_SUBNET": "10.244.7.1/24", "FLANNEL_MTU": "1500",
                                      "FLANNEL_IPMASQ": "false"}


def test_the_previous_subnet_is_read_back_as_a_network(tmp_path):
    path = tmp_path / "subnet.env"
    assert read_cidr(path, "FLANNEL_SUBNET") is None
    path.write_text('# by hand\nFLANNEL_SUBNET="10.244.3.1/24"\nFLANNEL_NETWORK=nonsense\n')
    assert read_cidr(path, "FLANNEL_SUBNET") == ipaddress.IPv4Network("10.244.3.0/24")
    assert read_cidr(path, "FLANNEL_NETWORK") is None
