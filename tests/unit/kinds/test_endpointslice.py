"""EndpointSlices: validation, the printed row (kfs/apiserver/kinds/endpointslice.py)."""

import pytest

from tests.unit.kind_objects import (
    cells, changed, column_names, endpointslice, errors, named, stored)


def test_an_endpointslices_address_type_is_immutable():
    old = stored(endpointslice())
    new = changed(old, lambda s: s.update(addressType="IPv6"))
    assert errors(new, old) == [("addressType", "FieldValueInvalid", 'Invalid value: "IPv6": field is immutable')]


@pytest.mark.parametrize("ports, endpoints, expected", [
    ([], [], ["<unset>", "<unset>"]),
    ([{"name": "http", "port": 8080}], [{"addresses": ["10.1.0.2"]}, {"addresses": ["10.1.0.3"]}],
     ["8080", "10.1.0.2,10.1.0.3"]),
    ([{"name": "a", "port": 1}, {"name": "b"}, {}, {"port": 4}],
     [{"addresses": [f"10.1.0.{i}"]} for i in range(2, 7)],
     ["1,b,* + 1 more...", "10.1.0.2,10.1.0.3,10.1.0.4 + 2 more..."]),
])
def test_endpointslices_show_address_type_and_three_ports_and_addresses(ports, endpoints, expected):
    row = cells("endpointslices", named("web-abcde", addressType="IPv4", ports=ports,
                                        endpoints=endpoints))
    assert row[1:4] == ["IPv4", *expected]


def test_a_valid_endpointslice_has_no_causes():
    assert errors(endpointslice(endpoints=[{"addresses": ["10.1.0.2"], "conditions": {"ready": True},
                                            "nodeName": "node1"}],
                                ports=[{"name": "http", "port": 8080}])) == []


@pytest.mark.parametrize("obj, field, message", [
    (endpointslice(addressType="IPv5"), "addressType",
     'Unsupported value: "IPv5": supported values: "FQDN", "IPv4", "IPv6"'),
    (endpointslice(endpoints=[{"addresses": ["fd00::1"]}]), "endpoints[0].addresses[0]",
     'Invalid value: "fd00::1": must be an IPv4 address'),
    (endpointslice(endpoints=[{"addresses": []}]), "endpoints[0].addresses",
     "Required value: must contain at least 1 address"),
    (endpointslice(endpoints=[{"addresses": ["10.1.0.2"]}] * 1001), "endpoints",
     "Too many: 1001: must have at most 1000 items"),
    (endpointslice(ports=[{"name": "http", "port": 80}, {"name": "http", "port": 81}]), "ports[1].name",
     'Duplicate value: "http"'),
])
def test_endpointslice_errors_name_the_field_at_fault_as_upstream(obj, field, message):
    assert (field, message) in [(e[0], e[2]) for e in errors(obj)]


def test_endpointslices_have_upstreams_columns():
    assert column_names("endpointslices") == (["Name", "AddressType", "Ports", "Endpoints", "Age"], [])
