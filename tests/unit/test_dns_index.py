"""The DNS index: what the watch hands it, and what lookups find, on fake objects."""
import time

from kfs.dns.index import Address, DnsController, Index, endpoint_hostname, to_endpoints
from kfs.util import wait_for
from tests.fakes import FakeApi
from tests.unit.dns_objects import (endpoint, endpoint_slice, headless, namespace, service,
                                    synced_index)


def test_a_service_is_found_by_namespace_and_name_with_its_cluster_ip():
    index = synced_index(service("web", cluster_ip="10.96.0.20"))
    assert index.service("default", "web").cluster_ips == ("10.96.0.20",)
    assert index.service("other", "web") is None


def test_a_headless_service_has_no_cluster_ip():
    svc = synced_index(headless("db")).service("default", "db")
    assert svc.headless and svc.cluster_ips == ()


def test_an_external_name_service_is_not_headless():
    svc = synced_index(service("ext", type_="ExternalName",
                               external_name="example.org")).service("default", "ext")
    assert not svc.headless and svc.external_name == "example.org"


def test_only_ready_endpoints_are_kept_and_an_unknown_readiness_counts_as_ready():
    eps = to_endpoints(endpoint_slice("db-1", "db", endpoints=[
        endpoint("10.1.0.1"), endpoint("10.1.0.2", ready=False), endpoint("10.1.0.3", ready=None)]))
    assert [a.ip for a in eps.addresses] == ["10.1.0.1", "10.1.0.3"]


def test_a_slice_without_a_service_label_or_with_fqdn_addresses_is_ignored():
    unlabelled = endpoint_slice("x", "db", endpoints=[endpoint("10.1.0.1")])
    del unlabelled["metadata"]["labels"]
    fqdn = endpoint_slice("y", "db", address_type="FQDN", endpoints=[endpoint("db.example.org")])
    assert to_endpoints(unlabelled) is None and to_endpoints(fqdn) is None


def test_an_endpoint_is_named_by_its_hostname_else_by_its_dashed_ip():
    assert endpoint_hostname(Address("10.1.0.1", "pet-0")) == "pet-0"
    assert endpoint_hostname(Address("10.1.0.1", "")) == "10-1-0-1"
    assert endpoint_hostname(Address("fd00::1", "")) == "fd00--1"


def test_all_slices_of_a_service_are_its_endpoints():
    index = synced_index(headless("db"),
                         endpoint_slice("db-a", "db", endpoints=[endpoint("10.1.0.1")]),
                         endpoint_slice("db-b", "db", endpoints=[endpoint("10.1.0.2")]),
                         endpoint_slice("web-a", "web", endpoints=[endpoint("10.1.0.9")]))
    ips = [a.ip for eps in index.service_endpoints("default", "db") for a in eps.addresses]
    assert sorted(ips) == ["10.1.0.1", "10.1.0.2"]


def test_an_updated_slice_replaces_its_old_addresses_in_every_index():
    index = synced_index(endpoint_slice("db-a", "db", endpoints=[endpoint("10.1.0.1")]))
    index.update_endpoints(endpoint_slice("db-a", "db", endpoints=[endpoint("10.1.0.2")]))
    assert index.endpoints_for_ip("10.1.0.1") == []
    assert [a.ip for _, a in index.endpoints_for_ip("10.1.0.2")] == ["10.1.0.2"]


def test_a_deleted_service_and_slice_leave_no_trace():
    svc, eps = service("web"), endpoint_slice("web-a", "web", endpoints=[endpoint("10.1.0.1")])
    index = synced_index(svc, eps)
    index.delete_service(svc)
    index.delete_endpoints(eps)
    assert index.service("default", "web") is None
    assert index.service_for_ip("10.96.0.20") is None
    assert index.service_endpoints("default", "web") == []
    assert index.endpoints_for_ip("10.1.0.1") == []


def test_a_cluster_ip_moved_to_another_service_points_at_the_new_one():
    index = synced_index(service("a", cluster_ip="10.96.0.30"))
    index.update_service(service("b", cluster_ip="10.96.0.30"))
    index.delete_service(service("a", cluster_ip="10.96.0.30"))
    assert index.service_for_ip("10.96.0.30").name == "b"


def test_addresses_are_kept_in_canonical_form():
    index = synced_index(service("v6", cluster_ip="fd00:0:0::10"))
    assert index.service_for_ip("fd00::10").name == "v6"


def test_a_change_sets_the_soa_serial_to_the_time_of_the_change():
    index = Index()
    index.modified = 1
    before = int(time.time())
    index.update_namespace(namespace("default"))
    assert before <= index.modified <= time.time()


def test_the_informer_handlers_add_update_and_delete():
    index = Index()
    index.on_namespace("ADDED", namespace("team"), None)
    index.on_service("ADDED", service("web", "team"), None)
    index.on_service("MODIFIED", service("web", "team", cluster_ip="10.96.0.21"), None)
    assert index.service("team", "web").cluster_ips == ("10.96.0.21",)
    index.on_service("DELETED", service("web", "team"), None)
    index.on_namespace("DELETED", namespace("team"), None)
    assert index.service("team", "web") is None and not index.has_namespace("team")


def test_the_controller_feeds_the_index_from_the_informers_and_says_when_synced():
    api = FakeApi()
    controller = DnsController(api).start()
    api.create(namespace("team"))
    api.create(service("web", "team"))
    api.create(endpoint_slice("web-a", "web", "team", endpoints=[endpoint("10.1.0.1")]))
    wait_for(controller.index.synced.is_set, 5, what="the index to be synced")
    index = controller.index
    assert index.has_namespace("team") and index.service("team", "web") is not None
    assert [a.ip for _, a in index.endpoints_for_ip("10.1.0.1")] == ["10.1.0.1"]
    api.delete("services", "web", "team")
    assert index.service("team", "web") is None
    controller.stop()
