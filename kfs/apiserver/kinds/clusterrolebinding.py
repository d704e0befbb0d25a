"""ClusterRoleBindings (``rbac.authorization.k8s.io/v1``) grant a ClusterRole's rules
everywhere, to users, groups and service accounts.

The rules every binding follows (roleRef, subjects, printing) are in ``kinds/rbac.py``.

Mirrors pkg/registry/rbac/clusterrolebinding/strategy.go, pkg/apis/rbac/validation
(ValidateClusterRoleBinding) and printClusterRoleBinding.

What real Kubernetes does differently: see ``kinds/rbac.py`` (escalation checks).
"""
from kfs.apiserver.kinds.rbac import BindingKind


class ClusterRoleBinding(BindingKind):
    kind = "ClusterRoleBinding"
    role_description = "RoleRef can only reference a ClusterRole in the global namespace."


KIND = ClusterRoleBinding
