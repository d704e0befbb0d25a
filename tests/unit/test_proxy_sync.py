"""The sync loop on fakes: full and partial syncs, failures, stale chains, canaries, health."""
import copy
import json
import threading
import urllib.error
import urllib.request

import pytest

from kfs.proxy import rules
from kfs.proxy.conntrack import parse_entry, stale_filters
from kfs.proxy.healthcheck import ProxyHealthServer, ServiceHealthServer
from kfs.iptables import canary_gone, ensure_canaries, monitor
from kfs.proxy.runner import BoundedFrequencyRunner
from tests.unit.proxy_fakes import FakeConntrack, FakeIptables
from tests.unit.proxy_objects import chains_in, endpoint_slice, make_proxier, service

SLICE_HTTP = [("http", 8080, "TCP")]


def many(n=5):
    services = [service(f"web{i}", [("http", 80, 8080, "TCP")], cluster_ip=f"10.96.0.{i + 10}")
                for i in range(n)]
    slices = [endpoint_slice(f"web{i}", [f"10.244.{i}.2", f"10.244.{i}.3"], SLICE_HTTP)
              for i in range(n)]
    return services, slices


def own_chains(restore, name):
    """The per-service chains of service port `name` (and its endpoints) in a restore."""
    svc = rules.port_proto_hash(name, "tcp")
    return [c for c in chains_in(restore) if c.endswith(svc) or
            (c.startswith("KUBE-SEP-") and f"-A {c} -m comment --comment {name} " in restore)]


def per_service_chains(restore):
    return [c for c in chains_in(restore) if rules.is_service_chain_name(c)]


def test_after_a_full_sync_a_change_to_one_service_writes_only_its_chains():
    services, slices = many(5)
    p, ipt = make_proxier(services, slices)
    first = ipt.restores[-1]
    assert len(per_service_chains(first)) == 5 * 3            # SVC + 2 SEP each
    changed = copy.deepcopy(slices[2])
    changed["endpoints"][1]["addresses"] = ["10.244.2.9"]
    p.on_endpoint_slice_update(changed)
    p.sync_proxy_rules()
    partial = ipt.restores[-1]
    written = per_service_chains(partial)
    new_sep = rules.service_port_endpoint_chain_name("default/web2:http", "tcp", "10.244.2.9:8080")
    old_sep = rules.service_port_endpoint_chain_name("default/web2:http", "tcp", "10.244.2.3:8080")
    assert sorted(written) == sorted(own_chains(first, "default/web2:http") + [new_sep])
    assert f"-X {old_sep}" in partial                           # the gone endpoint's chain
    for other in ("web0", "web1", "web3", "web4"):              # untouched: kept, not rewritten
        assert not any(c in written for c in own_chains(first, f"default/{other}:http"))
        assert f"default/{other}:http cluster IP" in partial     # top-level rules: always
    assert ipt.rules("nat", rules.service_port_policy_cluster_chain("default/web0:http", "tcp"))
    assert old_sep not in ipt.tables["nat"] and new_sep in ipt.tables["nat"]


def test_a_failed_restore_makes_the_next_sync_full():
    services, slices = many(3)
    p, ipt = make_proxier(services, slices)
    changed = copy.deepcopy(services[0])
    changed["spec"]["ports"][0]["port"] = 81
    ipt.fail_next_restore = "iptables-restore: line 3 failed"
    p.on_service_update(services[0], changed)
    p.sync_proxy_rules()
    assert p.need_full_sync and p.runner.retry_at is not None
    assert p.metrics.iptables_restore_failures_total._value.get() == 1
    assert p.metrics.iptables_partial_restore_failures_total._value.get() == 1
    p.sync_proxy_rules()
    assert len(per_service_chains(ipt.restores[-1])) == 3 * 3
    assert "--dport 81 -j KUBE-SVC-" in ipt.restores[-1]


def test_a_deleted_service_loses_all_its_chains():
    services, slices = many(2)
    p, ipt = make_proxier(services, slices)
    gone = own_chains(ipt.restores[-1], "default/web1:http")
    p.on_service_delete(services[1])
    p.on_endpoint_slice_delete(slices[1])
    p.sync_proxy_rules()
    assert all(f"-X {c}" in ipt.restores[-1] for c in gone) and len(gone) == 3
    assert not any(c in ipt.tables["nat"] for c in gone)
    assert "default/web1" not in "".join(ipt.tables["nat"]["KUBE-SERVICES"])


def test_a_full_sync_happens_at_least_hourly():
    now = [1000.0]
    services, slices = many(2)
    p, ipt = make_proxier(services, slices, clock=lambda: now[0])
    p.sync_proxy_rules()
    assert per_service_chains(ipt.restores[-1]) == []          # nothing changed: partial
    now[0] += 3601
    p.sync_proxy_rules()
    assert len(per_service_chains(ipt.restores[-1])) == 2 * 3


def test_nothing_is_written_until_services_and_slices_are_both_listed():
    services, slices = many(1)
    p, ipt = make_proxier(services, slices, synced=False)
    p.on_service_synced()
    assert ipt.restores == []
    p.on_endpoint_slices_synced()
    assert len(ipt.restores) == 1


def test_a_full_sync_puts_the_jump_rules_first_in_the_built_in_chains():
    ipt = FakeIptables()
    ipt.tables["nat"]["PREROUTING"].append("-j DOCKER")
    make_proxier(*many(1), iptables=ipt)
    assert ipt.rules("nat", "PREROUTING")[0] == \
        '-m comment --comment kubernetes service portals -j KUBE-SERVICES'
    assert ipt.rules("nat", "PREROUTING")[-1] == "-j DOCKER"
    for table, chain, builtin, comment, extra in rules.JUMP_CHAINS:
        assert " ".join(rules.jump_rule_args(comment, extra, chain)) in ipt.rules(table, builtin)


def test_a_vanished_canary_is_noticed_and_forces_a_full_sync():
    ipt = FakeIptables()
    tables = ["mangle", "nat", "filter"]
    ensure_canaries(ipt, rules.KUBE_PROXY_CANARY, tables)
    assert not canary_gone(ipt, rules.KUBE_PROXY_CANARY, tables, 1.0)
    for t in tables:
        ipt.delete_chain(t, rules.KUBE_PROXY_CANARY)
    assert canary_gone(ipt, rules.KUBE_PROXY_CANARY, tables, 1.0, sleep=lambda s: None)

    services, slices = many(2)
    p, ipt = make_proxier(services, slices, iptables=ipt)
    stopped, reloaded = threading.Event(), threading.Event()

    def reload():
        p.force_sync_proxy_rules()
        reloaded.set()
    t = threading.Thread(target=monitor, args=(ipt, rules.KUBE_PROXY_CANARY, tables, reload,
                                               0.01, stopped), daemon=True)
    t.start()
    from kfs.util import wait_for
    wait_for(lambda: ipt.chain_exists("mangle", rules.KUBE_PROXY_CANARY), 5, 0.01,
             what="the canary")
    ipt.tables["nat"] = {c: [] for c in ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING")}
    for table in tables:
        ipt.delete_chain(table, rules.KUBE_PROXY_CANARY)     # someone flushed everything
    assert reloaded.wait(5)
    stopped.set()
    t.join(5)
    assert len(per_service_chains(ipt.restores[-1])) == 2 * 3
    assert ipt.rules("nat", "PREROUTING")                       # jump rules are back


def test_metrics_have_upstreams_names():
    p, ipt = make_proxier(*many(2))
    text = p.metrics.exposition().decode()
    for name in ("kubeproxy_sync_proxy_rules_duration_seconds_bucket",
                 "kubeproxy_sync_full_proxy_rules_duration_seconds_count 1.0",
                 "kubeproxy_sync_proxy_rules_last_timestamp_seconds",
                 'kubeproxy_sync_proxy_rules_iptables_total{table="nat"}',
                 'kubeproxy_sync_proxy_rules_iptables_total{table="filter"}',
                 "kubeproxy_network_programming_duration_seconds_bucket",
                 "kubeproxy_sync_proxy_rules_endpoint_changes_total 2.0",
                 "kubeproxy_sync_proxy_rules_service_changes_total 2.0"):
        assert name in text, name
    nat = ipt.restores[0].split("*nat\n")[1]
    assert f'iptables_total{{table="nat"}} {float(nat.count("-A ")):.1f}' in text


def test_a_udp_endpoint_going_away_deletes_its_conntrack_entries():
    ct = FakeConntrack([("10.96.0.53", 53, "10.244.1.5", 5353),   # to the endpoint that goes
                        ("10.96.0.53", 53, "10.244.2.6", 5353),   # to the one that stays
                        ("192.168.56.11", 30053, "10.244.1.5", 5353),
                        ("10.96.0.99", 53, "10.244.1.5", 5353)])  # another destination
    dns = service("dns", [("dns", 53, 5353, "UDP", 30053)], cluster_ip="10.96.0.53",
                  type="NodePort")
    eps = endpoint_slice("dns", ["10.244.1.5", "10.244.2.6"], [("dns", 5353, "UDP")])
    p, _ = make_proxier([dns], [eps], conntrack=ct)
    assert ct.deleted == []
    smaller = copy.deepcopy(eps)
    smaller["endpoints"] = smaller["endpoints"][1:]
    p.on_endpoint_slice_update(smaller)
    p.sync_proxy_rules()
    assert ct.deleted == [("10.96.0.53", 53, "10.244.1.5", 5353),
                          (None, 30053, "10.244.1.5", 5353)]


def test_conntrack_lines_are_parsed_into_original_destination_and_reply_source():
    line = ("udp      17 28 src=10.244.1.9 dst=10.96.0.53 sport=40000 dport=53 [UNREPLIED] "
            "src=10.244.1.5 dst=10.244.1.9 sport=5353 dport=40000 mark=0 use=1")
    assert parse_entry(line) == ("10.96.0.53", 53, "10.244.1.5", 5353)
    assert parse_entry("conntrack v1.4.7 (conntrack-tools): 0 flow entries") is None
    assert stale_filters([("10.96.0.53", 53, "10.244.1.5", 5353)], {}, {}) == []


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_healthz_is_unhealthy_when_a_queued_sync_waits_too_long():
    now = [100.0]
    hs = ProxyHealthServer(60.0, clock=lambda: now[0])
    server = hs.serve("127.0.0.1:0")
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert get(url + "/healthz")[0] == 200
        hs.queued_update()
        now[0] += 61
        code, body = get(url + "/healthz")
        assert code == 503 and json.loads(body)["nodeEligible"] is True
        hs.updated()
        assert get(url + "/healthz")[0] == 200
        hs.sync_node({"metadata": {"name": "node1", "deletionTimestamp": "2026-01-01T00:00:00Z"}})
        assert get(url + "/healthz")[0] == 503 and get(url + "/livez")[0] == 200
    finally:
        server.shutdown()
        server.server_close()


def test_the_health_check_node_port_says_200_only_with_local_endpoints():
    hs = ProxyHealthServer(60.0)
    shs = ServiceHealthServer(hs, address="127.0.0.1")
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    try:
        shs.sync_services({("default", "web"): port})
        code, body = get(f"http://127.0.0.1:{port}/")
        assert code == 503
        assert json.loads(body) == {"service": {"namespace": "default", "name": "web"},
                                    "localEndpoints": 0, "serviceProxyHealthy": True}
        shs.sync_endpoints({("default", "web"): 2})
        code, body = get(f"http://127.0.0.1:{port}/")
        assert code == 200 and json.loads(body)["localEndpoints"] == 2
        shs.sync_services({})
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
    finally:
        shs.close()


def test_the_runner_coalesces_requests_and_keeps_the_minimum_interval():
    now = [0.0]
    r = BoundedFrequencyRunner("t", lambda: None, min_interval=1.0, max_interval=3600.0,
                               clock=lambda: now[0])
    assert r.next_run() == 3600.0          # nobody asked: the periodic run
    r.run()
    r.run()
    assert r.next_run() == 0.0
    r.last_run, r.requested = 0.0, False
    now[0] = 0.2
    r.run()
    assert r.next_run() == 1.0             # asked right after a run: waits out min_interval
    r.requested = False
    r.retry_after(30.0)
    assert r.next_run() == 30.2
