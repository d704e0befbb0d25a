"""Notebook 04's answers."""
from kfs import meta


def manage_replicas(replicas, pods):
    diff = len(pods) - replicas
    if diff <= 0:
        return -diff, []
    # not Ready first, then the newest first (upstream ranks more keys: ActivePods)
    ranked = sorted(pods, key=lambda p: p["metadata"]["creationTimestamp"], reverse=True)
    ranked.sort(key=lambda p: meta.condition_true(p, "Ready"))
    return 0, [meta.name(p) for p in ranked[:diff]]
