"""ClusterRoles (``rbac.authorization.k8s.io/v1``): rules that hold cluster-wide, and may
also grant cluster-scoped resources (nodes) and non-resource URLs (``/healthz``).

The rules every role follows are in ``kinds/rbac.py``; the API server reads roles into its
authorizer (``kfs.apiserver.rbac``) through a cache, never from etcd per request.

Mirrors pkg/registry/rbac/clusterrole/strategy.go and pkg/apis/rbac/validation (ValidateClusterRole).

What real Kubernetes does differently: see ``kinds/rbac.py`` (escalation checks, aggregation).
"""
from kfs.apiserver.kinds.rbac import RoleKind


class ClusterRole(RoleKind):
    kind = "ClusterRole"


KIND = ClusterRole
