"""The REST handlers: one per verb, turning an authorized HTTP request into registry calls.

After authentication and authorization (``server.py``), a resource request is routed by
the shape of its path and its method, as upstream's installer lays out the routes:

| path                                   | GET        | POST   | PUT    | PATCH | DELETE           |
|----------------------------------------|------------|--------|--------|-------|------------------|
| ``.../pods``                           | list/watch | create |        |       | deletecollection |
| ``.../pods/p``                         | get        |        | update | patch | delete           |
| ``.../pods/p/status``, ``.../d/scale`` | get        |        | update | patch |                  |
| ``.../pods/p/binding``                 |            | create |        |       |                  |
| ``.../pods/p/log``                     | get (proxied to the kubelet)                            |

Anything else is 404 (no such resource) or 405 (no such verb on it).

Mirrors ``apiserver/pkg/endpoints/installer.go`` (the routes) and ``handlers/`` (get.go,
create.go, update.go, patch.go, delete.go, watch.go), plus ``pkg/registry/core/pod/rest/log.go``.

What real Kubernetes does differently: every route is registered per resource from its
storage's interfaces; requests carry a context with deadlines and audit annotations;
``pods/log`` goes through the kubelet's ``/containerLogs`` as here, but via a generic
location-based proxy.
"""
import json
import ssl
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from kfs import resources
from kfs.apiserver import admission, errors, negotiation, rbac, registry as reg, strategy, watch

RETURN_DELETED_OBJECT = ("pods", "services")  # the others answer a Status on deletion
LOG_PARAMS = ("follow", "tailLines", "timestamps", "sinceSeconds", "sinceTime", "previous",
              "limitBytes")


def respond(request, obj, code=200, warnings=()):
    fmt = negotiation.wants(request.headers.get("Accept"))
    body, ctype = negotiation.encode(obj, "json" if fmt == "table" else fmt)
    resp = web.Response(body=body, status=code, content_type=ctype)
    for w in warnings:
        escaped = w.replace("\\", "\\\\").replace('"', '\\"')
        resp.headers.add("Warning", f'299 - "{escaped}"')
    return resp


def _dry_run(request, options=None):
    values = request.query.getall("dryRun", []) + list((options or {}).get("dryRun") or [])
    for v in values:
        if v != "All":
            raise errors.bad_request(f'Invalid dryRun value "{v}": only "All" is supported')
    return bool(values)


def _field_validation(request):
    v = request.query.get("fieldValidation")
    if v not in (None, "", "Strict", "Warn", "Ignore"):
        raise errors.bad_request(f'fieldValidation: Unsupported value: "{v}": supported values: '
                                 '"Ignore", "Warn", "Strict"')
    return v


async def _body(request):
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise errors.too_large(negotiation.MAX_BODY) from None


async def _object(request, resource, kind=None, api_version=None):
    """The body of a POST or PUT, decoded and checked against the kind the URL names."""
    kind, api_version = kind or resource.kind, api_version or resource.api_version
    obj = negotiation.decode_body(await _body(request), request.headers.get("Content-Type"))
    if not isinstance(obj, dict):
        raise errors.bad_request("the body of the request must be a JSON object")
    if obj.get("apiVersion", api_version) != api_version:
        raise errors.bad_request(f"the API version in the data ({obj['apiVersion']}) does not "
                                 f"match the expected API version ({api_version})")
    if obj.get("kind", kind) != kind:
        raise errors.bad_request(f"the kind in the data ({obj['kind']}) does not match the "
                                 f"expected kind ({kind})")
    obj["apiVersion"], obj["kind"] = api_version, kind
    warnings = admission.decode(obj, kind, api_version, _field_validation(request))
    return obj, warnings


def route(info, resource, method):
    """The handler for a request, or a 404/405 StatusError."""
    name = info.parts[1] if len(info.parts) > 1 else ""  # not a fieldSelector's name
    sub = info.subresource
    if len(info.parts) > 3 or (sub and sub not in resource.subresources):
        raise errors.resource_not_found()
    has_namespace = bool(info.namespace) and resource.plural != "namespaces"
    if resource.namespaced and not has_namespace and (name or method != "GET"):
        raise errors.resource_not_found()  # only list/watch across all namespaces
    if not resource.namespaced and has_namespace:
        raise errors.resource_not_found()
    table = {
        "collection": {"GET": list_or_watch, "POST": create, "DELETE": delete_collection},
        "object": {"GET": get, "PUT": update, "PATCH": patch, "DELETE": delete},
        "status": {"GET": get, "PUT": update, "PATCH": patch},
        "scale": {"GET": get, "PUT": update, "PATCH": patch},
        "binding": {"POST": bind},
        "log": {"GET": log},
    }[sub or ("object" if name else "collection")]
    if method not in table or info.verb not in resource.verbs and not sub:
        raise errors.method_not_allowed()
    if not resource.stored:
        return review
    return table[method]


async def handle(request, ctx, info, user):
    resource = resources.for_path(info.api_group, info.api_version, info.resource)
    if resource is None:
        raise errors.resource_not_found()
    handler = route(info, resource, request.method.upper())
    namespace = info.namespace if resource.namespaced else None
    return await handler(request, ctx, resource, namespace, info, user)


# -- reads ----------------------------------------------------------------------------------

async def get(request, ctx, r, ns, info, user):
    fmt = negotiation.wants(request.headers.get("Accept"))
    obj = await ctx.run(ctx.registry.get, r, ns, info.name)
    if info.subresource == "scale":
        return respond(request, strategy.to_scale(obj))
    if fmt == "table":
        return respond(request, negotiation.table(r, [obj], None, _include(request)))
    return respond(request, obj)


def _include(request):
    return request.query.get("includeObject") or "Metadata"


async def list_or_watch(request, ctx, r, ns, info, user):
    q = request.query
    fmt = negotiation.wants(request.headers.get("Accept"))
    flt = reg.predicate(r, q.get("labelSelector"), q.get("fieldSelector"))
    if info.verb == "watch":
        return await watch.serve(request, ctx, r, ns, flt, fmt)
    try:
        limit = int(q.get("limit") or 0)
    except ValueError:
        raise errors.bad_request("limit must be an integer") from None
    listed = await ctx.run(ctx.registry.list, r, ns, q.get("labelSelector"),
                           q.get("fieldSelector"), max(limit, 0), q.get("continue"),
                           q.get("resourceVersion"), q.get("resourceVersionMatch"))
    if fmt == "table":
        return respond(request, negotiation.table(r, listed["items"], listed["metadata"],
                                                  _include(request)))
    return respond(request, listed)


# -- writes ---------------------------------------------------------------------------------

async def create(request, ctx, r, ns, info, user):
    obj, warnings = await _object(request, r)
    created = await ctx.run(ctx.registry.create, r, ns, obj, _dry_run(request))
    return respond(request, created, 201, warnings)


async def update(request, ctx, r, ns, info, user):
    kind, version = (("Scale", "autoscaling/v1") if info.subresource == "scale" else (None, None))
    obj, warnings = await _object(request, r, kind, version)
    new, created = await ctx.run(ctx.registry.update, r, ns, info.name, obj,
                                 info.subresource or None, _dry_run(request))
    return respond(request, new, 201 if created else 200, warnings)


async def patch(request, ctx, r, ns, info, user):
    ctype = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if ctype not in reg.PATCH_TYPES:
        raise errors.unsupported_media_type(ctype, reg.PATCH_TYPES)
    if ctype == "application/apply-patch+yaml" and not request.query.get("fieldManager"):
        raise errors.bad_request("PATCH /apply: fieldManager is required for apply requests")
    body = reg.parse_patch(ctype, await _body(request))
    new, created, warnings = await ctx.run(
        ctx.registry.patch, r, ns, info.name, ctype, body, info.subresource or None,
        _dry_run(request), _field_validation(request))
    return respond(request, new, 201 if created else 200, warnings)


async def _delete_options(request):
    data = await _body(request)
    options = {}
    if data.strip():
        options = negotiation.decode_body(data, request.headers.get("Content-Type"))
        if not isinstance(options, dict):
            raise errors.bad_request("DeleteOptions must be a JSON object")
    q = request.query
    try:
        if q.get("gracePeriodSeconds"):
            options["gracePeriodSeconds"] = int(q["gracePeriodSeconds"])
    except ValueError:
        raise errors.bad_request("gracePeriodSeconds must be an integer") from None
    if q.get("propagationPolicy"):
        options["propagationPolicy"] = q["propagationPolicy"]
    if q.get("orphanDependents"):
        options["orphanDependents"] = q["orphanDependents"].lower() == "true"
    return options


async def delete(request, ctx, r, ns, info, user):
    options = await _delete_options(request)
    obj = await ctx.run(ctx.registry.delete, r, ns, info.name, options,
                        _dry_run(request, options))
    if r.plural in RETURN_DELETED_OBJECT or obj["metadata"].get("deletionTimestamp"):
        return respond(request, obj)
    details = {"name": info.name, "kind": r.plural, "uid": obj["metadata"].get("uid")}
    if r.group:
        details["group"] = r.group
    return respond(request, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                             "status": "Success", "details": details})


async def delete_collection(request, ctx, r, ns, info, user):
    options = await _delete_options(request)
    q = request.query
    listed = await ctx.run(ctx.registry.delete_collection, r, ns, options,
                           q.get("labelSelector"), q.get("fieldSelector"),
                           _dry_run(request, options))
    return respond(request, listed)


# -- subresources and reviews ---------------------------------------------------------------

async def bind(request, ctx, r, ns, info, user):
    binding, _ = await _object(request, r, "Binding", "v1")
    await ctx.run(ctx.registry.bind, ns, info.name, binding, _dry_run(request))
    return respond(request, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                             "status": "Success", "code": 201}, 201)


async def review(request, ctx, r, ns, info, user):
    body, _ = await _object(request, r)
    spec = body.get("spec") or {}
    try:
        if r.kind == "SelfSubjectAccessReview":
            status = ctx.authorizer.self_subject_access_review(user, spec)
        else:
            status = ctx.authorizer.subject_access_review(spec)
    except rbac.ReviewInvalid as e:
        cause = {"reason": "FieldValueRequired", "message": e.message, "field": e.field}
        raise errors.invalid(r, "", [cause]) from None
    body["metadata"] = {"creationTimestamp": None, **(body.get("metadata") or {})}
    body["status"] = status
    return respond(request, body, 201)


async def log(request, ctx, r, ns, info, user):
    """pods/log: stream the container's log from the kubelet of the pod's node."""
    pod = await ctx.run(ctx.registry.get, r, ns, info.name)
    spec = pod.get("spec") or {}
    names = [c["name"] for c in spec.get("containers") or []]
    container = request.query.get("container")
    if not container:
        if len(names) != 1:
            raise errors.bad_request(f"a container name must be specified for pod "
                                     f"{info.name}, choose one of: [{' '.join(names)}]")
        container = names[0]
    elif container not in names + [c["name"] for c in spec.get("initContainers") or []]:
        raise errors.bad_request(f"container {container} is not valid for pod {info.name}")
    if not spec.get("nodeName"):
        raise errors.bad_request(f"pod {info.name} does not have a host assigned")
    node = await ctx.run(ctx.registry.get, resources.lookup("nodes"), None, spec["nodeName"])
    addresses = {a.get("type"): a.get("address")
                 for a in (node.get("status") or {}).get("addresses") or []}
    host = addresses.get("InternalIP") or addresses.get("Hostname") or spec["nodeName"]
    port = ((node.get("status") or {}).get("daemonEndpoints") or {}).get(
        "kubeletEndpoint", {}).get("Port") or 10250
    query = urlencode({k: request.query[k] for k in LOG_PARAMS if k in request.query})
    url = f"https://{host}:{port}/containerLogs/{ns}/{info.name}/{container}?{query}"
    return await _proxy(request, ctx, url)


async def _proxy(request, ctx, url):
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(url, ssl=ctx.kubelet_ssl or False) as upstream:
                if upstream.status >= 400:
                    text = (await upstream.text()).strip()
                    raise errors.StatusError(upstream.status, "", text or upstream.reason)
                resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
                await resp.prepare(request)
                async for chunk in upstream.content.iter_any():
                    await resp.write(chunk)
                await resp.write_eof()
                return resp
    except (aiohttp.ClientError, ssl.SSLError, OSError) as e:
        raise errors.internal(f'Get "{url}": {e}') from None


def status_json(status):
    return json.dumps(status).encode()
