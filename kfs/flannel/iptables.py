"""flanneld's iptables rules: masquerade what leaves the pod network, accept its forwarding.

Mirrors ``pkg/trafficmngr/iptables/iptables.go`` (``masqRules``, ``forwardRules``,
``setupAndEnsureIP4Tables``, ``ensureIPTables``), through the same thin adapter over the
iptables commands that kube-proxy uses (``kfs.iptables.Iptables``: both upstreams
run the iptables binaries, through go-iptables and through ``pkg/util/iptables``).

With ``--ip-masq``, in the nat table (``-A POSTROUTING -j FLANNEL-POSTRTG``)::

    -A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -j RETURN   kube-proxy SNATs these
    -A FLANNEL-POSTRTG -s 10.244.1.0/24 -d 10.244.0.0/16 -j RETURN     pod -> pod: never
    -A FLANNEL-POSTRTG -s 10.244.0.0/16 -d 10.244.1.0/24 -j RETURN
    -A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.1.0/24 -j RETURN   outside -> my pods
    -A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 -j MASQUERADE --random-fully
    -A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.0.0/16 -j MASQUERADE --random-fully

(each with ``-m comment --comment "flanneld masq"``): a pod reaching the outside world
leaves with its node's address, a pod reaching another pod keeps its own. Docker then
runs with ``--ip-masq=false``, or the packets would be masqueraded twice, pod to pod too.

With ``--iptables-forward-rules`` (the default), in the filter table
(``-A FORWARD -j FLANNEL-FWD``): ``-s 10.244.0.0/16 -j ACCEPT`` and ``-d 10.244.0.0/16
-j ACCEPT``. Docker sets the FORWARD policy to DROP, so without these a packet from
``flannel.1`` to ``docker0`` would be dropped on the way to its pod.

The two chains are written with one ``iptables-restore --noflush`` (a ``:CHAIN`` line
flushes the chain first, so a changed subnet leaves no stale rule, which upstream has to
delete by hand from the previous ``subnet.env``), the jumps with ``iptables -C``/``-A``.
Every ``--iptables-resync`` seconds one ``iptables-save`` per table checks them, and
they are written again if anything is missing: idempotent, and repaired after a flush.

What real Kubernetes does differently: upstream also has an nftables mode and IPv6 rules
(``ip6tables``), and checks rule by rule with ``iptables -C``.
"""
import logging

from kfs.iptables import RestoreError
from kfs.util import CommandError

log = logging.getLogger("kfs.flannel.iptables")

POSTRTG, FWD = "FLANNEL-POSTRTG", "FLANNEL-FWD"
KUBE_PROXY_MARK = "0x4000/0x4000"
MASQ, FORWARD = ["-m", "comment", "--comment", "flanneld masq"], \
    ["-m", "comment", "--comment", "flanneld forward"]


def masq_rules(cluster_cidr, pod_cidr, random_fully):
    """(table, chain, rulespec) of the masquerading, the jump from POSTROUTING first."""
    masquerade = ["-j", "MASQUERADE"] + (["--random-fully"] if random_fully else [])
    net, pod = str(cluster_cidr), str(pod_cidr)
    return [("nat", "POSTROUTING", MASQ + ["-j", POSTRTG]),
            ("nat", POSTRTG, ["-m", "mark", "--mark", KUBE_PROXY_MARK, *MASQ, "-j", "RETURN"]),
            ("nat", POSTRTG, ["-s", pod, "-d", net, *MASQ, "-j", "RETURN"]),
            ("nat", POSTRTG, ["-s", net, "-d", pod, *MASQ, "-j", "RETURN"]),
            ("nat", POSTRTG, ["!", "-s", net, "-d", pod, *MASQ, "-j", "RETURN"]),
            ("nat", POSTRTG, ["-s", net, "!", "-d", "224.0.0.0/4", *MASQ, *masquerade]),
            ("nat", POSTRTG, ["!", "-s", net, "-d", net, *MASQ, *masquerade])]


def forward_rules(network):
    net = str(network)
    return [("filter", "FORWARD", FORWARD + ["-j", FWD]),
            ("filter", FWD, ["-s", net, *FORWARD, "-j", "ACCEPT"]),
            ("filter", FWD, ["-d", net, *FORWARD, "-j", "ACCEPT"])]


def rule_line(chain, spec):
    """A rule as ``iptables-save`` prints it (and ``iptables-restore`` reads it)."""
    words = [f'"{w}"' if " " in w else w for w in spec]
    return " ".join(["-A", chain, *words])


def is_jump(rule):
    return rule[1] in ("POSTROUTING", "FORWARD")


def render(rules):
    """The ``iptables-restore`` input for flannel's own chains (not the jumps)."""
    out = []
    for table in dict.fromkeys(t for t, _, _ in rules):
        chains = dict.fromkeys(c for t, c, _ in rules if t == table and c in (POSTRTG, FWD))
        if not chains:
            continue
        out.append(f"*{table}")
        out += [f":{chain} - [0:0]" for chain in chains]
        out += [rule_line(c, s) for t, c, s in rules if t == table and not is_jump((t, c, s))]
        out.append("COMMIT")
    return "".join(line + "\n" for line in out)


class TrafficManager:
    def __init__(self, ipt):
        self.ipt = ipt
        self.rules = []

    def setup_masq(self, network, subnet, random_fully_disable=False):
        log.info("setting up masking rules")
        random_fully = not random_fully_disable and self.ipt.has_random_fully()
        self.rules += masq_rules(network, subnet, random_fully)
        self.bootstrap()

    def setup_forward(self, network):
        log.info("adding FLANNEL-FWD accept rules to the FORWARD chain")
        self.rules += forward_rules(network)
        self.bootstrap()

    def bootstrap(self):
        """Write the chains in one restore, then make sure of the jumps."""
        self.ipt.restore_all(render(self.rules))
        for table, chain, spec in self.rules:
            if is_jump((table, chain, spec)):
                self.ipt.ensure_rule(False, table, chain, *spec)

    def in_sync(self):
        """Does iptables-save show every rule, in order, and nothing else in our chains?"""
        for table in dict.fromkeys(t for t, _, _ in self.rules):
            saved = self.ipt.save(table).splitlines()
            for chain in dict.fromkeys(c for t, c, _ in self.rules if t == table):
                want = [rule_line(c, s) for t, c, s in self.rules if t == table and c == chain]
                have = [line for line in saved if line.startswith(f"-A {chain} ")]
                if is_jump((table, chain, [])):
                    if not all(w in have for w in want):
                        return False
                elif have != want:
                    return False
        return True

    def ensure(self):
        """Write the rules again if anything is missing; True if it had to."""
        if not self.rules or self.in_sync():
            return False
        log.info("some iptables rules are missing; writing them again")
        self.bootstrap()
        return True

    def resync_loop(self, stopped, period):
        while not stopped.wait(period):
            try:
                self.ensure()
            except (CommandError, RestoreError, OSError) as e:
                log.error("failed to ensure iptables rules: %s", e)


def cleanup(ipt):
    """Remove flannel's jumps and chains (what ``kfs flanneld --cleanup`` does)."""
    for table, chain, parent, comment in (("nat", POSTRTG, "POSTROUTING", MASQ),
                                          ("filter", FWD, "FORWARD", FORWARD)):
        ipt.delete_rule(table, parent, *comment, "-j", chain)
        if ipt.chain_exists(table, chain):
            ipt.restore_all(f"*{table}\n:{chain} - [0:0]\nCOMMIT\n")   # flushed
            ipt.delete_chain(table, chain)
