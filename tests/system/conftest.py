"""The system tier's failure reports carry the cluster as it was when the test failed.

A system test that fails in CI is mostly a question of state: which node a pod went to, a
taint left behind, a ReplicaSet waiting for pods. A failed test's report gains a section
"cluster at failure" (nodes with their conditions and taints, the Deployments and
ReplicaSets, every pod with its node and phase, the last Warning events), read from the API server when the lab has
one running; nothing is added when it has none.
"""
import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    lab = getattr(item, "funcargs", {}).get("lab")
    if report.when == "call" and report.failed and lab is not None:
        report.sections.append(("cluster at failure", cluster_state(lab)))


def cluster_state(lab):
    from kfs.client import Client
    try:
        client = Client.from_kubeconfig(lab.admin_kubeconfig)
        client.timeout = 5
        lines = [f"stage {lab.state.get('stage')}"]
        for n in client.list("nodes")["items"]:
            conditions = {c["type"]: c["status"] for c in n["status"].get("conditions", [])}
            lines.append(f"node {n['metadata']['name']}: ready={conditions.get('Ready')} "
                         f"unschedulable={n['spec'].get('unschedulable', False)} "
                         f"taints={[t['key'] + ':' + t['effect'] for t in n['spec'].get('taints', [])]}")
        for kind in ("deployments", "replicasets"):
            for o in client.list(kind)["items"]:
                lines.append(f"{kind[:-1]} {o['metadata']['namespace']}/{o['metadata']['name']}: "
                             f"spec={o['spec'].get('replicas')} status={o.get('status')}")
        for p in client.list("pods")["items"]:
            m, status = p["metadata"], p.get("status") or {}
            ready = [c["status"] for c in status.get("conditions", []) if c["type"] == "Ready"]
            lines.append(f"pod {m['namespace']}/{m['name']}: node={p['spec'].get('nodeName')} "
                         f"phase={status.get('phase')} ready={ready} "
                         f"deleting={m.get('deletionTimestamp')}")
        warnings = [e for e in client.list("events")["items"] if e.get("type") == "Warning"]
        for e in sorted(warnings, key=lambda e: e.get("lastTimestamp") or "")[-20:]:
            o = e["involvedObject"]
            lines.append(f"event {e.get('lastTimestamp')} {o.get('kind')} {o.get('name')}: "
                         f"{e.get('reason')} x{e.get('count', 1)}: {e.get('message')}")
        return "\n".join(lines)
    except Exception as e:  # the API server may be what failed; the report goes on
        return f"(no cluster state: {type(e).__name__}: {e})"
