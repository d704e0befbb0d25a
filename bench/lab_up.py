"""Figures for the netns lab: time of `kfs lab up --nodes 2` from nothing, second `up`
(nothing to do), and the lab's memory (RSS of its daemons).

    .venv/bin/python bench/lab_up.py [--runs 3]

Runs on a lab of its own (kfsb, 192.168.59.0/24); needs root.
"""
import argparse
import statistics
import time

from kfs.lab import supervisor
from kfs.lab.lab import Lab

quiet = dict(progress=lambda msg: None)


def rss_mib(lab):
    pids = [supervisor.pid_of(d) for m in lab.machines for d in (m.containerd(), m.dockerd())]
    return sum(supervisor.rss_kib(p) for p in pids if p) / 1024, len(pids)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    lab = Lab(name="kfsb", subnet="192.168.59.0/24")
    lab.down(**quiet)
    cold, warm, memory = [], [], []
    for _ in range(args.runs):
        t = time.perf_counter()
        lab.up(nodes=2, **quiet)
        cold.append(time.perf_counter() - t)
        t = time.perf_counter()
        lab.up(**quiet)
        warm.append(time.perf_counter() - t)
        memory.append(rss_mib(lab))
        lab.down(**quiet)
    print(f"kfs lab up --nodes 2, from nothing: median {statistics.median(cold):.2f} s "
          f"(runs: {', '.join(f'{x:.2f}' for x in cold)})")
    print(f"kfs lab up again (nothing to do):  median {statistics.median(warm):.3f} s")
    mib, n = memory[-1]
    print(f"lab memory: {mib:.0f} MiB RSS in {n} daemons (containerd + dockerd per machine)")


if __name__ == "__main__":
    main()
