"""What the benches read of a process from ``/proc``: its CPU time and its resident memory.

Imported by the bench scripts (``bench/`` is on ``sys.path`` when one of them runs).
"""
import os


def cpu_seconds(pid):
    """User + system CPU seconds a process has used (``/proc/<pid>/stat`` fields 14, 15)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid):
    """The process's resident set size (``VmRSS`` of ``/proc/<pid>/status``)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class CpuMeter:
    """CPU used by named processes between ``start()`` and ``stop()``: ``used[name]``."""

    def __init__(self, pids):
        self.pids, self.before, self.used = dict(pids), {}, {}

    def start(self):
        self.before = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        return self

    def stop(self):
        self.used = {name: cpu_seconds(pid) - self.before[name]
                     for name, pid in self.pids.items()}
        return self.used
