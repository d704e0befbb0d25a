"""The rendered iptables-restore input, per kind of Service, against golden files.

A golden mismatch fails with a unified diff; ``KFS_UPDATE_GOLDEN=1`` rewrites the files (and
still fails, so nothing is regenerated silently). The same rules go into a real
iptables in tests/integration/test_proxy_iptables.py.
"""
import pytest

from kfs.proxy import rules
from tests.unit.proxy_objects import (assert_golden, endpoint, endpoint_slice, make_proxier,
                                      service)

HTTP = [("http", 80, 8080, "TCP")]
SLICE_HTTP = [("http", 8080, "TCP")]


def rendered(services, slices, **kwargs):
    kwargs.setdefault("cluster_cidr", "10.244.0.0/16")
    p, ipt = make_proxier(services, slices, **kwargs)
    assert len(ipt.restores) == 1, "the first sync is one iptables-restore"
    return ipt.restores[0]


CASES = {
    "clusterip": lambda: rendered(
        [service("web", HTTP)],
        [endpoint_slice("web", ["10.244.1.2", "10.244.1.3", "10.244.2.4"], SLICE_HTTP)]),
    "nodeport": lambda: rendered(
        [service("web", [("http", 80, 8080, "TCP", 30080)], type="NodePort")],
        [endpoint_slice("web", ["10.244.1.2", endpoint("10.244.2.4", node="node2")],
                        SLICE_HTTP)]),
    "no_endpoints": lambda: rendered(
        [service("web", [("http", 80, 8080, "TCP", 30080)], type="NodePort")],
        [endpoint_slice("web", [], [])]),
    "affinity": lambda: rendered(
        [service("web", HTTP, sessionAffinity="ClientIP",
                 sessionAffinityConfig={"clientIP": {"timeoutSeconds": 600}})],
        [endpoint_slice("web", ["10.244.1.2", "10.244.1.3"], SLICE_HTTP)]),
    "etp_local": lambda: rendered(
        [service("web", [("http", 80, 8080, "TCP", 30080)], type="LoadBalancer",
                 ingress=["192.168.56.200"], externalTrafficPolicy="Local",
                 healthCheckNodePort=32000)],
        [endpoint_slice("web", ["10.244.1.2", endpoint("10.244.2.4", node="node2")],
                        SLICE_HTTP)]),
    "multi_port": lambda: rendered(
        [service("web", [("http", 80, "http", "TCP"), ("https", 443, "https", "TCP")])],
        [endpoint_slice("web", ["10.244.1.2", "10.244.1.3"],
                        [("http", 8080, "TCP"), ("https", 8443, "TCP")])]),
    "udp": lambda: rendered(
        [service("dns", [("dns", 53, 5353, "UDP")], cluster_ip="10.96.0.53")],
        [endpoint_slice("dns", ["10.244.1.5", "10.244.2.6"], [("dns", 5353, "UDP")])]),
    "external_ips_itp_local": lambda: rendered(
        [service("web", HTTP, externalIPs=["192.168.56.100"], internalTrafficPolicy="Local")],
        [endpoint_slice("web", [endpoint("10.244.2.4", node="node2")], SLICE_HTTP)]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_restore_input_matches_the_golden_file(case):
    assert_golden(case, CASES[case]())


def test_a_golden_mismatch_fails_with_a_diff(tmp_path, monkeypatch):
    import tests.unit.proxy_objects as objects
    monkeypatch.setattr(objects, "GOLDEN", tmp_path)
    monkeypatch.delenv(objects.UPDATE_ENV, raising=False)
    (tmp_path / "x.txt").write_text("-A KUBE-SERVICES old\n")
    with pytest.raises(pytest.fail.Exception) as failed:
        assert_golden("x", "-A KUBE-SERVICES new\n")
    assert "--- golden/x.txt" in str(failed.value) and "+-A KUBE-SERVICES new" in str(failed.value)
    with pytest.raises(pytest.fail.Exception, match="no golden file"):
        assert_golden("missing", "anything")


def test_chain_names_are_hashed_as_upstream():
    assert rules.service_port_policy_cluster_chain("default/kubernetes:https", "tcp") == \
        "KUBE-SVC-NPX46M4PTMTKRN6Y"
    h = rules.port_proto_hash("default/kubernetes:https", "tcp")
    assert rules.service_port_policy_local_chain_name("default/kubernetes:https", "tcp") == \
        "KUBE-SVL-" + h
    assert rules.service_external_chain_name("default/kubernetes:https", "tcp") == "KUBE-EXT-" + h
    assert rules.service_firewall_chain_name("default/kubernetes:https", "tcp") == "KUBE-FW-" + h
    sep = rules.service_port_endpoint_chain_name("default/kubernetes:https", "tcp",
                                                 "192.168.56.10:6443")
    assert sep.startswith("KUBE-SEP-") and len(sep) == 25 and sep[9:] != h
    # an unnamed port hashes the bare ns/name; the protocol is part of the hash
    assert rules.service_port_policy_cluster_chain("default/web", "tcp") != \
        rules.service_port_policy_cluster_chain("default/web", "udp")


def test_the_kubernetes_service_gets_upstreams_chain_name():
    _, ipt = make_proxier([service("kubernetes", [("https", 443, 6443, "TCP")],
                                   cluster_ip="10.96.0.1")],
                          [endpoint_slice("kubernetes", ["192.168.56.10"],
                                          [("https", 6443, "TCP")])])
    assert "-j KUBE-SVC-NPX46M4PTMTKRN6Y" in ipt.restores[0]
    assert ipt.rules("nat", "KUBE-SVC-NPX46M4PTMTKRN6Y")


def test_probabilities_are_one_over_the_endpoints_left_printed_with_ten_decimals():
    assert [rules.compute_probability(n) for n in (2, 3, 4, 7)] == \
        ["0.5000000000", "0.3333333333", "0.2500000000", "0.1428571429"]
    ips = [f"10.244.1.{i}" for i in range(1, 5)]
    p, ipt = make_proxier([service("web", HTTP)], [endpoint_slice("web", ips, SLICE_HTTP)])
    svc_chain = rules.service_port_policy_cluster_chain("default/web:http", "tcp")
    picks = ipt.rules("nat", svc_chain)
    assert [r.split("--probability ")[1].split()[0] if "--probability" in r else None
            for r in picks] == ["0.2500000000", "0.3333333333", "0.5000000000", None]


def test_only_ready_endpoints_are_used_and_terminating_ones_only_when_none_is_ready():
    slice_ = endpoint_slice("web", [endpoint("10.244.1.2"),
                                    endpoint("10.244.1.3", ready=False, serving=True,
                                             terminating=True),
                                    endpoint("10.244.1.4", ready=False)], SLICE_HTTP)
    _, ipt = make_proxier([service("web", HTTP)], [slice_])
    assert "10.244.1.2:8080" in ipt.restores[0]
    assert "10.244.1.3:8080" not in ipt.restores[0] and "10.244.1.4" not in ipt.restores[0]
    slice_["endpoints"] = slice_["endpoints"][1:]
    p, ipt = make_proxier([service("web", HTTP)], [slice_])
    assert "--to-destination 10.244.1.3:8080" in ipt.restores[0]   # the fallback
    assert "10.244.1.4" not in ipt.restores[0]                      # not serving: never


def test_a_named_target_port_is_the_number_the_endpoint_slice_resolved():
    restore = CASES["multi_port"]()
    assert "--to-destination 10.244.1.2:8080" in restore
    assert "--to-destination 10.244.1.2:8443" in restore


def test_a_service_without_endpoints_is_rejected_in_filter_and_has_no_nat_chains():
    restore = CASES["no_endpoints"]()
    assert '-A KUBE-SERVICES -m comment --comment "default/web:http has no endpoints" -m tcp ' \
        "-p tcp -d 10.96.0.10 --dport 80 -j REJECT" in restore
    assert "-A KUBE-EXTERNAL-SERVICES" in restore and "--dport 30080 -j REJECT" in restore
    assert "KUBE-SVC-" not in restore and "KUBE-SEP-" not in restore


def test_external_traffic_policy_local_keeps_the_source_and_uses_local_endpoints_only():
    restore = CASES["etp_local"]()
    svl = rules.service_port_policy_local_chain_name("default/web:http", "tcp")
    local_rules = [line for line in restore.splitlines() if line.startswith(f"-A {svl} ")]
    assert len(local_rules) == 1 and "10.244.1.2:8080" in local_rules[0]
    ext = rules.service_external_chain_name("default/web:http", "tcp")
    assert f"-A {ext} -j {svl}" in restore
    assert "masquerade traffic for default/web:http" not in restore
    assert '"default/web:http health check node port" -m tcp -p tcp --dport 32000 -j ACCEPT' \
        in restore
    assert "-d 192.168.56.200 --dport 80 -j " + ext in restore


def test_above_a_thousand_endpoints_rules_carry_no_comments():
    ips = [f"10.244.{i // 250}.{i % 250 + 1}" for i in range(1001)]
    _, ipt = make_proxier([service("web", HTTP)], [endpoint_slice("web", ips, SLICE_HTTP)])
    sep_rules = [line for line in ipt.restores[0].splitlines() if line.startswith("-A KUBE-SEP-")]
    assert len(sep_rules) == 2 * 1001 and not any("--comment" in r for r in sep_rules)
    _, ipt = make_proxier([service("web", HTTP)],
                          [endpoint_slice("web", ips[:1000], SLICE_HTTP)])
    assert all("--comment" in line for line in ipt.restores[0].splitlines()
               if line.startswith("-A KUBE-SEP-"))


def test_masquerade_all_marks_every_cluster_ip_packet():
    _, ipt = make_proxier([service("web", HTTP)],
                          [endpoint_slice("web", ["10.244.1.2"], SLICE_HTTP)], masquerade_all=True)
    svc = rules.service_port_policy_cluster_chain("default/web:http", "tcp")
    assert ipt.rules("nat", svc)[0].endswith("--dport 80 -j KUBE-MARK-MASQ")
    assert "! -s" not in ipt.rules("nat", svc)[0]


def test_nodeport_addresses_limit_the_nodeports_jump_to_those_addresses():
    _, ipt = make_proxier([service("web", [("http", 80, 8080, "TCP", 30080)], type="NodePort")],
                          [endpoint_slice("web", ["10.244.1.2"], SLICE_HTTP)],
                          nodeport_addresses=["192.168.56.0/24"],
                          local_addresses=lambda: ["127.0.0.1", "192.168.56.11", "172.17.0.1"])
    jumps = [r for r in ipt.rules("nat", "KUBE-SERVICES") if r.endswith("-j KUBE-NODEPORTS")]
    assert len(jumps) == 1 and "-d 192.168.56.11 " in jumps[0]
    assert "KUBE-FIREWALL" not in ipt.restores[0]   # no localhost NodePorts: no hole to plug


def test_localhost_nodeports_set_route_localnet():
    from tests.unit.proxy_fakes import FakeSysctl
    sysctl = FakeSysctl()
    make_proxier(sysctl=sysctl)
    assert sysctl.values["net/ipv4/conf/all/route_localnet"] == 1
    sysctl = FakeSysctl()
    _, ipt = make_proxier(sysctl=sysctl, localhost_nodeports=False)
    assert "net/ipv4/conf/all/route_localnet" not in sysctl.values
    assert "! -d 127.0.0.0/8 -j KUBE-NODEPORTS" in ipt.restores[0]


def test_load_balancer_source_ranges_go_through_a_firewall_chain():
    svc = service("web", [("http", 80, 8080, "TCP", 30080)], type="LoadBalancer",
                  ingress=["192.168.56.200"], loadBalancerSourceRanges=["192.168.56.0/24"])
    _, ipt = make_proxier([svc], [endpoint_slice("web", ["10.244.1.2"], SLICE_HTTP)],
                          node_ip="192.168.56.11")
    fw = rules.service_firewall_chain_name("default/web:http", "tcp")
    ext = rules.service_external_chain_name("default/web:http", "tcp")
    allowed = [r.split(" -s ")[1] for r in ipt.rules("nat", fw) if " -s " in r]
    assert allowed == [f"192.168.56.0/24 -j {ext}", f"192.168.56.200 -j {ext}"]  # node inside
    assert ipt.rules("nat", fw)[-1].endswith('will be dropped by KUBE-PROXY-FIREWALL"')
    assert any(r.endswith("-d 192.168.56.200 --dport 80 -j DROP")
               for r in ipt.rules("filter", "KUBE-PROXY-FIREWALL"))


def test_headless_and_external_name_services_get_no_rules():
    _, ipt = make_proxier([service("headless", HTTP, cluster_ip="None"),
                           service("ext", HTTP, cluster_ip="", type="ExternalName")],
                          [endpoint_slice("headless", ["10.244.1.2"], SLICE_HTTP)])
    assert "default/headless" not in ipt.restores[0] and "default/ext" not in ipt.restores[0]
