"""`kfs proxy`'s command line: upstream's flags, clear errors, informer events to the proxier."""
import argparse

import pytest

from kfs.proxy import main
from tests.unit.proxy_objects import endpoint_slice, make_proxier, service


def parse(*argv):
    parser = argparse.ArgumentParser()
    main.add_arguments(parser)
    return parser.parse_args(argv)


def test_the_flags_have_upstreams_names_and_defaults():
    args = parse()
    assert (args.healthz_bind_address, args.metrics_bind_address) == \
        ("0.0.0.0:10256", "127.0.0.1:10249")
    assert (args.sync_period, args.min_sync_period) == (30.0, 1.0)
    args = parse("--sync-period", "1m", "--min-sync-period", "500ms", "--nodeport-addresses",
                 "192.168.56.0/24,primary", "--masquerade-all", "--cluster-cidr", "172.17.0.0/16",
                 "--hostname-override", "node1", "--iptables-localhost-nodeports", "false")
    assert (args.sync_period, args.min_sync_period) == (60.0, 0.5)
    assert args.nodeport_addresses == ["192.168.56.0/24", "primary"]
    assert args.masquerade_all and args.iptables_localhost_nodeports is False


@pytest.mark.parametrize("flag,value", [("--nodeport-addresses", "192.168.56"),
                                        ("--sync-period", "soon"),
                                        ("--iptables-localhost-nodeports", "maybe")])
def test_a_bad_flag_value_is_refused_with_a_message(flag, value, capsys):
    with pytest.raises(SystemExit):
        parse(flag, value)
    assert flag in capsys.readouterr().err


def test_a_missing_kubeconfig_is_a_message_not_a_traceback(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setattr(main.shutil, "which", lambda tool: f"/usr/sbin/{tool}")
    assert main.main(parse("--kubeconfig", str(tmp_path / "nope"), "-v", "0")) == 2
    err = capsys.readouterr().err
    assert "no kubeconfig at" in err and "system:kube-proxy" in err


def test_informer_events_reach_the_proxier():
    p, ipt = make_proxier()
    on_service, on_slice, on_node = main.handlers(p)
    svc = service("web", [("http", 80, 8080, "TCP")])
    eps = endpoint_slice("web", ["10.244.1.2"], [("http", 8080, "TCP")])
    on_service("ADDED", svc, None)
    on_slice("ADDED", eps, None)
    p.sync_proxy_rules()
    assert "--to-destination 10.244.1.2:8080" in ipt.restores[-1]
    on_slice("DELETED", eps, eps)
    p.sync_proxy_rules()
    assert "has no endpoints" in ipt.restores[-1]
    on_service("DELETED", svc, svc)
    p.sync_proxy_rules()
    assert "default/web" not in ipt.restores[-1]
    node = {"metadata": {"name": "node1", "labels": {"topology.kubernetes.io/zone": "a"}},
            "status": {"addresses": [{"type": "InternalIP", "address": "192.168.56.11"}]}}
    on_node("ADDED", node, None)
    assert p.need_full_sync and p.node_ip == "192.168.56.11"


def test_the_node_ip_is_its_internal_ipv4_address():
    assert main.node_internal_ip({"status": {"addresses": [
        {"type": "Hostname", "address": "node1"}, {"type": "InternalIP", "address": "fd00::1"},
        {"type": "InternalIP", "address": "192.168.56.11"}]}}) == "192.168.56.11"
    assert main.node_internal_ip(None) is None
