"""Roles (``rbac.authorization.k8s.io/v1``): rules that grant access within one namespace.

The rules every role follows are in ``kinds/rbac.py``; the API server reads roles into its
authorizer (``kfs.apiserver.rbac``) through a cache, never from etcd per request.

Mirrors pkg/registry/rbac/role/strategy.go and pkg/apis/rbac/validation (ValidateRole).

What real Kubernetes does differently: see ``kinds/rbac.py`` (escalation checks, aggregation).
"""
from kfs.apiserver.kinds.rbac import RoleKind


class Role(RoleKind):
    kind = "Role"


KIND = Role
