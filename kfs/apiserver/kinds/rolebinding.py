"""RoleBindings (``rbac.authorization.k8s.io/v1``) grant a Role's (or a ClusterRole's)
rules within one namespace, to users, groups and service accounts.

The rules every binding follows (roleRef, subjects, printing) are in ``kinds/rbac.py``.

Mirrors pkg/registry/rbac/rolebinding/strategy.go, pkg/apis/rbac/validation
(ValidateRoleBinding) and printRoleBinding.

What real Kubernetes does differently: see ``kinds/rbac.py`` (escalation checks).
"""
from kfs.apiserver.kinds.rbac import BindingKind


class RoleBinding(BindingKind):
    kind = "RoleBinding"
    role_description = ("RoleRef can reference a Role in the current namespace or a ClusterRole "
                        "in the global namespace.")


KIND = RoleBinding
