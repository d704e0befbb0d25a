"""Which of a service port's endpoints its rules may use: upstream ``pkg/proxy/topology.go``.

A Service with traffic policies ``Cluster`` uses every ready endpoint; with ``Local``
(``externalTrafficPolicy`` or ``internalTrafficPolicy``) only the ready endpoints on this
node. When a policy finds no ready endpoint it falls back to the serving-and-terminating
ones, so connections keep working while the last pods shut down gracefully.

What real Kubernetes does differently: topology-aware hints (``hints.forZones``, the
``trafficDistribution: PreferClose`` field) narrow the cluster endpoints to the node's
zone when the EndpointSlice controller gave hints.
"""


def categorize_endpoints(endpoints, svc):
    """(cluster endpoints, local endpoints, all locally reachable, has any endpoints).

    Usable means ready; if a policy finds no ready endpoint it falls back to the
    serving-and-terminating ones (independently for Cluster and Local), so connections
    keep working while the last pods shut down gracefully.
    """
    cluster, local, has_any = [], [], False
    if svc.uses_cluster_endpoints():
        cluster = [e for e in endpoints if e.ready] or \
            [e for e in endpoints if e.serving and e.terminating]
        has_any = bool(cluster)
    if not svc.uses_local_endpoints():
        return cluster, local, cluster, has_any
    usable = [e for e in endpoints if e.ready or (e.serving and e.terminating)]
    has_any = has_any or bool(usable)
    local = [e for e in endpoints if e.is_local and e.ready]
    fallback = not local
    if fallback:
        local = [e for e in endpoints if e.is_local and e.serving and e.terminating]
    if not svc.uses_cluster_endpoints():
        return cluster, local, local, has_any
    if not fallback:
        return cluster, local, cluster, has_any
    merged = {str(e): e for e in (*cluster, *local)}
    return cluster, local, list(merged.values()), has_any
