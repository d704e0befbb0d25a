"""Endpoints: defaults, address validation, the printed row (kfs/apiserver/kinds/endpoints.py)."""

import pytest

from tests.unit.kind_objects import (
    cells, column_names, defaulted, errors, named)


def test_endpoint_ports_default_to_tcp():
    ep = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web"},
          "subsets": [{"addresses": [{"ip": "10.1.0.2"}], "ports": [{"port": 80}]}]}
    assert defaulted(ep)["subsets"][0]["ports"] == [{"port": 80, "protocol": "TCP"}]


@pytest.mark.parametrize("ip, message", [
    ("127.0.0.1", "may not be in the loopback range (127.0.0.0/8, ::1/128)"),
    ("0.0.0.0", "may not be unspecified (0.0.0.0)"),
    ("169.254.1.1", "may not be in the link-local range (169.254.0.0/16, fe80::/10)"),
    ("10.1.2", "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"),
])
def test_endpoints_addresses_are_routable_ips(ip, message):
    ep = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web", "namespace": "default"},
          "subsets": [{"addresses": [{"ip": ip}], "ports": [{"port": 80}]}]}
    assert errors(ep) == [("subsets[0].addresses[0].ip", "FieldValueInvalid", f'Invalid value: "{ip}": {message}')]


@pytest.mark.parametrize("subsets, text", [
    (None, "<none>"),
    ([{"addresses": [{"ip": "10.1.0.2"}, {"ip": "10.1.0.3"}], "ports": [{"port": 8080}]}], "10.1.0.2:8080,10.1.0.3:8080"),
    ([{"addresses": [{"ip": f"10.1.0.{i}"} for i in range(2, 7)], "ports": [{"port": 8080}]}],
     "10.1.0.2:8080,10.1.0.3:8080,10.1.0.4:8080 + 2 more..."),
    ([{"addresses": [{"ip": "10.1.0.2"}], "ports": [{"port": 80}, {"port": 443}]}], "10.1.0.2:80,10.1.0.2:443"),
    ([{"addresses": [{"ip": "10.1.0.2"}]}], "10.1.0.2"),
    ([{"addresses": [{"ip": "fd00::2"}], "ports": [{"port": 80}]}], "[fd00::2]:80"),
    ([{"notReadyAddresses": [{"ip": "10.1.0.2"}], "ports": [{"port": 80}]}], ""),
])
def test_endpoints_show_three_addresses_and_how_many_more(subsets, text):
    assert cells("endpoints", named("web", subsets=subsets))[1] == text


def test_valid_endpoints_have_no_causes():
    assert errors({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web", "namespace": "default"},
                   "subsets": [{"addresses": [{"ip": "10.1.0.2"}], "ports": [{"port": 8080}]}]}) == []


def test_endpoints_have_upstreams_columns():
    assert column_names("endpoints") == (["Name", "Endpoints", "Age"], [])
