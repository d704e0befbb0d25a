"""SelfSubjectRulesReviews (``authorization.k8s.io/v1``): "what may I do in this
namespace?", what ``kubectl auth can-i --list`` asks. Never stored: a create is answered
with the rules RBAC grants the requesting user in ``spec.namespace`` (resource rules, then
non-resource rules), from the same bindings every request is authorized by.

Mirrors pkg/registry/authorization/selfsubjectrulesreview/rest.go.

What real Kubernetes does differently: the rules come from every authorizer in the chain
that can list them (RBAC, the Node authorizer, webhooks); one that cannot makes the answer
``incomplete``.
"""
from kfs.apiserver.kinds import Kind


class SelfSubjectRulesReview(Kind):
    api_version, kind = "authorization.k8s.io/v1", "SelfSubjectRulesReview"

    def review(self, authorizer, user, spec):
        return authorizer.self_subject_rules_review(user, spec)


KIND = SelfSubjectRulesReview
