"""A lease's value as upstream stores it, and the LeaseWatcher's added/removed events."""
import ipaddress

import pytest

from kfs.flannel.lease import ADDED, REMOVED, Event, Lease, LeaseAttrs, LeaseWatcher

MAC = "7a:3c:0e:51:9d:20"


def lease(subnet, ip="192.168.56.12", mac=MAC):
    return Lease(ipaddress.IPv4Network(subnet), LeaseAttrs(ip, "vxlan", {"VNI": 1, "VtepMAC": mac}))


def test_the_stored_value_is_upstreams_json_byte_for_byte():
    attrs = LeaseAttrs("192.168.56.11", "vxlan", {"VNI": 1, "VtepMAC": MAC})
    assert attrs.to_json() == ('{"PublicIP":"192.168.56.11","PublicIPv6":null,'
                               '"BackendType":"vxlan","BackendData":{"VNI":1,'
                               f'"VtepMAC":"{MAC}"}}}}')
    assert LeaseAttrs("192.168.56.11", "host-gw").to_json() == \
        '{"PublicIP":"192.168.56.11","PublicIPv6":null,"BackendType":"host-gw"}'
    assert LeaseAttrs.from_json(attrs.to_json()) == attrs


def test_a_value_is_read_with_field_names_in_any_case():
    attrs = LeaseAttrs.from_json('{"publicip": "192.168.56.12", "backendtype": "host-gw"}')
    assert attrs == LeaseAttrs("192.168.56.12", "host-gw")


@pytest.mark.parametrize("text", ["[]", '{"PublicIP": "nope"}', "{}", "not json"])
def test_a_bad_value_is_a_value_error(text):
    with pytest.raises(ValueError):
        LeaseAttrs.from_json(text)


def test_a_reset_reports_new_changed_and_vanished_leases_but_never_our_own():
    w = LeaseWatcher(lease("10.244.1.0/24", "192.168.56.11"))
    a, b = lease("10.244.2.0/24"), lease("10.244.3.0/24", "192.168.56.13")
    assert w.reset([lease("10.244.1.0/24", "192.168.56.11"), a, b]) == \
        [Event(ADDED, a), Event(ADDED, b)]
    assert w.reset([a, b]) == []
    a2 = lease("10.244.2.0/24", mac="7a:00:00:00:00:99")
    assert w.reset([a2]) == [Event(ADDED, a2), Event(REMOVED, b)]


def test_a_removal_from_the_watch_carries_the_lease_as_it_was_known():
    w = LeaseWatcher(lease("10.244.1.0/24", "192.168.56.11"))
    a = lease("10.244.2.0/24")
    assert w.update([Event(ADDED, a)]) == [Event(ADDED, a)]
    bare = Lease(a.subnet, None)   # what a delete in etcd carries: only the key
    assert w.update([Event(REMOVED, bare)]) == [Event(REMOVED, a)]
    assert w.update([Event(ADDED, lease("10.244.1.0/24", "192.168.56.11"))]) == []
