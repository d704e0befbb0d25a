"""The proxier against a real iptables, in a throwaway network namespace (root, no lab).

Each test gets a namespace ``kfs-proxytest-<pid>-<n>`` with a veth pair, one end holding two
"pod" addresses (10.244.1.2 and .3) and a "node" address (192.168.56.11), a route for the
Service range, and TCP servers that answer with the address they were reached on. The
proxier writes its rules there with the real ``iptables-restore`` (every command goes
through ``nsenter --net=``), and connections made inside the namespace go through them.
The last test drives ``kfs.proxy.main.run`` from a real API server, as system:kube-proxy.
"""
import os
import sys
import threading
import time

import pytest

from kfs.proxy import rules
from kfs.proxy.conntrack import Conntrack
from kfs.iptables import Iptables, canary_gone, ensure_canaries
from kfs.proxy.metrics import ProxyMetrics
from kfs.proxy.proxier import Proxier, cleanup_leftovers
from kfs.proxy.util import Sysctl
from kfs.util import wait_for
from tests.integration.proxy_netns import (NODE_IP, PODS, connect, netns, prefix,  # noqa: F401
                                           servers, sh)
from tests.unit.proxy_objects import chains_in, endpoint_slice, service

pytestmark = pytest.mark.root


def proxier_in(ns, **kwargs):
    kwargs.setdefault("cluster_cidr", "10.244.0.0/16")
    p = Proxier(Iptables(prefix(ns)), "node1", Sysctl(prefix(ns)), conntrack=Conntrack(prefix(ns)),
                metrics=ProxyMetrics(), **kwargs)
    return p


def feed(p, services, slices):
    for svc in services:
        p.on_service_add(svc)
    for eps in slices:
        p.on_endpoint_slice_update(eps)
    p.on_service_synced()
    p.on_endpoint_slices_synced()


HTTP = [("http", 80, 8080, "TCP", 30080)]
SLICE = [("http", 8080, "TCP")]


def web(**kw):
    return service("web", HTTP, type="NodePort", **kw)


def save(ns, table="nat"):
    return sh(*prefix(ns), "iptables-save", "-t", table).stdout


def test_the_rules_load_into_iptables_and_iptables_save_shows_them(netns):
    p = proxier_in(netns)
    feed(p, [web(), service("empty", [("http", 80, 8080, "TCP")], cluster_ip="10.96.0.20")],
         [endpoint_slice("web", list(PODS), SLICE), endpoint_slice("empty", [], [])])
    nat = save(netns)
    svc = rules.service_port_policy_cluster_chain("default/web:http", "tcp")
    seps = [rules.service_port_endpoint_chain_name("default/web:http", "tcp", f"{ip}:8080")
            for ip in PODS]
    for chain in (svc, *seps, "KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-MARK-MASQ"):
        assert f":{chain} - [0:0]" in nat
    assert (f'-A KUBE-SERVICES -d 10.96.0.10/32 -p tcp -m comment --comment '
            f'"default/web:http cluster IP" -m tcp --dport 80 -j {svc}') in nat
    assert f"-m statistic --mode random --probability 0.50000000000 -j {seps[0]}" in nat
    assert f"-p tcp -m comment --comment \"default/web:http\" -m tcp -j DNAT " \
        f"--to-destination {PODS[1]}:8080" in nat
    assert "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES" \
        in nat
    assert '"default/empty:http has no endpoints" -m tcp --dport 80 -j REJECT' in \
        save(netns, "filter")


def test_a_cluster_ip_and_a_node_port_balance_over_both_endpoints(netns, servers):
    p = proxier_in(netns)
    feed(p, [web()], [endpoint_slice("web", list(PODS), SLICE)])
    answers = connect(netns, "10.96.0.10", 80, 40)
    assert set(answers) == {f"{ip}:8080" for ip in PODS}, answers
    answers = connect(netns, NODE_IP, 30080, 40)
    assert set(answers) == {f"{ip}:8080" for ip in PODS}, answers


def test_session_affinity_pins_a_client_to_one_endpoint(netns, servers):
    p = proxier_in(netns)
    feed(p, [web(sessionAffinity="ClientIP",
                 sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}})],
         [endpoint_slice("web", list(PODS), SLICE)])
    assert len(set(connect(netns, "10.96.0.10", 80, 20))) == 1


def test_a_service_without_endpoints_refuses_at_once(netns, servers):
    p = proxier_in(netns)
    feed(p, [web()], [endpoint_slice("web", [], [])])
    (answer,) = connect(netns, "10.96.0.10", 80)
    kind, seconds = answer.split()
    assert kind == "ConnectionRefusedError" and float(seconds) < 1.0


def test_a_partial_sync_keeps_other_services_and_a_deleted_one_leaves_nothing(netns, servers):
    p = proxier_in(netns)
    db = service("db", [("pg", 5432, 8080, "TCP")], cluster_ip="10.96.0.30")
    feed(p, [web(), db], [endpoint_slice("web", list(PODS), SLICE),
                          endpoint_slice("db", [PODS[1]], [("pg", 8080, "TCP")])])
    scaled = endpoint_slice("web", [PODS[0]], SLICE)
    p.on_endpoint_slice_update(scaled)
    p.sync_proxy_rules()
    written = [c for c in chains_in(p.last_restore_data) if rules.is_service_chain_name(c)]
    assert rules.service_port_policy_cluster_chain("default/web:http", "tcp") in written
    assert rules.service_port_policy_cluster_chain("default/db:pg", "tcp") not in written
    assert set(connect(netns, "10.96.0.10", 80, 20)) == {f"{PODS[0]}:8080"}
    assert set(connect(netns, "10.96.0.30", 5432, 3)) == {f"{PODS[1]}:8080"}   # kept as it was
    p.on_service_delete(web())
    p.on_endpoint_slice_delete(scaled)
    p.sync_proxy_rules()
    nat = save(netns)
    assert "default/web" not in nat and rules.port_proto_hash("default/web:http", "tcp") not in nat
    assert rules.service_port_policy_cluster_chain("default/db:pg", "tcp") in nat


def test_a_flushed_ruleset_is_rebuilt_when_the_canary_is_gone(netns, servers):
    ipt = Iptables(prefix(netns))
    p = proxier_in(netns)
    feed(p, [web()], [endpoint_slice("web", list(PODS), SLICE)])
    tables = ["mangle", "nat", "filter"]
    ensure_canaries(ipt, rules.KUBE_PROXY_CANARY, tables)
    assert not canary_gone(ipt, rules.KUBE_PROXY_CANARY, tables, 1.0)
    for table in tables:   # what `iptables -F; iptables -X` by an admin does
        sh(*prefix(netns), "iptables", "-t", table, "-F")
        sh(*prefix(netns), "iptables", "-t", table, "-X")
    assert connect(netns, "10.96.0.10", 80)[0].startswith(("TimeoutError", "OSError",
                                                           "ConnectionRefusedError"))
    assert canary_gone(ipt, rules.KUBE_PROXY_CANARY, tables, 1.0)
    p.force_sync_proxy_rules()
    assert connect(netns, "10.96.0.10", 80)[0].endswith(":8080")


def test_cleanup_removes_every_chain_and_jump_the_proxier_wrote(netns):
    p = proxier_in(netns)
    feed(p, [web()], [endpoint_slice("web", list(PODS), SLICE)])
    ensure_canaries(Iptables(prefix(netns)), rules.KUBE_PROXY_CANARY, ["mangle", "nat", "filter"])
    assert cleanup_leftovers(Iptables(prefix(netns))) is False
    everything = sh(*prefix(netns), "iptables-save").stdout
    leftovers = [line for line in everything.splitlines()
                 if "KUBE-" in line and "KUBE-FIREWALL" not in line]   # the kubelet's chain stays
    assert leftovers == []


def test_kfs_proxy_follows_the_api_server_as_system_kube_proxy(netns, servers, cp, tmp_path):
    """`kfs.proxy.main.run` with informers on a real API server: a Service and its slice
    become rules; a smaller slice makes every answer come from the endpoint left."""
    import argparse

    from kfs import pki
    from kfs.client import Client
    from kfs.proxy import main
    kubeconfig = tmp_path / "kube-proxy.kubeconfig"
    pki.write_kubeconfig(kubeconfig, cp.server, cp.pki.ca, "kube-proxy",
                         cp.pki.cert("kube-proxy"), cp.pki.key("kube-proxy"), embed=False)
    admin = Client.from_kubeconfig(str(cp.kubeconfig()))
    ns = f"proxy-{os.getpid()}"
    admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    svc = admin.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                        "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}},
                       namespace=ns)
    eps = endpoint_slice("web", list(PODS), SLICE, namespace=ns)
    eps["metadata"].pop("annotations")
    eps = admin.create(eps, namespace=ns)
    parser = argparse.ArgumentParser()
    main.add_arguments(parser)
    args = parser.parse_args(["--kubeconfig", str(kubeconfig), "--hostname-override", "node1",
                              "--cluster-cidr", "10.244.0.0/16", "--min-sync-period", "0s",
                              "--healthz-bind-address", "", "--metrics-bind-address", ""])
    stopped = threading.Event()
    proxier, informers = main.run(args, main.make_client(args.kubeconfig), stopped,
                                  prefix=prefix(netns))
    try:
        ip = svc["spec"]["clusterIP"]
        sh("ip", "-n", netns, "route", "replace", f"{ip}/32", "dev", "kfsdummy", "src", PODS[0])
        assert set(connect(netns, ip, 80, 30)) == {f"{a}:8080" for a in PODS}
        eps["endpoints"] = eps["endpoints"][:1]
        admin.replace(eps)
        start = time.monotonic()
        wait_for(lambda: set(connect(netns, ip, 80, 10)) == {f"{PODS[0]}:8080"}, 10, 0.2,
                 what="every answer from the endpoint left")
        assert time.monotonic() - start < 5
    finally:
        stopped.set()
        proxier.runner.stop()
        for inf in informers:
            inf.stop()


def test_a_udp_endpoint_that_goes_away_takes_its_conntrack_entries_along(netns):
    p = proxier_in(netns)
    dns = service("dns", [("dns", 53, 5353, "UDP")], cluster_ip="10.96.0.53")
    feed(p, [dns], [endpoint_slice("dns", [PODS[0]], [("dns", 5353, "UDP")])])
    send = ("import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
            "s.bind(('10.244.1.2', 40053)); s.sendto(b'q', ('10.96.0.53', 53))")
    sh(*prefix(netns), sys.executable, "-c", send)

    def flows():
        return sh(*prefix(netns), "conntrack", "-L", "-p", "udp", "--orig-dst", "10.96.0.53",
                  check=False).stdout
    assert "sport=40053 dport=53 [UNREPLIED] src=10.244.1.2 dst=" in flows()   # DNATed to .2
    p.on_endpoint_slice_update(endpoint_slice("dns", [PODS[1]], [("dns", 5353, "UDP")]))
    p.sync_proxy_rules()
    assert "sport=40053" not in flows()
