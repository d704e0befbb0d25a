"""What a request asks for, read from its method and path alone: the authorizer's input.

``GET /apis/apps/v1/namespaces/default/deployments/web/scale`` is verb ``get``, group
``apps``, version ``v1``, namespace ``default``, resource ``deployments``, name ``web``,
subresource ``scale``. The verb is the HTTP method, refined: a GET without a name is
``list`` (or ``watch`` with ``?watch=true``), a DELETE without a name
``deletecollection``. Paths outside ``/api`` and ``/apis`` resources (``/version``,
``/healthz``, ``/api``, ``/apis/apps``) are *non-resource* requests, authorized by path.

Mirrors ``staging/src/k8s.io/apiserver/pkg/endpoints/request/requestinfo.go``
(``RequestInfoFactory.NewRequestInfo``).

What real Kubernetes does differently: the same rules; it also knows the deprecated
``/api/v1/watch/...`` and ``/proxy`` prefixes.
"""
from dataclasses import dataclass, field

from kfs import meta

API_PREFIXES = ("api", "apis")
GROUPLESS = ("api",)
NAMESPACE_SUBRESOURCES = ("status", "finalize")
METHOD_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update",
                "PATCH": "patch", "DELETE": "delete"}


@dataclass
class RequestInfo:
    path: str
    verb: str
    resource_request: bool = False
    api_prefix: str = ""
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    parts: list = field(default_factory=list)
    in_namespace: bool = False   # the path is /namespaces/<ns>/<resource>...


def _truthy(value):
    return (value or "").lower() in ("true", "1")


def parse(method, path, query):
    """RequestInfo for a request: `query` is a mapping of the query parameters."""
    info = RequestInfo(path=path, verb=method.lower())
    parts = [p for p in path.strip("/").split("/")] if path.strip("/") else []
    if len(parts) < 3 or parts[0] not in API_PREFIXES:
        return info  # a non-resource request: /version, /api, /apis/apps, /healthz
    info.api_prefix, parts = parts[0], parts[1:]
    if info.api_prefix not in GROUPLESS:
        if len(parts) < 3:
            return info
        info.api_group, parts = parts[0], parts[1:]
    info.api_version, parts = parts[0], parts[1:]
    info.resource_request = True
    info.verb = METHOD_VERBS.get(method.upper(), "")

    if parts and parts[0] == "watch":  # the deprecated /api/v1/watch/... form
        info.verb, parts = "watch", parts[1:]

    if parts and parts[0] == "namespaces":
        if len(parts) > 1:
            info.namespace = parts[1]
            if len(parts) > 2 and parts[2] not in NAMESPACE_SUBRESOURCES:
                parts, info.in_namespace = parts[2:], True
    info.parts = parts
    if len(parts) >= 3:
        info.subresource = parts[2]
    if len(parts) >= 2:
        info.name = parts[1]
    if len(parts) >= 1:
        info.resource = parts[0]

    if not info.name and info.verb == "get":
        info.verb = "watch" if _truthy(query.get("watch")) else "list"
        name = _exact_name(query.get("fieldSelector"))
        if name:
            info.name = name
    if not info.name and info.verb == "delete":
        info.verb = "deletecollection"
    return info


def _exact_name(field_selector):
    """The name a ``metadata.name=x`` field selector pins (upstream authorizes on it)."""
    try:
        reqs = meta.parse_field_selector(field_selector or "")
    except meta.SelectorError:
        return ""
    for path, op, value in reqs:
        if path == "metadata.name" and op == "=" and value and "/" not in value:
            return value
    return ""
