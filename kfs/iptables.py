"""A thin adapter over the iptables commands: restore, save, ensure a chain or a rule, canaries.

Shared by the components that write iptables rules: ``kfs proxy`` and ``kfs flanneld``
(upstream kube-proxy and the kubelet share ``pkg/util/iptables`` the same way; flannel has
a copy of its own). Mirrors ``pkg/util/iptables/iptables.go`` (``runner``: ``RestoreAll``,
``SaveInto``, ``EnsureChain``, ``EnsureRule``, ``ChainExists``, ``Monitor``), shrunk. The proxier writes
its whole ruleset with one ``iptables-restore --noflush --counters``: ``--noflush`` leaves
every chain the input does not mention alone (Docker's, the lab's, and the per-service
chains a partial sync skips), and a ``:CHAIN`` line in the input flushes that chain before
its rules are added. Only the jump rules from the built-in chains (``PREROUTING`` →
``KUBE-SERVICES`` ...) are made one by one with ``iptables -C``/``-I``, since a restore
would have to own all of ``PREROUTING`` to write them.

``monitor`` watches the empty ``KUBE-PROXY-CANARY`` chains (mangle, nat, filter): if
someone flushes the tables (``iptables -F``, a firewall reload), the canary goes with them
and the proxier is told to do a full resync.

Every command runs after ``prefix`` (e.g. ``["nsenter", "--net=/run/netns/X", "--"]``), so
a test or a benchmark can point the proxier at a throwaway network namespace.

What real Kubernetes does differently: it takes the xtables lock (``-w``) and handles
iptables-legacy as well as iptables-nft; IPv6 through ``ip6tables``.
"""
import logging
import re
import time

from kfs.util import CommandError, run

log = logging.getLogger("kfs.iptables")

LINE_FAILED = re.compile(r"line (\d+) failed")


class RestoreError(Exception):
    """iptables-restore refused the input; `line` is the 1-based failing line, if known."""

    def __init__(self, message, line=None):
        super().__init__(message)
        self.line = line


class Iptables:
    def __init__(self, prefix=()):
        self.prefix = list(prefix)
        self._random_fully = None

    def _iptables(self, table, *args, check=True):
        return run(self.prefix, ["iptables", "-w", "-t", table, *map(str, args)], check=check)

    def ensure_chain(self, table, chain):
        """Create `chain` if missing; True if it already existed."""
        result = self._iptables(table, "-N", chain, check=False)
        if result.returncode == 0:
            return False
        if self.chain_exists(table, chain):
            return True
        raise CommandError(["iptables", "-N", chain], result.returncode, result.stderr.strip())

    def chain_exists(self, table, chain):
        return self._iptables(table, "-S", chain, "1", check=False).returncode == 0

    def ensure_rule(self, prepend, table, chain, *args):
        """Add the rule unless ``iptables -C`` finds it; True if it already existed."""
        if self._iptables(table, "-C", chain, *args, check=False).returncode == 0:
            return True
        self._iptables(table, "-I" if prepend else "-A", chain, *args)
        return False

    def delete_rule(self, table, chain, *args):
        if self._iptables(table, "-C", chain, *args, check=False).returncode == 0:
            self._iptables(table, "-D", chain, *args)

    def delete_chain(self, table, chain):
        self._iptables(table, "-X", chain, check=False)

    def save(self, table):
        return run(self.prefix, ["iptables-save", "-t", table]).stdout

    def restore_all(self, data):
        """One ``iptables-restore --noflush --counters`` of every table in `data`."""
        result = run(self.prefix, ["iptables-restore", "--noflush", "--counters"], input=data,
                     check=False)
        if result.returncode != 0:
            m = LINE_FAILED.search(result.stderr)
            raise RestoreError(result.stderr.strip() or f"exit {result.returncode}",
                               int(m[1]) if m else None)

    def has_random_fully(self):
        """MASQUERADE --random-fully needs iptables 1.6.2 or later."""
        if self._random_fully is None:
            out = run(self.prefix, ["iptables", "--version"], check=False).stdout
            m = re.search(r"v(\d+)\.(\d+)\.(\d+)", out)
            self._random_fully = bool(m) and tuple(map(int, m.groups())) >= (1, 6, 2)
        return self._random_fully


def get_chains_from_table(save_text):
    """The chain names declared in ``iptables-save`` output (``:NAME POLICY [p:b]``)."""
    return {line[1:].split(" ", 1)[0] for line in save_text.splitlines() if line.startswith(":")}


def extract_lines(data, line, context=3):
    """The lines around `line` (1-based) of restore input, numbered, for the error log."""
    lines = data.splitlines()
    lo, hi = max(0, line - 1 - context), min(len(lines), line + context)
    return "\n".join(f"{i + 1:6d} {lines[i]}" for i in range(lo, hi))


def ensure_canaries(ipt, canary, tables):
    for table in tables:
        ipt.ensure_chain(table, canary)


def canary_gone(ipt, canary, tables, interval, sleep=time.sleep):
    """Is the first table's canary gone? If so, wait (up to `interval`) for the others to
    go too, so the resync does not race a flush still in progress."""
    if ipt.chain_exists(tables[0], canary):
        return False
    log.info("iptables canary %s deleted from %s", canary, tables[0])
    deadline = time.monotonic() + interval
    while any(ipt.chain_exists(t, canary) for t in tables) and time.monotonic() < deadline:
        sleep(interval / 2)
    return True


def monitor(ipt, canary, tables, reload, interval, stopped):
    """Until `stopped` (an Event) is set: make the canaries, wait for them to disappear,
    call `reload` (the proxier's full resync). Removes the canaries when stopped."""
    while not stopped.is_set():
        try:
            ensure_canaries(ipt, canary, tables)
        except CommandError as e:
            log.error("could not set up iptables canary: %s", e)
            stopped.wait(interval)
            continue
        while not stopped.wait(interval):
            try:
                if canary_gone(ipt, canary, tables, interval, sleep=stopped.wait):
                    break
            except CommandError as e:
                log.error("could not check for iptables canary: %s", e)
        else:
            break
        log.info("reloading after iptables flush")
        reload()
    for table in tables:
        ipt.delete_chain(table, canary)
