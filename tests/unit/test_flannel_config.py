"""The network config in <prefix>/config: upstream's defaults, and bad configs refused with
a message naming the field."""
import ipaddress

import pytest

from kfs.flannel.config import ConfigError, parse_config


def test_the_talks_config_gives_24s_from_the_second_one_to_the_last():
    c = parse_config('{"Network": "10.244.0.0/16", "SubnetLen": 24, '
                     '"Backend": {"Type": "vxlan"}}')
    assert c.network == ipaddress.IPv4Network("10.244.0.0/16") and c.subnet_len == 24
    assert (str(c.subnet_min), str(c.subnet_max)) == ("10.244.1.0", "10.244.255.0")
    assert c.backend_type == "vxlan"


@pytest.mark.parametrize("network,subnet_len", [("10.244.0.0/16", 24), ("10.0.0.0/22", 24),
                                                ("10.0.0.0/24", 26), ("10.0.0.0/28", 30)])
def test_without_subnetlen_a_big_network_is_cut_in_24s_a_small_one_in_four(network, subnet_len):
    c = parse_config(f'{{"Network": "{network}", "Backend": {{"Type": "host-gw"}}}}')
    assert c.subnet_len == subnet_len


def test_field_names_match_in_any_case_as_gos_json_does():
    c = parse_config('{"network": "10.244.0.0/16", "subnetlen": 25, "SUBNETMIN": "10.244.4.0",'
                     ' "backend": {"type": "host-gw"}}')
    assert (c.subnet_len, str(c.subnet_min), c.backend_type) == (25, "10.244.4.0", "host-gw")


def test_contains_says_which_subnets_the_config_could_have_handed_out():
    c = parse_config('{"Network": "10.244.0.0/16", "SubnetMax": "10.244.9.0", '
                     '"Backend": {"Type": "vxlan"}}')
    assert c.contains(ipaddress.IPv4Network("10.244.9.0/24"))
    assert not c.contains(ipaddress.IPv4Network("10.244.0.0/24"))     # the network's own
    assert not c.contains(ipaddress.IPv4Network("10.244.10.0/24"))    # past SubnetMax
    assert not c.contains(ipaddress.IPv4Network("10.244.2.0/25"))     # another length


@pytest.mark.parametrize("text,field", [
    ("not json", "not JSON"),
    ("[1]", "JSON object"),
    ('{"Backend": {"Type": "vxlan"}}', "Network: missing"),
    ('{"Network": "10.244.0.0/33", "Backend": {"Type": "vxlan"}}', "Network:"),
    ('{"Network": "10.244.0.0/29", "Backend": {"Type": "vxlan"}}', "Network:"),
    ('{"Network": "10.244.0.0/16", "SubnetLen": 31, "Backend": {"Type": "vxlan"}}', "SubnetLen"),
    ('{"Network": "10.244.0.0/16", "SubnetLen": 17, "Backend": {"Type": "vxlan"}}', "SubnetLen"),
    ('{"Network": "10.244.0.0/16", "SubnetLen": "24", "Backend": {"Type": "vxlan"}}',
     "SubnetLen"),
    ('{"Network": "10.244.0.0/16", "SubnetMin": "10.245.1.0", "Backend": {"Type": "vxlan"}}',
     "SubnetMin"),
    ('{"Network": "10.244.0.0/16", "SubnetMax": "10.244.1.7", "Backend": {"Type": "vxlan"}}',
     "SubnetMax"),
    ('{"Network": "10.244.0.0/16"}', "Backend: missing"),
    ('{"Network": "10.244.0.0/16", "Backend": "vxlan"}', "Backend:"),
    ('{"Network": "10.244.0.0/16", "Backend": {"Type": "udp"}}', "Backend.Type"),
    ('{"Network": "10.244.0.0/16", "EnableIPv6": true, "Backend": {"Type": "vxlan"}}',
     "EnableIPv6"),
])
def test_a_bad_config_is_refused_naming_the_field(text, field):
    with pytest.raises(ConfigError) as e:
        parse_config(text)
    assert field in str(e.value)
