"""Notebook 07's answers."""

EXCLUDED_TAINTS = ("node.cloudprovider.kubernetes.io/uninitialized",
                   "ToBeDeletedByClusterAutoscaler")


def load_balancer_backends(nodes):
    found = []
    for n in nodes:
        if "node.kubernetes.io/exclude-from-external-load-balancers" in (
                n["metadata"].get("labels") or {}):
            continue
        if any(t["key"] in EXCLUDED_TAINTS for t in n["spec"].get("taints") or []):
            continue
        found += [a["address"] for a in n["status"].get("addresses") or []
                  if a["type"] == "InternalIP"][:1]
    return sorted(found)
