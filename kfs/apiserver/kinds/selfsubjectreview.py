"""SelfSubjectReviews (``authentication.k8s.io/v1``): "who am I?", what ``kubectl auth
whoami`` asks. Never stored: a create is answered with the requesting user as
authentication saw it (``status.userInfo``: username, uid, groups, extra), after
impersonation, so ``kubectl auth whoami --as alice`` says alice.

Mirrors pkg/registry/authentication/selfsubjectreview/rest.go.

What real Kubernetes does differently: nothing much; the API is there to debug
authentication proxies and webhook token authenticators, which kfs does not have.
"""
from kfs.apiserver.kinds import Kind


class SelfSubjectReview(Kind):
    api_version, kind = "authentication.k8s.io/v1", "SelfSubjectReview"

    def review(self, authorizer, user, spec):
        return {"userInfo": user.to_user_info()}


KIND = SelfSubjectReview
