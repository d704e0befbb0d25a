"""Names to records (the Kubernetes DNS specification), from an index of fake objects."""
import pytest
from dnslib import QTYPE, RCODE

from kfs.dns.index import Index
from kfs.dns.kubernetes import Kubernetes, reverse_address
from tests.unit.dns_objects import (endpoint, endpoint_slice, headless, namespace, service,
                                    synced_index)

ZONE = "cluster.local"


def ask(index, name, qtype="A", **kwargs):
    return Kubernetes(index, **kwargs).serve(name, getattr(QTYPE, qtype))


def data(records, qtype=None):
    return sorted(str(rr.rdata) for rr in records if qtype is None or rr.rtype == qtype)


def is_nxdomain(reply):
    return reply.rcode == RCODE.NXDOMAIN and not reply.answer and _soa_only(reply.authority)


def is_nodata(reply):
    return reply.rcode == RCODE.NOERROR and not reply.answer and _soa_only(reply.authority)


def _soa_only(authority):
    return [(rr.rtype, str(rr.rname)) for rr in authority] == [(QTYPE.SOA, ZONE + ".")]


@pytest.fixture
def cluster():
    return synced_index(
        service("web", cluster_ip="10.96.0.20",
                ports=(("http", 80, "TCP"), ("dns", 53, "UDP"), ("", 8443, "TCP"))),
        service("web", "team", cluster_ip="10.96.0.21"),
        service("dual", cluster_ip="10.96.0.22", cluster_ips=["10.96.0.22", "fd00::22"]),
        headless("db", ports=(("pg", 5432, "TCP"),)),
        endpoint_slice("db-a", "db", ports=(("pg", 5432, "TCP"),), endpoints=[
            endpoint("10.1.0.1", hostname="db-0"), endpoint("10.1.0.2"),
            endpoint("10.1.0.3", ready=False, hostname="db-2")]),
        endpoint_slice("db-b", "db", ports=(("pg", 5432, "TCP"),),
                       endpoints=[endpoint("10.1.1.1", hostname="db-1")]),
        headless("empty"),
        endpoint_slice("empty-a", "empty", endpoints=[endpoint("10.1.2.1", ready=False)]),
        service("ext", type_="ExternalName", external_name="db.example.org"),
        service("extip", type_="ExternalName", external_name="192.0.2.1"),
        service("kube-dns", "kube-system", cluster_ip="10.96.0.10"),
        namespaces=("default", "team", "kube-system"))


# -- Services with a ClusterIP ---------------------------------------------------------------

def test_a_service_name_answers_its_cluster_ip(cluster):
    reply = ask(cluster, "web.default.svc.cluster.local.")
    assert reply.rcode == RCODE.NOERROR and data(reply.answer) == ["10.96.0.20"]
    assert reply.answer[0].rtype == QTYPE.A


def test_the_same_name_in_another_namespace_is_another_service(cluster):
    assert data(ask(cluster, "web.team.svc.cluster.local").answer) == ["10.96.0.21"]


def test_every_answer_has_the_ttl_of_kubeadms_corefile(cluster):
    for name, qtype in (("web.default.svc.cluster.local", "A"),
                        ("_http._tcp.web.default.svc.cluster.local", "SRV"),
                        ("20.0.96.10.in-addr.arpa", "PTR"), ("ext.default.svc.cluster.local", "A")):
        reply = ask(cluster, name, qtype)
        assert {rr.ttl for rr in reply.answer + reply.additional} == {30}, name


def test_the_ttl_is_a_setting(cluster):
    assert ask(cluster, "web.default.svc.cluster.local", ttl=5).answer[0].ttl == 5


def test_lookups_ignore_case_and_answers_keep_the_question_spelling(cluster):
    reply = ask(cluster, "Web.Default.SVC.Cluster.Local.")
    assert data(reply.answer) == ["10.96.0.20"]
    assert str(reply.answer[0].rname) == "Web.Default.SVC.Cluster.Local."


def test_a_dual_stack_service_answers_a_and_aaaa_by_family(cluster):
    assert data(ask(cluster, "dual.default.svc.cluster.local", "A").answer) == ["10.96.0.22"]
    reply = ask(cluster, "dual.default.svc.cluster.local", "AAAA")
    assert data(reply.answer) == ["fd00::22"] and reply.answer[0].rtype == QTYPE.AAAA


def test_aaaa_of_a_single_stack_ipv4_service_is_nodata(cluster):
    assert is_nodata(ask(cluster, "web.default.svc.cluster.local", "AAAA"))


# -- headless Services -----------------------------------------------------------------------

def test_a_headless_service_answers_every_ready_endpoint_of_all_its_slices(cluster):
    reply = ask(cluster, "db.default.svc.cluster.local")
    assert data(reply.answer) == ["10.1.0.1", "10.1.0.2", "10.1.1.1"]


def test_a_headless_service_without_ready_endpoints_is_nxdomain(cluster):
    assert is_nxdomain(ask(cluster, "empty.default.svc.cluster.local"))


def test_an_endpoint_with_a_hostname_has_its_own_name(cluster):
    assert data(ask(cluster, "db-0.db.default.svc.cluster.local").answer) == ["10.1.0.1"]
    assert data(ask(cluster, "db-1.db.default.svc.cluster.local").answer) == ["10.1.1.1"]


def test_an_endpoint_without_a_hostname_is_named_by_its_dashed_ip(cluster):
    assert data(ask(cluster, "10-1-0-2.db.default.svc.cluster.local").answer) == ["10.1.0.2"]


def test_an_unready_endpoints_own_name_does_not_resolve(cluster):
    assert is_nxdomain(ask(cluster, "db-2.db.default.svc.cluster.local"))


def test_an_endpoint_that_becomes_unready_drops_out_of_the_answer(cluster):
    cluster.update_endpoints(endpoint_slice("db-a", "db", endpoints=[
        endpoint("10.1.0.1", ready=False, hostname="db-0"), endpoint("10.1.0.2")]))
    assert data(ask(cluster, "db.default.svc.cluster.local").answer) == ["10.1.0.2", "10.1.1.1"]
    assert is_nxdomain(ask(cluster, "db-0.db.default.svc.cluster.local"))


def test_an_address_in_two_slices_is_answered_once():
    index = synced_index(headless("db"),
                         endpoint_slice("db-a", "db", endpoints=[endpoint("10.1.0.1")]),
                         endpoint_slice("db-b", "db", endpoints=[endpoint("10.1.0.1")]))
    assert data(ask(index, "db.default.svc.cluster.local").answer) == ["10.1.0.1"]


# -- SRV -------------------------------------------------------------------------------------

def test_a_named_port_has_an_srv_record_with_the_service_as_target(cluster):
    reply = ask(cluster, "_http._tcp.web.default.svc.cluster.local", "SRV")
    assert data(reply.answer) == ["0 100 80 web.default.svc.cluster.local."]
    assert [(str(rr.rname), str(rr.rdata)) for rr in reply.additional] == [
        ("web.default.svc.cluster.local.", "10.96.0.20")]


def test_srv_matches_the_protocol_too(cluster):
    assert data(ask(cluster, "_dns._udp.web.default.svc.cluster.local", "SRV").answer) == [
        "0 100 53 web.default.svc.cluster.local."]
    assert is_nxdomain(ask(cluster, "_dns._tcp.web.default.svc.cluster.local", "SRV"))


def test_unnamed_ports_and_names_without_underscores_have_no_srv(cluster):
    assert is_nxdomain(ask(cluster, "_._tcp.web.default.svc.cluster.local", "SRV"))
    assert is_nxdomain(ask(cluster, "http.tcp.web.default.svc.cluster.local", "SRV"))


def test_a_headless_service_has_one_srv_per_ready_endpoint_with_their_addresses(cluster):
    reply = ask(cluster, "_pg._tcp.db.default.svc.cluster.local", "SRV")
    assert data(reply.answer) == ["0 33 5432 10-1-0-2.db.default.svc.cluster.local.",
                                  "0 33 5432 db-0.db.default.svc.cluster.local.",
                                  "0 33 5432 db-1.db.default.svc.cluster.local."]
    assert sorted((str(rr.rname), str(rr.rdata)) for rr in reply.additional) == [
        ("10-1-0-2.db.default.svc.cluster.local.", "10.1.0.2"),
        ("db-0.db.default.svc.cluster.local.", "10.1.0.1"),
        ("db-1.db.default.svc.cluster.local.", "10.1.1.1")]


def test_an_srv_name_asked_for_an_address_is_nodata(cluster):
    assert is_nodata(ask(cluster, "_http._tcp.web.default.svc.cluster.local", "A"))


# -- PTR -------------------------------------------------------------------------------------

def test_a_cluster_ip_reverses_to_its_service(cluster):
    reply = ask(cluster, "20.0.96.10.in-addr.arpa.", "PTR")
    assert data(reply.answer) == ["web.default.svc.cluster.local."]


def test_an_ipv6_cluster_ip_reverses_too(cluster):
    name = ".".join(reversed("fd00" + "0" * 24 + "0022")) + ".ip6.arpa"
    assert reverse_address(name) == "fd00::22"
    assert data(ask(cluster, name, "PTR").answer) == ["dual.default.svc.cluster.local."]


def test_an_endpoint_with_a_hostname_reverses_to_its_own_name(cluster):
    reply = ask(cluster, "1.0.1.10.in-addr.arpa", "PTR")
    assert data(reply.answer) == ["db-0.db.default.svc.cluster.local."]


def test_other_reverse_names_fall_through_to_the_next_plugin(cluster):
    assert ask(cluster, "2.0.1.10.in-addr.arpa", "PTR") is None   # endpoint without hostname
    assert ask(cluster, "99.0.96.10.in-addr.arpa", "PTR") is None  # no such address
    assert ask(cluster, "20.0.96.10.in-addr.arpa", "A") is None
    assert ask(cluster, "0.96.10.in-addr.arpa", "PTR") is None


# -- ExternalName ----------------------------------------------------------------------------

def test_an_external_name_service_is_a_cname_whatever_the_type(cluster):
    for qtype in ("A", "AAAA", "CNAME", "TXT"):
        reply = ask(cluster, "ext.default.svc.cluster.local", qtype)
        assert [(rr.rtype, str(rr.rdata)) for rr in reply.answer] == [
            (QTYPE.CNAME, "db.example.org.")], qtype


def test_an_external_name_that_is_an_ip_address_is_not_answered(cluster):
    assert is_nxdomain(ask(cluster, "extip.default.svc.cluster.local"))


# -- names that are not there ----------------------------------------------------------------

@pytest.mark.parametrize("name", [
    "nope.default.svc.cluster.local",        # no such Service
    "web.nowhere.svc.cluster.local",         # no such Namespace
    "nowhere.svc.cluster.local",
    "web.default.nope.cluster.local",        # neither svc nor pod
    "x.y._http._tcp.web.default.svc.cluster.local",
    "nobody.web.default.svc.cluster.local",  # no such endpoint
])
def test_a_name_that_does_not_exist_is_nxdomain_with_the_zones_soa(cluster, name):
    assert is_nxdomain(ask(cluster, name))


@pytest.mark.parametrize("name, qtype", [
    ("web.default.svc.cluster.local", "MX"),
    ("web.default.svc.cluster.local", "TXT"),
    ("default.svc.cluster.local", "A"),      # a namespace: a name with nothing of its own
    ("svc.cluster.local", "A"),
    ("cluster.local", "A"),
])
def test_a_name_that_exists_without_that_type_is_nodata_with_the_zones_soa(cluster, name, qtype):
    assert is_nodata(ask(cluster, name, qtype))


def test_the_soa_names_the_zone_and_its_negative_ttl(cluster):
    soa = ask(cluster, "nope.default.svc.cluster.local").authority[0]
    assert str(soa.rdata.mname) == "ns.dns.cluster.local."
    assert str(soa.rdata.rname) == "hostmaster.cluster.local."
    assert soa.rdata.times == (cluster.modified, 7200, 1800, 86400, 30) and soa.ttl == 30


def test_a_deleted_service_stops_resolving(cluster):
    cluster.delete_service(service("web"))
    assert is_nxdomain(ask(cluster, "web.default.svc.cluster.local"))
    assert ask(cluster, "20.0.96.10.in-addr.arpa", "PTR") is None


def test_before_the_first_lists_a_missing_name_is_servfail_not_nxdomain():
    index = Index()
    reply = ask(index, "web.default.svc.cluster.local")
    assert reply.rcode == RCODE.SERVFAIL


def test_names_outside_the_zone_are_not_this_plugins(cluster):
    assert ask(cluster, "example.org") is None
    assert ask(cluster, "notcluster.local") is None


def test_another_cluster_domain_is_served_instead(cluster):
    assert data(ask(cluster, "web.default.svc.kfs.test", zone="kfs.test").answer) == ["10.96.0.20"]
    assert ask(cluster, "web.default.svc.cluster.local", zone="kfs.test") is None


# -- the zone's own records and pods ---------------------------------------------------------

def test_the_zone_apex_has_an_soa_and_an_ns(cluster):
    assert [rr.rtype for rr in ask(cluster, "cluster.local", "SOA").answer] == [QTYPE.SOA]
    assert data(ask(cluster, "cluster.local", "NS").answer) == ["ns.dns.cluster.local."]


def test_the_name_server_resolves_to_the_kube_dns_service(cluster):
    assert data(ask(cluster, "ns.dns.cluster.local").answer) == ["10.96.0.10"]


def test_the_schema_version_is_a_txt_record(cluster):
    reply = ask(cluster, "dns-version.cluster.local", "TXT")
    assert data(reply.answer) == ['"1.1.0"'] and reply.answer[0].ttl == 28800


def test_a_dashed_pod_ip_in_an_existing_namespace_resolves_to_that_ip(cluster):
    assert data(ask(cluster, "10-1-0-7.default.pod.cluster.local").answer) == ["10.1.0.7"]
    assert data(ask(cluster, "fd00--7.default.pod.cluster.local", "AAAA").answer) == ["fd00::7"]
    assert is_nxdomain(ask(cluster, "10-1-0-7.nowhere.pod.cluster.local"))
    assert is_nxdomain(ask(cluster, "not-an-ip.default.pod.cluster.local"))


def test_pod_records_can_be_disabled(cluster):
    assert is_nxdomain(ask(cluster, "10-1-0-7.default.pod.cluster.local", pods="disabled"))


def test_a_namespace_created_later_makes_its_names_resolve():
    index = synced_index(service("web", "late"), namespaces=())
    assert is_nxdomain(ask(index, "web.late.svc.cluster.local"))
    index.update_namespace(namespace("late"))
    assert data(ask(index, "web.late.svc.cluster.local").answer) == ["10.96.0.20"]
