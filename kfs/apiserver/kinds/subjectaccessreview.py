"""SubjectAccessReviews (``authorization.k8s.io/v1``): "may this user (and groups)?", for
admins and webhooks (``kubectl auth can-i --as``). Never stored: answered at once.

Mirrors pkg/registry/authorization/subjectaccessreview/rest.go.

What real Kubernetes does differently: the review goes through every authorizer in the
chain, and ``extra`` and ``uid`` of the subject count too.
"""
from kfs.apiserver.kinds import Kind


class SubjectAccessReview(Kind):
    api_version, kind = "authorization.k8s.io/v1", "SubjectAccessReview"

    def review(self, authorizer, user, spec):
        return authorizer.subject_access_review(spec)


KIND = SubjectAccessReview
