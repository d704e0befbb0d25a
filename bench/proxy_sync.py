"""kube-proxy sync cost, as ratios to a raw ``iptables-restore`` of the same rules, same run.

1,000 Services × 10 endpoints (every fourth Service also a NodePort) are fed to a
``kfs.proxy.proxier.Proxier`` whose every command runs in a throwaway network namespace
(``kfs-proxybench-<pid>``, removed at the end), with the real iptables:

- full sync: ``sync_proxy_rules()`` with a full resync forced (jump rules checked, every
  chain rendered, ``iptables-save -t nat`` for stale chains, one ``iptables-restore``)
  ÷ a raw ``iptables-restore --noflush --counters`` of the very text that sync wrote
  (target ≤ 1.2);
- one changed Service: a partial sync after one EndpointSlice changed ÷ that raw full
  restore (target ≤ 0.1).

Medians of ``--runs`` (default 3), each run timing a full sync, then the raw restore, then
a one-service sync, so the ratios printed per run compare neighbours in time (the
iptables-nft restore of ~44,000 lines is slow and varies a lot on a loaded machine).
Needs root; no lab, no API server.

    .venv/bin/python bench/proxy_sync.py [--services 1000] [--endpoints 10] [--runs 3]

TODO(lab): the issue's third figure, network-programming latency p50/p99 over 50 Service
changes (change in the API server → rule present in the node's iptables), needs the lab at
stage ``proxy`` (API server, endpointslice controller, a kube-proxy on a node): it belongs
with the proxy stage, reading ``kubeproxy_network_programming_duration_seconds`` from the
node's /metrics once the EndpointSlice controller sets
``endpoints.kubernetes.io/last-change-trigger-time``, and polling ``iptables-save`` for the
rule's appearance.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kfs.proxy.conntrack import Conntrack  # noqa: E402
from kfs.iptables import Iptables  # noqa: E402
from kfs.proxy.proxier import Proxier  # noqa: E402
from kfs.proxy.util import Sysctl  # noqa: E402


def service(i):
    svc = {"metadata": {"namespace": "bench", "name": f"svc{i}"},
           "spec": {"type": "NodePort" if i % 4 == 0 else "ClusterIP",
                    "clusterIP": f"10.96.{i // 250}.{i % 250 + 1}",
                    "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}}
    if i % 4 == 0:
        svc["spec"]["ports"][0]["nodePort"] = 30000 + i
    return svc


def endpoint_slice(i, n, generation=0):
    return {"metadata": {"namespace": "bench", "name": f"svc{i}-abcde",
                         "labels": {"kubernetes.io/service-name": f"svc{i}"}},
            "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": [f"10.{100 + (i * n + j) // 65025 % 100}."
                                         f"{(i * n + j) // 255 % 255}.{(i * n + j) % 255 + 1}"],
                           "conditions": {"ready": True},
                           "nodeName": "node1" if j % 2 else "node2"}
                          for j in range(generation, n + generation)]}


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--endpoints", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/proxy_sync.py needs root (a network namespace and iptables)")
    ns = f"kfs-proxybench-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    prefix = ["nsenter", f"--net=/run/netns/{ns}", "--"]
    try:
        p = Proxier(Iptables(prefix), "node1", Sysctl(prefix), conntrack=Conntrack(prefix),
                    cluster_cidr="10.0.0.0/8", min_sync_period=0)
        for i in range(args.services):
            p.on_service_add(service(i))
            p.on_endpoint_slice_update(endpoint_slice(i, args.endpoints))
        p.on_service_synced()
        first = timed(p.on_endpoint_slices_synced)       # creates every chain
        data = p.last_restore_data

        def full_sync():
            p.need_full_sync = True
            p.sync_proxy_rules()

        def raw_restore():
            subprocess.run([*prefix, "iptables-restore", "--noflush", "--counters"], input=data,
                           text=True, check=True)

        full, raw, partial = [], [], []
        for run in range(args.runs):
            full.append(timed(full_sync))
            assert p.last_restore_data == data, "a full sync of unchanged state renders the same"
            raw.append(timed(raw_restore))
            i = run + 1
            p.on_endpoint_slice_update(endpoint_slice(i, args.endpoints, generation=run + 1))
            partial.append(timed(p.sync_proxy_rules))
            p.on_endpoint_slice_update(endpoint_slice(i, args.endpoints))   # back, for the next
            p.sync_proxy_rules()
        # the proxier's own work in a full sync, beside the restore (stable where the
        # restore's time is not): the jump-rule checks, rendering, the iptables-save
        own = {"jump rules": timed(p.ensure_jump_chains),
               "render": timed(lambda: p.render(True, set())),
               "iptables-save": timed(lambda: p.iptables.save("nat"))}
        lines = data.count("\n")
        m_full, m_raw, m_partial = map(statistics.median, (full, raw, partial))
        print(f"{args.services} services x {args.endpoints} endpoints: {lines} restore lines "
              f"({'large cluster mode' if p.large_cluster_mode else 'with comments'}); "
              f"first sync {first:.2f}s")
        print(f"full sync          median {m_full:.3f}s  runs {[round(x, 3) for x in full]}")
        print(f"raw iptables-restore median {m_raw:.3f}s  runs {[round(x, 3) for x in raw]}")
        print(f"one-service sync   median {m_partial:.3f}s  runs {[round(x, 3) for x in partial]}")
        print(f"ratio full sync / raw restore:        {m_full / m_raw:.2f} (target <= 1.2); "
              f"per run {[round(f / r, 2) for f, r in zip(full, raw)]}")
        print(f"ratio one-service sync / raw restore: {m_partial / m_raw:.3f} (target <= 0.1); "
              f"per run {[round(x / r, 3) for x, r in zip(partial, raw)]}")
        overhead = sum(own.values())
        print(f"proxier's own work per full sync: {overhead:.3f}s ("
              + ", ".join(f"{k} {v:.3f}s" for k, v in own.items())
              + f") = {overhead / m_raw:.2f} of the median raw restore")
        print("network programming latency p50/p99: needs the lab at stage proxy (TODO)")
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


if __name__ == "__main__":
    main()
