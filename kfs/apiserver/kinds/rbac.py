"""What RBAC's four kinds share: the rules of Roles and ClusterRoles, and the subjects and
roleRef of RoleBindings and ClusterRoleBindings.

- a Role's or ClusterRole's rule needs verbs, and either resources with API groups or
  non-resource URLs (never both; a namespaced Role none at all);
- a binding refers to a Role or ClusterRole of ``rbac.authorization.k8s.io`` by name (a
  ClusterRoleBinding only to a ClusterRole), its ``roleRef`` never changes, and its
  subjects are Users, Groups (API group defaulted to rbac's) or ServiceAccounts (with a
  namespace);
- names are path segments (``system:kube-scheduler`` is a fine name);
- bindings print ROLE, and USERS, GROUPS, SERVICEACCOUNTS with ``-o wide``.

Mirrors pkg/apis/rbac/v1/defaults.go (SetDefaults_Subject), pkg/apis/rbac/validation
(ValidateRole, ValidateRoleBinding, ValidateRoleBindingUpdate, validateRoleBindingSubject),
pkg/registry/rbac/*/strategy.go and printRoleBinding / printClusterRoleBinding.

What real Kubernetes does differently: escalation checks in the REST storage (you may only
grant the permissions you have, or hold ``escalate``/``bind``), and ClusterRole
aggregation by label selectors (the aggregation controller fills ``rules``).
"""
from kfs import meta
from kfs.apiserver.kinds import Kind
from kfs.apiserver.tables import AGE, NAME, age, col
from kfs.apiserver.validation.fields import (
    Go, _each, go_repr, invalid, name_is_subdomain, not_supported, path_segment_name, required)

RBAC_GROUP = "rbac.authorization.k8s.io"
RBAC_VERSION = f"{RBAC_GROUP}/v1"
SUBJECTS_WIDE = [col(f"{k}", description=f"{k} in the roleBinding", priority=1)
                 for k in ("Users", "Groups", "ServiceAccounts")]


def validate_rules(role, namespaced):
    errs = []
    for i, rule in enumerate(role.get("rules") or []):
        p = f"rules[{i}]"
        if not rule.get("verbs"):
            errs.append(required(f"{p}.verbs", "verbs must contain at least one value"))
        if rule.get("nonResourceURLs"):
            if namespaced:
                errs.append(invalid(f"{p}.nonResourceURLs", rule["nonResourceURLs"],
                                    "namespaced rules cannot apply to non-resource URLs"))
            if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
                errs.append(invalid(f"{p}.nonResourceURLs", rule["nonResourceURLs"],
                                    "rules cannot apply to both regular resources and non-resource URLs"))
            continue
        if not rule.get("apiGroups"):
            errs.append(required(f"{p}.apiGroups", "resource rules must supply at least one api group"))
        if not rule.get("resources"):
            errs.append(required(f"{p}.resources", "resource rules must supply at least one resource"))
    return errs


def validate_binding(binding, namespaced):
    ref, errs = binding.get("roleRef") or {}, []
    if ref.get("apiGroup") != RBAC_GROUP:
        errs.append(not_supported("roleRef.apiGroup", ref.get("apiGroup", ""), [RBAC_GROUP]))
    kinds = ["Role", "ClusterRole"] if namespaced else ["ClusterRole"]
    if ref.get("kind") not in kinds:
        errs.append(not_supported("roleRef.kind", ref.get("kind", ""), kinds))
    if not ref.get("name"):
        errs.append(required("roleRef.name"))
    else:
        errs += _each(path_segment_name(ref["name"]), "roleRef.name", ref["name"])
    for i, s in enumerate(binding.get("subjects") or []):
        errs += validate_subject(s, namespaced, f"subjects[{i}]")
    return errs


def validate_subject(s, namespaced, path):
    errs = [] if s.get("name") else [required(f"{path}.name")]
    kind, group = s.get("kind"), s.get("apiGroup", "")
    if kind == "ServiceAccount":
        if s.get("name"):
            errs += _each(name_is_subdomain(s["name"]), f"{path}.name", s["name"])
        if group:
            errs.append(not_supported(f"{path}.apiGroup", group, [""]))
        if not namespaced and not s.get("namespace"):
            errs.append(required(f"{path}.namespace"))
    elif kind in ("User", "Group"):
        if group != RBAC_GROUP:
            errs.append(not_supported(f"{path}.apiGroup", group, [RBAC_GROUP]))
    else:
        errs.append(not_supported(f"{path}.kind", kind or "", ["ServiceAccount", "User", "Group"]))
    return errs


def print_binding(b, now):
    ref = b.get("roleRef") or {}
    subjects = b.get("subjects") or []
    users = [s.get("name", "") for s in subjects if s.get("kind") == "User"]
    groups = [s.get("name", "") for s in subjects if s.get("kind") == "Group"]
    sas = [f"{s.get('namespace', '')}/{s.get('name', '')}" for s in subjects if s.get("kind") == "ServiceAccount"]
    return [meta.name(b), f"{ref.get('kind', '')}/{ref.get('name', '')}", age(b, now),
            ", ".join(users), ", ".join(groups), ", ".join(sas)]


class RoleKind(Kind):
    """A Role or a ClusterRole."""

    api_version = RBAC_VERSION
    name_rule = staticmethod(path_segment_name)

    def validate(self, role):
        return validate_rules(role, self.namespaced)


class BindingKind(Kind):
    """A RoleBinding or a ClusterRoleBinding."""

    api_version = RBAC_VERSION
    name_rule = staticmethod(path_segment_name)
    role_description = ""

    @property
    def columns(self):
        return [NAME, col("Role", description=self.role_description), AGE, *SUBJECTS_WIDE]

    def default(self, binding):
        for subject in binding.get("subjects") or []:
            if subject.get("kind") in ("User", "Group"):
                subject.setdefault("apiGroup", RBAC_GROUP)
            elif subject.get("kind") == "ServiceAccount":
                subject.setdefault("apiGroup", "")

    def validate(self, binding):
        return validate_binding(binding, self.namespaced)

    def validate_update(self, new, old):
        ref = new.get("roleRef") or {}
        if ref == (old.get("roleRef") or {}):
            return []
        return [invalid("roleRef", Go(f'rbac.RoleRef{{APIGroup:{go_repr(ref.get("apiGroup", ""))}, '
                                      f'Kind:{go_repr(ref.get("kind", ""))}, Name:{go_repr(ref.get("name", ""))}}}'),
                        "cannot change roleRef")]

    def print_row(self, binding, now):
        return print_binding(binding, now)
