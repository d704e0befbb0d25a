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

The namespace is a throwaway one, not a lab machine's: each lab machine's nat table is its
own kube-proxy's, and a second proxier syncing 1,000 Services there would fight it (each
removes the other's chains as stale). It is the same kernel and the same `iptables-restore`
(iptables-nft) as the machines'.

With ``--lab`` (the lab ``KFS_LAB`` names, at stage ``proxy`` or later) the same run then
measures the third figure, **network-programming latency**: a Service ``bench-np`` with no selector and an
EndpointSlice of its own in namespace ``default``; each of ``--changes`` (default 50) changes
replaces the slice's endpoint with a new address (an update through the API server, carrying
``endpoints.kubernetes.io/last-change-trigger-time`` as the EndpointSlice controller would),
and the time from before that update to the ``DNAT --to-destination <new address>`` rule
being in node1's ``iptables-save -t nat`` (polled every 10 ms) is one sample; p50/p99 of
them, and ``kubeproxy_network_programming_duration_seconds`` from node1's kube-proxy
/metrics (its own measure of the same interval: mean over the changes). The Service and
slice are deleted at the end. Changes made back to back each wait out kube-proxy's
``--min-sync-period`` (1 s, as upstream's default), so the median is about that second;
``--interval 1.5`` spaces the changes to show the latency of the sync itself.

    KFS_LAB=... .venv/bin/python bench/proxy_sync.py --lab [--changes 50] [--interval 1.5]

(``--runs 0`` skips the sync ratios.)
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


# -- --lab: network-programming latency on node1 -------------------------------------------

LAB_SERVICE = "bench-np"


def lab_slice(address, resource_version=None):
    from datetime import datetime, timezone
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": LAB_SERVICE, "namespace": "default",
                         "labels": {"kubernetes.io/service-name": LAB_SERVICE,
                                    "endpointslice.kubernetes.io/managed-by": "bench"},
                         "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": now},
                         **({"resourceVersion": resource_version} if resource_version else {})},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}


def programming_histogram(node):
    """(sum, count) of kube-proxy's network_programming_duration_seconds on `node`."""
    out = node.run(["curl", "-s", "http://127.0.0.1:10249/metrics"],  # --metrics-bind-address
                   capture_output=True, text=True, timeout=10).stdout
    values = {}
    for line in out.splitlines():
        for key in ("sum", "count"):
            if line.startswith(f"kubeproxy_network_programming_duration_seconds_{key} "):
                values[key] = float(line.split()[-1])
    return values.get("sum", 0.0), values.get("count", 0.0)


def proxy_lab():
    """The lab KFS_LAB names, if it is at stage proxy or later (else exit, saying so)."""
    from kfs.lab import Lab
    from kfs.lab.stages import STAGES
    lab = Lab()
    if lab.stage not in STAGES or STAGES.index(lab.stage) < STAGES.index("proxy"):
        sys.exit(f"bench/proxy_sync.py --lab: lab {lab.name} is at stage {lab.stage}; "
                 "bring it to stage proxy or later first (kfs lab up --stage proxy)")
    return lab


def lab_run(args, lab):
    from kfs.client import Client
    from kfs.util import wait_for
    api, node1 = Client.from_kubeconfig(lab.admin_kubeconfig), lab.machine("node1")
    nat = Iptables(node1.command([]))   # iptables run on node1
    api.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": LAB_SERVICE},
                "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}},
               namespace="default")
    try:
        api.create(lab_slice("10.250.0.1"), namespace="default")
        wait_for(lambda: "10.250.0.1:8080" in nat.save("nat"), 30, interval=0.01,
                 what="the first endpoint's rule on node1")
        before = programming_histogram(node1)
        samples = []
        for i in range(args.changes):
            address = f"10.250.{1 + i // 250}.{1 + i % 250}"
            rv = api.get("endpointslices", LAB_SERVICE, "default")["metadata"]["resourceVersion"]
            start = time.monotonic()
            api.replace(lab_slice(address, rv))
            wait_for(lambda: f"--to-destination {address}:8080" in nat.save("nat"), 30,
                     interval=0.01, what=f"the rule for {address} on node1")
            samples.append(time.monotonic() - start)
            time.sleep(args.interval)   # pacing the load (see --interval), not a wait on state
        after = programming_histogram(node1)
    finally:
        for kind in ("endpointslices", "services"):
            try:
                api.delete(kind, LAB_SERVICE, "default")
            except Exception as e:  # noqa: BLE001 - best effort, say what stays
                print(f"(could not delete {kind} {LAB_SERVICE}: {e})")
    samples.sort()
    p = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))]  # noqa: E731
    print(f"network programming latency on node1 ({lab.name}), {len(samples)} endpoint changes: "
          f"p50 {p(0.5) * 1000:.0f} ms  p99 {p(0.99) * 1000:.0f} ms  max {samples[-1] * 1000:.0f} ms")
    count = after[1] - before[1]
    if count:
        print(f"kube-proxy's own kubeproxy_network_programming_duration_seconds: mean "
              f"{(after[0] - before[0]) / count * 1000:.0f} ms over {count:.0f} observations")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--endpoints", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--lab", action="store_true",
                    help="network-programming latency in the lab KFS_LAB names (see the docstring)")
    ap.add_argument("--changes", type=int, default=50, help="with --lab: endpoint changes")
    ap.add_argument("--interval", type=float, default=0.0,
                    help="with --lab: seconds between one change's rule and the next change "
                         "(kube-proxy's --min-sync-period, 1 s, holds back a sync that follows "
                         "the last one sooner; 1.5 shows the latency without that wait)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/proxy_sync.py needs root (a network namespace and iptables)")
    lab = proxy_lab() if args.lab else None
    if args.runs > 0:
        sync_ratios(args)
    if lab:
        lab_run(args, lab)
    else:
        print("network programming latency p50/p99: --lab (the lab at stage proxy or later)")


def sync_ratios(args):
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
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


if __name__ == "__main__":
    main()
