"""Every error the API server returns is a ``Status`` object, with the HTTP code in it.

kubectl prints them as ``Error from server (NotFound): pods "x" not found``: the reason in
brackets, then the message, so the messages here are upstream's, word for word. Clients
branch on ``reason`` and ``code`` (409 Conflict: re-read and retry; 410 Expired: relist),
and ``details.causes`` tells which field of a bad object is wrong (422 Invalid).

Mirrors ``staging/src/k8s.io/apimachinery/pkg/api/errors/errors.go``.

What real Kubernetes does differently: the same, with Go types; a few more reasons
(TooManyRequests from API priority and fairness, ServerTimeout for generated names).
"""


class StatusError(Exception):
    """Raise anywhere in a request; the server answers with `status` and its code."""

    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.always_details = details is not None  # "details": {} is sent too
        self.details = details or {}
        self.headers = headers or {}

    @property
    def status(self):
        out = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": self.message, "reason": self.reason, "code": self.code}
        if self.details or self.always_details:
            out["details"] = self.details
        if not self.reason:
            del out["reason"]
        return out


def _details(resource, name=None, kind=None, causes=None):
    d = {}
    if name:
        d["name"] = name
    if resource is not None and resource.group:
        d["group"] = resource.group
    if kind or resource is not None:
        d["kind"] = kind or resource.plural
    if causes:
        d["causes"] = causes
    return d


def qualified(resource):
    """``deployments.apps``, ``pods``: how messages name a resource."""
    return resource.group_resource


def not_found(resource, name):
    return StatusError(404, "NotFound", f'{qualified(resource)} "{name}" not found',
                       _details(resource, name))


def resource_not_found():
    """An unknown path under /api or /apis (kubectl: "the server doesn't have a resource type").

    Its ``details`` is there and empty, as NewGenericServerResponse's: kubectl debug reads
    ``details.name`` of a 404 to tell a missing subresource from a missing pod (and
    dereferences it: without ``details`` kubectl 1.32 panics)."""
    return StatusError(404, "NotFound", "the server could not find the requested resource",
                       {})


def already_exists(resource, name):
    return StatusError(409, "AlreadyExists", f'{qualified(resource)} "{name}" already exists',
                       _details(resource, name))


def conflict(resource, name, why="the object has been modified; please apply your changes "
                                 "to the latest version and try again"):
    return StatusError(409, "Conflict",
                       f'Operation cannot be fulfilled on {qualified(resource)} "{name}": {why}',
                       _details(resource, name))


def invalid(resource, name, causes, message=None):
    """422: `causes` are ``{"reason", "message", "field"}`` as validation returns them."""
    if message is None:
        errs = [f"{c['field']}: {c['message']}" if c.get("field") else c["message"]
                for c in causes]
        joined = errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]"
        message = f'{resource.kind} "{name}" is invalid: {joined}'
    return StatusError(422, "Invalid", message,
                       _details(resource, name, kind=resource.kind, causes=causes))


def bad_request(message):
    return StatusError(400, "BadRequest", message)


def forbidden(resource, name, why):
    what = f'{qualified(resource)} "{name}"' if name else qualified(resource)
    return StatusError(403, "Forbidden", f"{what} is forbidden: {why}",
                       _details(resource, name))


def method_not_allowed():
    return StatusError(405, "MethodNotAllowed",
                       "the server does not allow this method on the requested resource")


def unsupported_media_type(content_type, accepted):
    return StatusError(415, "UnsupportedMediaType",
                       f'the body of the request was in an unknown format - accepted media '
                       f'types include: {", ".join(accepted)}', {})


def not_acceptable(accepted):
    return StatusError(406, "NotAcceptable",
                       f'only the following media types are accepted: {", ".join(accepted)}')


def too_large(limit):
    return StatusError(413, "RequestEntityTooLarge",
                       f"Request entity too large: limit is {limit}")


def expired(message):
    return StatusError(410, "Expired", message)


def gone(message):
    return StatusError(410, "Gone", message)


def internal(message):
    return StatusError(500, "InternalError",
                       f"Internal error occurred: {message}",
                       {"causes": [{"message": message}]})


def unavailable(message):
    return StatusError(503, "ServiceUnavailable", message)


def timeout(message):
    return StatusError(504, "Timeout", message)
