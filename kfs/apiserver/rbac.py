"""Authorization: may this user do this verb to this resource? Role-based access control.

After authentication (``authn``) the API server describes the request as `Attributes`
(user, verb, group, resource, subresource, name, namespace, or a non-resource path such
as ``/healthz``) and asks `Authorizer.authorize`. The answer is read from four kinds of
objects the API server stores like any other:

- a **Role** (in a namespace) or **ClusterRole** is a list of rules: verbs x apiGroups x
  resources [x resourceNames], or verbs x nonResourceURLs; ``*`` matches anything,
  ``pods/log`` is a subresource, ``*/scale`` any resource's scale, ``/apis/*`` a prefix;
- a **ClusterRoleBinding** grants a ClusterRole's rules to subjects everywhere;
- a **RoleBinding** grants a Role's or a ClusterRole's rules only in its own namespace;
- subjects are a ``User`` (the name), a ``Group`` (one of the user's groups), or a
  ``ServiceAccount`` (user ``system:serviceaccount:<namespace>:<name>``).

A request is allowed as soon as one rule of one binding that names the user matches;
nothing ever denies. Users in ``system:masters`` are allowed everything before RBAC is
asked, as upstream's privileged-group authorizer does. A refusal becomes a 403 whose
message `forbidden_message` writes word for word as the real API server does, e.g.
``pods is forbidden: User "system:node:node1" cannot list resource "pods" in API group ""
in the namespace "default"``. The same check answers ``kubectl auth can-i``
(`self_subject_access_review`) and SubjectAccessReviews.

Mirrors plugin/pkg/auth/authorizer/rbac/rbac.go, pkg/apis/rbac/v1/evaluation_helpers.go,
pkg/registry/rbac/validation/rule.go, the handlers' responsewriters/errors.go
(``forbiddenMessage``) and pkg/registry/authorization/*accessreview*.

What real Kubernetes does differently: the rules come from informer caches indexed by
subject; aggregated ClusterRoles (``aggregationRule``) are filled in by a controller; the
Node authorizer limits each kubelet to its own node's objects; webhook and ABAC modes;
RBAC objects themselves are guarded against privilege escalation on write.
"""
from dataclasses import dataclass

from kfs.apiserver.authn import User

PRIVILEGED_GROUP = "system:masters"


@dataclass(frozen=True)
class Attributes:
    """What a request wants to do (upstream ``authorizer.AttributesRecord``)."""
    user: User
    verb: str
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    namespace: str = ""
    resource_request: bool = True
    path: str = ""          # for non-resource requests: /healthz, /version, /apis
    api_version: str = ""

    @classmethod
    def of(cls, user, info):
        """From the API server's ``requestinfo.RequestInfo`` (or anything with its fields)."""
        return cls(user, info.verb, info.api_group, info.resource, info.subresource, info.name,
                   info.namespace, info.resource_request, info.path, info.api_version)


class ReviewInvalid(ValueError):
    """A malformed access review: answer 422 naming `field`."""

    def __init__(self, field, message):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


# -- one rule -------------------------------------------------------------------------------

def verb_matches(rule, verb):
    return any(v in ("*", verb) for v in rule.get("verbs") or ())


def api_group_matches(rule, group):
    return any(g in ("*", group) for g in rule.get("apiGroups") or ())


def resource_matches(rule, combined, subresource):
    """`combined` is "pods" or "pods/log"; a rule's "*/log" matches any resource's log."""
    for r in rule.get("resources") or ():
        if r in ("*", combined):
            return True
        if subresource and r == f"*/{subresource}":
            return True
    return False


def resource_name_matches(rule, name):
    names = rule.get("resourceNames") or ()
    return not names or name in names


def non_resource_url_matches(rule, path):
    for url in rule.get("nonResourceURLs") or ():
        if url in ("*", path) or (url.endswith("*") and path.startswith(url.rstrip("*"))):
            return True
    return False


def rule_allows(attrs, rule):
    if attrs.resource_request:
        combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
        return (verb_matches(rule, attrs.verb) and api_group_matches(rule, attrs.api_group)
                and resource_matches(rule, combined, attrs.subresource)
                and resource_name_matches(rule, attrs.name))
    return verb_matches(rule, attrs.verb) and non_resource_url_matches(rule, attrs.path)


# -- who a binding names --------------------------------------------------------------------

def applies_to(user, subject, namespace):
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return user.name == name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        sa_namespace = subject.get("namespace") or namespace
        return bool(sa_namespace) and user.name == f"system:serviceaccount:{sa_namespace}:{name}"
    return False


def describe_subject(subject, binding_namespace):
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "ServiceAccount":
        name = f"{name}/{subject.get('namespace') or binding_namespace}"
    return f'{kind} "{name}"'


def describe_binding(binding, subject):
    ref = binding.get("roleRef", {})
    ns = binding["metadata"].get("namespace")
    label = f'RoleBinding "{binding["metadata"]["name"]}/{ns}"' if ns else \
        f'ClusterRoleBinding "{binding["metadata"]["name"]}"'
    role = f'{ref.get("kind")} "{ref.get("name")}"'
    return f"{label} of {role} to {describe_subject(subject, ns or '')}"


# -- the authorizer ---------------------------------------------------------------------------

class Authorizer:
    """RBAC over the current Role/ClusterRole/RoleBinding/ClusterRoleBinding objects.

    `list_objects(kind)`, kind being "Role", "ClusterRole", "RoleBinding" or
    "ClusterRoleBinding", returns the stored objects of that kind in all namespaces: the
    API server passes a function over its cache, the tests one over a list.
    """

    def __init__(self, list_objects, privileged_groups=(PRIVILEGED_GROUP,)):
        self.list_objects = list_objects
        self.privileged_groups = tuple(privileged_groups)

    def visit_rules_for(self, user, namespace):
        """Yield (source, rule, error) for every rule granted to `user` in `namespace`:
        ClusterRoleBindings first, then the namespace's RoleBindings."""
        bindings = [(b, "") for b in self.list_objects("ClusterRoleBinding")]
        if namespace:
            bindings += [(b, namespace) for b in self.list_objects("RoleBinding")
                         if b["metadata"].get("namespace") == namespace]
        for binding, ns in bindings:
            subject = next((s for s in binding.get("subjects") or ()
                            if applies_to(user, s, ns)), None)
            if subject is None:
                continue
            rules, error = self.role_reference_rules(binding.get("roleRef", {}), ns)
            if error:
                yield None, None, error
            for rule in rules:
                yield describe_binding(binding, subject), rule, None

    def role_reference_rules(self, ref, namespace):
        """The rules a roleRef points at: ([rules], None) or ([], "error text")."""
        kind, name = ref.get("kind"), ref.get("name")
        if kind not in ("Role", "ClusterRole"):
            return [], f'unsupported role reference kind: "{kind}"'
        for role in self.list_objects(kind):
            if role["metadata"]["name"] == name and (
                    kind == "ClusterRole" or role["metadata"].get("namespace") == namespace):
                return role.get("rules") or [], None
        return [], f'{kind.lower()}.rbac.authorization.k8s.io "{name}" not found'

    def authorize(self, attrs):
        """(allowed, reason): the reason names the granting binding, or resolution errors."""
        if set(self.privileged_groups) & set(attrs.user.groups):
            return True, ""
        errors = []
        for source, rule, error in self.visit_rules_for(attrs.user, attrs.namespace):
            if rule is not None and rule_allows(attrs, rule):
                return True, f"RBAC: allowed by {source}"
            if error:
                errors.append(error)
        errors = list(dict.fromkeys(errors))
        if not errors:
            return False, ""
        return False, "RBAC: " + (errors[0] if len(errors) == 1 else f"[{', '.join(errors)}]")

    def rules_for(self, user, namespace):
        """(resource rules, non-resource rules, errors) granted to `user` in `namespace` by
        RBAC. As upstream, the privileged group's shortcut is not a rule: an admin's rules are
        those of the bindings naming system:masters (cluster-admin's) and the others."""
        resource_rules, non_resource_rules, errors = [], [], []
        for _, rule, error in self.visit_rules_for(user, namespace):
            if error:
                errors.append(error)
            elif rule.get("nonResourceURLs"):
                non_resource_rules.append({"verbs": list(rule.get("verbs") or ()),
                                           "nonResourceURLs": list(rule["nonResourceURLs"])})
            else:
                resource_rules.append({k: list(rule[k]) for k in
                                       ("verbs", "apiGroups", "resources", "resourceNames")
                                       if rule.get(k)})
        return resource_rules, non_resource_rules, errors

    # -- the review APIs (authorization.k8s.io/v1) ------------------------------------------

    def self_subject_access_review(self, user, spec):
        """`kubectl auth can-i`: the status of a SelfSubjectAccessReview for `user`."""
        return self._review(user, spec)

    def subject_access_review(self, spec):
        """The status of a SubjectAccessReview: may spec.user/groups do it?"""
        if not spec.get("user") and not spec.get("groups"):
            raise ReviewInvalid("spec.user", "at least one of user or group must be specified")
        user = User(spec.get("user", ""), tuple(spec.get("groups") or ()),
                    spec.get("uid", ""), spec.get("extra") or {})
        return self._review(user, spec)

    def self_subject_rules_review(self, user, spec):
        """`kubectl auth can-i --list`: the status of a SelfSubjectRulesReview."""
        namespace = spec.get("namespace", "")
        resource_rules, non_resource_rules, errors = self.rules_for(user, namespace)
        status = {"resourceRules": resource_rules, "nonResourceRules": non_resource_rules,
                  "incomplete": bool(errors)}
        if errors:
            status["evaluationError"] = ", ".join(errors)
        return status

    def _review(self, user, spec):
        allowed, reason = self.authorize(attributes_from_review(user, spec))
        status = {"allowed": allowed}
        if reason:
            status["reason"] = reason
        return status


def attributes_from_review(user, spec):
    resource, non_resource = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if resource is not None and non_resource is not None:
        raise ReviewInvalid("spec.nonResourceAttributes",
                            "cannot be specified in combination with resourceAttributes")
    if resource is None and non_resource is None:
        raise ReviewInvalid("spec.resourceAttributes", "exactly one of nonResourceAttributes "
                            "or resourceAttributes must be specified")
    if resource is not None:
        return Attributes(user, resource.get("verb", ""), resource.get("group", ""),
                          resource.get("resource", ""), resource.get("subresource", ""),
                          resource.get("name", ""), resource.get("namespace", ""),
                          api_version=resource.get("version", ""))
    return Attributes(user, non_resource.get("verb", ""), resource_request=False,
                      path=non_resource.get("path", ""))


# -- the 403 ------------------------------------------------------------------------------------

_SANITIZE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def forbidden_reason(attrs, reason=""):
    """upstream's ``forbiddenMessage`` (+ ": reason"): what the user cannot do. For a
    resource request, ``errors.forbidden(resource, name, forbidden_reason(attrs, reason))``
    wraps it into the whole message; `forbidden_message` does the same on its own."""
    who = f'User "{attrs.user.name}" cannot {attrs.verb}'
    if not attrs.resource_request:
        text = f'{who} path "{attrs.path}"'
    else:
        resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
        text = f'{who} resource "{resource}" in API group "{attrs.api_group}"'
        text += (f' in the namespace "{attrs.namespace}"' if attrs.namespace
                 else " at the cluster scope")
    text = text.translate(_SANITIZE)
    return f"{text}: {reason}" if reason else text


def forbidden_message(attrs, reason=""):
    """The 403's message, as ``NewForbidden`` wraps it: ``pods "p" is forbidden: User ...``.
    A non-resource request has no resource to name: ``forbidden: User "x" cannot get path ...``."""
    text = forbidden_reason(attrs, reason)
    if not attrs.resource_request or not attrs.resource:
        return f"forbidden: {text}"
    group_resource = f"{attrs.resource}.{attrs.api_group}" if attrs.api_group else attrs.resource
    if attrs.name:
        return f'{group_resource} "{attrs.name}" is forbidden: {text}'
    return f"{group_resource} is forbidden: {text}"
