"""`kfs flanneld`'s command line: upstream's flags, clear errors, and main's steps on fakes
(config, device, lease, rules, subnet.env, the ready line, a clean stop)."""
import argparse
import logging
import threading

import pytest

from kfs import cli
from kfs.flannel import main
from kfs.flannel.ip import lookup_ext_iface
from kfs.flannel.local_manager import LocalManager
from kfs.util import wait_for
from tests.unit.flannel_fakes import CONFIG, FakeNetlink, FakeRegistry, FlannelFakeIptables


def parse(*argv):
    parser = argparse.ArgumentParser()
    main.add_arguments(parser)
    return parser.parse_args(argv)


def test_the_flags_have_upstreams_names_and_defaults():
    args = parse()
    assert args.etcd_endpoints == "http://127.0.0.1:4001,http://127.0.0.1:2379"
    assert (args.etcd_prefix, args.subnet_file) == ("/coreos.com/network",
                                                    "/run/flannel/subnet.env")
    assert (args.ip_masq, args.iptables_forward_rules, args.iptables_resync) == (False, True, 5)
    assert (args.subnet_lease_renew_margin, args.subnet_lease_ttl) == (60.0, 86400.0)
    args = parse("--ip-masq", "--iptables-forward-rules=false", "--iface", "eth1", "--iface",
                 "192.168.56.11", "--subnet-lease-ttl", "5m", "--subnet-lease-renew-margin", "2")
    assert args.ip_masq is True and args.iptables_forward_rules is False
    assert args.iface == ["eth1", "192.168.56.11"] and args.subnet_lease_ttl == 300
    assert main.check_args(args) is None


def test_kfs_flanneld_is_a_command():
    help_text = cli.build_parser()._subparsers._group_actions[0].choices["flanneld"].format_help()
    assert "--etcd-endpoints" in help_text and "--subnet-lease-renew-margin" in help_text


@pytest.mark.parametrize("argv,flag", [
    (["--subnet-lease-ttl", "10m", "--subnet-lease-renew-margin", "10"],
     "--subnet-lease-renew-margin"),
    (["--subnet-lease-renew-margin", "0"], "--subnet-lease-renew-margin"),
    (["--iptables-resync", "0"], "--iptables-resync"),
    (["--etcd-endpoints", ","], "--etcd-endpoints"),
    (["--etcd-certfile", "/etc/hostname"], "--etcd-keyfile"),
    (["--etcd-cafile", "/nonexistent/ca.crt"], "--etcd-cafile"),
])
def test_a_bad_flag_is_a_message_naming_it(argv, flag):
    assert flag in main.check_args(parse(*argv))


def test_main_prints_the_problem_and_exits_2(capsys, monkeypatch):
    assert main.main(parse("--subnet-lease-renew-margin", "0")) == 2
    assert "kfs flanneld: --subnet-lease-renew-margin" in capsys.readouterr().err


def start(tmp_path, registry, *argv):
    args = parse("--subnet-file", str(tmp_path / "subnet.env"), "--ip-masq", *argv)
    nl, ipt = FakeNetlink(), FlannelFakeIptables()
    manager = LocalManager(registry, clock=registry.clock)
    stopped = threading.Event()
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("rc", main.run(
        args, manager, nl, lookup_ext_iface(nl), ipt, stopped, synced_timeout=5)))
    thread.start()
    return args, nl, ipt, manager, stopped, thread, result


def test_run_writes_rules_and_subnet_env_logs_ready_and_stops_cleanly(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="kfs.flannel")
    reg = FakeRegistry()
    reg.put_lease("10.244.2.0/24", "192.168.56.12")
    args, nl, ipt, manager, stopped, thread, result = start(tmp_path, reg)
    wait_for(lambda: main.STARTED in caplog.text, 10, what="the ready line")
    assert (tmp_path / "subnet.env").read_text().startswith(
        f"FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET={manager.lease.subnet[1]}/24\n"
        "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=true")
    assert ("neigh_set", nl.link("flannel.1").index, "10.244.2.0", "aa:00:00:00:00:02") \
        in nl.calls                                         # routed before "started"
    assert len(ipt.rules("nat", "FLANNEL-POSTRTG")) == 6 and ipt.rules("filter", "FLANNEL-FWD")
    stopped.set()
    thread.join(10)
    assert result == {"rc": 0}


def test_a_missing_config_is_waited_for(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="kfs.flannel")
    reg = FakeRegistry(config=None)
    args, nl, ipt, manager, stopped, thread, result = start(tmp_path, reg)
    wait_for(lambda: "etcdctl put /coreos.com/network/config" in caplog.text, 10,
             what="the hint to put a config")
    assert not (tmp_path / "subnet.env").exists()
    reg.config = CONFIG.replace('"vxlan"', '"host-gw"')
    wait_for(lambda: main.STARTED in caplog.text, 10, what="the ready line")
    assert "backend host-gw" in caplog.text
    stopped.set()
    thread.join(10)
    assert result == {"rc": 0}


def test_a_deleted_lease_exits_1(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="kfs.flannel")
    reg = FakeRegistry()
    args, nl, ipt, manager, stopped, thread, result = start(tmp_path, reg)
    wait_for(lambda: main.STARTED in caplog.text, 10, what="the ready line")
    reg.delete_subnet(manager.lease.subnet)
    thread.join(15)
    assert result == {"rc": 1} and "has been revoked" in caplog.text
