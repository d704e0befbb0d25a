"""In-memory stand-ins for iptables, sysctl and conntrack, for the proxy's unit tests.

``FakeIptables`` keeps tables of chains of rule strings and applies ``iptables-restore``
input with ``--noflush`` semantics (a ``:CHAIN`` line creates or flushes that chain, chains
not named are left alone, ``-X`` deletes), as upstream's ``pkg/util/iptables/testing``
fake does; every restore input is kept in ``restores``. The root-tier tests run the same
proxier against the real commands.
"""
BUILTIN = {"filter": ["INPUT", "FORWARD", "OUTPUT"],
           "nat": ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
           "mangle": ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"]}


class FakeIptables:
    prefix = ()

    def __init__(self, random_fully=True):
        self.tables = {t: {c: [] for c in chains} for t, chains in BUILTIN.items()}
        self.restores = []
        self.fail_next_restore = None
        self.random_fully = random_fully

    def ensure_chain(self, table, chain):
        existed = chain in self.tables[table]
        self.tables[table].setdefault(chain, [])
        return existed

    def chain_exists(self, table, chain):
        return chain in self.tables[table]

    def ensure_rule(self, prepend, table, chain, *args):
        rule = " ".join(args)
        if rule in self.tables[table][chain]:
            return True
        rules = self.tables[table][chain]
        rules.insert(0, rule) if prepend else rules.append(rule)
        return False

    def delete_rule(self, table, chain, *args):
        rule = " ".join(args)
        if rule in self.tables[table].get(chain, []):
            self.tables[table][chain].remove(rule)

    def delete_chain(self, table, chain):
        self.tables[table].pop(chain, None)

    def has_random_fully(self):
        return self.random_fully

    def save(self, table):
        lines = [f"*{table}"]
        lines += [f":{c} - [0:0]" for c in self.tables[table]]
        lines += [f"-A {c} {r}" for c, rs in self.tables[table].items() for r in rs]
        return "\n".join(lines + ["COMMIT", ""])

    def restore_all(self, data):
        from kfs.iptables import RestoreError
        self.restores.append(data)
        if self.fail_next_restore:
            message, self.fail_next_restore = self.fail_next_restore, None
            raise RestoreError(message, 1)
        staged = {t: {c: list(r) for c, r in chains.items()} for t, chains in self.tables.items()}
        table = None
        for n, line in enumerate(data.splitlines(), 1):
            if line.startswith("*"):
                table = staged[line[1:]]
            elif line.startswith(":"):
                table[line[1:].split()[0]] = []
            elif line.startswith("-A "):
                chain, _, rule = line[3:].partition(" ")
                if chain not in table:
                    raise RestoreError(f"line {n} failed: no chain {chain}", n)
                table[chain].append(rule)
            elif line.startswith("-X "):
                table.pop(line[3:].strip(), None)
        self.tables = staged

    def rules(self, table, chain):
        return self.tables[table].get(chain)


class FakeSysctl:
    def __init__(self, **values):
        self.values = {k.replace("__", "/"): v for k, v in values.items()}

    def get(self, name):
        return self.values.get(name)

    def set(self, name, value):
        self.values[name] = value


class FakeConntrack:
    def __init__(self, entries=()):
        self.entries = list(entries)
        self.deleted = []

    def list_udp(self):
        return list(self.entries)

    def delete(self, *f):
        self.deleted.append(f)
