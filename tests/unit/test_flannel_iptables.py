"""flanneld's iptables rules as upstream writes them, applied idempotently, repaired."""
import ipaddress

from kfs.flannel import iptables
from kfs.flannel.iptables import TrafficManager, forward_rules, masq_rules, render
from tests.unit.flannel_fakes import FlannelFakeIptables

NET, POD = ipaddress.IPv4Network("10.244.0.0/16"), ipaddress.IPv4Network("10.244.1.0/24")
C = '-m comment --comment "flanneld masq"'


def test_the_masquerade_rules_are_upstreams_pod_to_pod_never():
    text = render(masq_rules(NET, POD, random_fully=True))
    assert text == (
        "*nat\n:FLANNEL-POSTRTG - [0:0]\n"
        f"-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 {C} -j RETURN\n"
        f"-A FLANNEL-POSTRTG -s 10.244.1.0/24 -d 10.244.0.0/16 {C} -j RETURN\n"
        f"-A FLANNEL-POSTRTG -s 10.244.0.0/16 -d 10.244.1.0/24 {C} -j RETURN\n"
        f"-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.1.0/24 {C} -j RETURN\n"
        f"-A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 {C} -j MASQUERADE --random-fully\n"
        f"-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.0.0/16 {C} -j MASQUERADE "
        "--random-fully\nCOMMIT\n")
    assert "--random-fully" not in render(masq_rules(NET, POD, random_fully=False))


def test_the_forward_rules_accept_the_pod_network_both_ways():
    assert render(forward_rules(NET)) == (
        "*filter\n:FLANNEL-FWD - [0:0]\n"
        '-A FLANNEL-FWD -s 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT\n'
        '-A FLANNEL-FWD -d 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT\n'
        "COMMIT\n")


def setup():
    ipt = FlannelFakeIptables()
    tm = TrafficManager(ipt)
    tm.setup_masq(NET, POD)
    tm.setup_forward(NET)
    return ipt, tm


def test_the_chains_are_jumped_to_from_postrouting_and_forward():
    ipt, tm = setup()
    assert ipt.rules("nat", "POSTROUTING") == [f"{C} -j FLANNEL-POSTRTG"]
    assert ipt.rules("filter", "FORWARD") == ['-m comment --comment "flanneld forward" '
                                              "-j FLANNEL-FWD"]
    assert len(ipt.rules("nat", "FLANNEL-POSTRTG")) == 6
    assert len(ipt.rules("filter", "FLANNEL-FWD")) == 2


def test_applying_again_changes_nothing_and_writes_nothing():
    ipt, tm = setup()
    tables, restores = repr(ipt.tables), len(ipt.restores)
    tm.bootstrap()
    assert repr(ipt.tables) == tables
    assert tm.ensure() is False and len(ipt.restores) == restores + 1


def test_a_flushed_chain_or_a_lost_jump_is_written_again():
    ipt, tm = setup()
    ipt.tables["nat"]["FLANNEL-POSTRTG"].clear()
    assert tm.ensure() is True and len(ipt.rules("nat", "FLANNEL-POSTRTG")) == 6
    ipt.tables["filter"]["FORWARD"].clear()
    assert tm.ensure() is True and len(ipt.rules("filter", "FORWARD")) == 1
    ipt.tables["filter"]["FLANNEL-FWD"].append("-j DROP")     # a stranger in our chain
    assert tm.ensure() is True and "-j DROP" not in ipt.rules("filter", "FLANNEL-FWD")


def test_cleanup_removes_the_jumps_and_the_chains():
    ipt, tm = setup()
    iptables.cleanup(ipt)
    assert ipt.rules("nat", "POSTROUTING") == [] and ipt.rules("filter", "FORWARD") == []
    assert not ipt.chain_exists("nat", "FLANNEL-POSTRTG")
    assert not ipt.chain_exists("filter", "FLANNEL-FWD")
