"""What the benches read of a process: its CPU time and resident memory from ``/proc``, and
a sampling profile (py-spy).

Imported by the bench scripts (``bench/`` is on ``sys.path`` when one of them runs).
"""
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path


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


def machine_ticks():
    """(busy, all) CPU ticks of the whole machine so far (``/proc/stat``'s ``cpu`` line;
    idle and iowait are not busy)."""
    with open("/proc/stat") as f:
        ticks = [int(t) for t in f.readline().split()[1:]]
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)


class CpuMeter:
    """CPU used by named processes between ``start()`` and ``stop()``: ``used[name]``;
    and ``busy``, the share of all the machine's cores that were busy meanwhile (anyone's
    work: near 1.0, the machine, not one process, set the pace)."""

    def __init__(self, pids):
        self.pids, self.before, self.used, self.busy = dict(pids), {}, {}, None

    def start(self):
        self.before = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        self.machine = machine_ticks()
        return self

    def stop(self):
        self.used = {name: cpu_seconds(pid) - self.before[name]
                     for name, pid in self.pids.items()}
        busy, total = (now - then for now, then in zip(machine_ticks(), self.machine))
        self.busy = busy / total if total else 0.0
        return self.used


def profile(pid, out):
    """Start py-spy (``pip install py-spy``) sampling `pid` into `out`, 100 times a second,
    only the thread holding the GIL (the Python work): an SVG flame graph, or speedscope
    JSON / collapsed stacks (one line per stack and its count) by `out`'s suffix. Stop it
    with ``stop_profile``."""
    fmt = {".json": "speedscope", ".txt": "raw"}.get(Path(out).suffix, "flamegraph")
    exe = shutil.which("py-spy", path=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    return subprocess.Popen([exe, "record", "--pid", str(pid), "--rate", "100", "--gil",
                             "--format", fmt, "--output", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_profile(spy):
    spy.send_signal(signal.SIGINT)  # py-spy writes its profile and exits
    spy.wait(60)
