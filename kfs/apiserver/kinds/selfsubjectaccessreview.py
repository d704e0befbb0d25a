"""SelfSubjectAccessReviews (``authorization.k8s.io/v1``): "may I?", what ``kubectl auth
can-i`` asks. Never stored: a create is answered with the review's ``status`` (allowed,
reason) for the requesting user, from the same authorizer every request passes.

Mirrors pkg/registry/authorization/selfsubjectaccessreview/rest.go.

What real Kubernetes does differently: the review goes through every authorizer in the
chain (Node, RBAC, webhooks), not RBAC alone.
"""
from kfs.apiserver.kinds import Kind


class SelfSubjectAccessReview(Kind):
    api_version, kind = "authorization.k8s.io/v1", "SelfSubjectAccessReview"

    def review(self, authorizer, user, spec):
        return authorizer.self_subject_access_review(user, spec)


KIND = SelfSubjectAccessReview
