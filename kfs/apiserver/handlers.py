"""The REST handlers: one per verb, turning an authorized HTTP request into registry calls.

After authentication and authorization (``server.py``), a resource request is routed by
the shape of its path and its method, as upstream's installer lays out the routes:

| path                                   | GET        | POST   | PUT    | PATCH | DELETE           |
|----------------------------------------|------------|--------|--------|-------|------------------|
| ``.../pods``                           | list/watch | create |        |       | deletecollection |
| ``.../pods/p``                         | get        |        | update | patch | delete           |
| ``.../pods/p/status``, ``.../d/scale`` | get        |        | update | patch |                  |
| a create subresource (``pods/p/binding``) |         | create |        |       |                  |
| a connect subresource (``pods/p/log``) | get, proxied to the location the kind names (a kubelet) |
| an upgrade one (``pods/p/exec``)       | get        | create | (a WebSocket relayed by ``proxy.py``) |

Which subresources a resource has, and of which shape, its kind says
(``kfs.apiserver.kinds``: `create_subresources`, `connect_subresources`, the Resource's
``subresources``); a review kind (not stored) answers its create at once. Anything else is
404 (no such resource) or 405 (no such verb on it). This module names no kind.

Mirrors ``apiserver/pkg/endpoints/installer.go`` (the routes) and ``handlers/`` (get.go,
create.go, update.go, patch.go, delete.go, watch.go, rest.go's ConnectResource), plus the
proxying of ``pkg/registry/core/pod/rest/log.go``.

What real Kubernetes does differently: every route is registered per resource from its
storage's interfaces (Getter, Creater, Connecter...); requests carry a context with
deadlines and audit annotations; connect subresources go through an upgrade-aware proxy.
"""
import json
import ssl

import aiohttp
from aiohttp import web

from kfs import resources
from kfs.apiserver import (admission, errors, kinds, negotiation, proxy, rbac,
                           registry as reg, watch)


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


async def _object(request, resource, kind=None, api_version=None, also_accepts=()):
    """The body of a POST or PUT, decoded and checked against the kind the URL names (in
    its version, or one of `also_accepts` with the same fields)."""
    kind, api_version = kind or resource.kind, api_version or resource.api_version
    obj = negotiation.decode_body(await _body(request), request.headers.get("Content-Type"))
    if not isinstance(obj, dict):
        raise errors.bad_request("the body of the request must be a JSON object")
    if obj.get("apiVersion", api_version) not in (api_version, *also_accepts):
        raise errors.bad_request(f"the API version in the data ({obj['apiVersion']}) does not "
                                 f"match the expected API version ({api_version})")
    if obj.get("kind", kind) != kind:
        raise errors.bad_request(f"the kind in the data ({obj['kind']}) does not match the "
                                 f"expected kind ({kind})")
    obj["apiVersion"], obj["kind"] = api_version, kind
    warnings = admission.decode(obj, kind, api_version, _field_validation(request))
    return obj, warnings


def route(info, resource, kind, method):
    """The handler for a request, or a 404/405 StatusError."""
    name = info.parts[1] if len(info.parts) > 1 else ""  # not a fieldSelector's name
    sub = info.subresource
    if len(info.parts) > 3 or (sub and sub not in resource.subresources):
        raise errors.resource_not_found()
    if resource.namespaced and not info.in_namespace and (name or method != "GET"):
        raise errors.resource_not_found()  # only list/watch across all namespaces
    if not resource.namespaced and info.in_namespace:
        raise errors.resource_not_found()
    if sub in kind.create_subresources:
        table = {"POST": create_subresource}
    elif sub in kind.connect_subresources:
        table = {"GET": connect}
        if sub in kind.upgrade_subresources:
            table["POST"] = connect
    elif sub:
        table = {"GET": get, "PUT": update, "PATCH": patch}
    elif name:
        table = {"GET": get, "PUT": update, "PATCH": patch, "DELETE": delete}
    else:
        table = {"GET": list_or_watch, "POST": create, "DELETE": delete_collection}
    if method not in table or info.verb not in resource.verbs and not sub:
        raise errors.method_not_allowed()
    if not resource.stored:
        return review
    return table[method]


async def handle(request, ctx, info, user):
    resource = resources.for_path(info.api_group, info.api_version, info.resource)
    if resource is None:
        raise errors.resource_not_found()
    kind = ctx.registry.kind(resource)
    handler = route(info, resource, kind, request.method.upper())
    namespace = info.namespace if resource.namespaced else None
    return await handler(request, ctx, kind, namespace, info, user)


# -- reads ----------------------------------------------------------------------------------
# Every handler gets the request, the server's context, the Kind (``k.resource`` is the
# Resource), the namespace, the RequestInfo and the user.

async def get(request, ctx, k, ns, info, user):
    fmt = negotiation.wants(request.headers.get("Accept"))
    obj = await ctx.run(ctx.registry.get, k.resource, ns, info.name)
    if info.subresource:
        return respond(request, k.to_subresource(info.subresource, obj))
    if fmt == "table":
        return respond(request, negotiation.table(k, [obj], None, _include(request)))
    return respond(request, obj)


def _include(request):
    return request.query.get("includeObject") or "Metadata"


async def list_or_watch(request, ctx, k, ns, info, user):
    q = request.query
    fmt = negotiation.wants(request.headers.get("Accept"))
    flt = reg.predicate(k, q.get("labelSelector"), q.get("fieldSelector"))
    watch.validate_list_options(q, info.verb == "watch")
    if info.verb == "watch":
        return await watch.serve(request, ctx, k, ns, flt, fmt)
    try:
        limit = int(q.get("limit") or 0)
    except ValueError:
        raise errors.bad_request("limit must be an integer") from None
    listed = await ctx.run(ctx.registry.list, k.resource, ns, q.get("labelSelector"),
                           q.get("fieldSelector"), max(limit, 0), q.get("continue"),
                           q.get("resourceVersion"), q.get("resourceVersionMatch"))
    if fmt == "table":
        return respond(request, negotiation.table(k, listed["items"], listed["metadata"],
                                                  _include(request)))
    return respond(request, listed)


# -- writes ---------------------------------------------------------------------------------

async def create(request, ctx, k, ns, info, user):
    obj, warnings = await _object(request, k.resource)
    k.prepare_for_create_as(obj, user)
    created = await ctx.create(k.resource, ns, obj, _dry_run(request))
    return respond(request, created, 201, warnings)


async def update(request, ctx, k, ns, info, user):
    sub = info.subresource or None
    kind, version = k.subresource_kind(sub) if sub else (None, None)
    obj, warnings = await _object(request, k.resource, kind, version)
    new, created = await ctx.run(ctx.registry.update, k.resource, ns, info.name, obj, sub,
                                 _dry_run(request))
    return respond(request, new, 201 if created else 200, warnings)


async def patch(request, ctx, k, ns, info, user):
    ctype = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if ctype not in reg.PATCH_TYPES:
        raise errors.unsupported_media_type(ctype, reg.PATCH_TYPES)
    if ctype == "application/apply-patch+yaml" and not request.query.get("fieldManager"):
        raise errors.bad_request("PATCH /apply: fieldManager is required for apply requests")
    body = reg.parse_patch(ctype, await _body(request))
    new, created, warnings = await ctx.run(
        ctx.registry.patch, k.resource, ns, info.name, ctype, body, info.subresource or None,
        _dry_run(request), _field_validation(request), user)
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


async def delete(request, ctx, k, ns, info, user):
    options = await _delete_options(request)
    r = k.resource
    obj = await ctx.run(ctx.registry.delete, r, ns, info.name, options,
                        _dry_run(request, options))
    if k.returns_deleted or obj["metadata"].get("deletionTimestamp"):
        return respond(request, obj)
    details = {"name": info.name, "kind": r.plural, "uid": obj["metadata"].get("uid")}
    if r.group:
        details["group"] = r.group
    return respond(request, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                             "status": "Success", "details": details})


async def delete_collection(request, ctx, k, ns, info, user):
    options = await _delete_options(request)
    q = request.query
    listed = await ctx.run(ctx.registry.delete_collection, k.resource, ns, options,
                           q.get("labelSelector"), q.get("fieldSelector"),
                           _dry_run(request, options))
    return respond(request, listed)


# -- subresources and reviews ---------------------------------------------------------------

async def create_subresource(request, ctx, k, ns, info, user):
    """POST to a create subresource (pods/binding, pods/eviction): the kind acts on the
    object; a binding's read-modify-write is awaited on the event loop."""
    kind, version = k.subresource_kind(info.subresource)
    body, _ = await _object(request, k.resource, kind, version,
                            kinds.lookup(version, kind).also_accepts)
    change, dry_run = k.subresource_change(info.subresource, info.name, body), _dry_run(request)
    if change and not dry_run:
        await ctx.update_with(k.resource, ns, info.name, change)
    else:
        await ctx.run(k.create_subresource, ctx.registry, info.subresource, ns, info.name,
                      body, dry_run)
    return respond(request, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                             "status": "Success", "code": 201}, 201)


async def review(request, ctx, k, ns, info, user):
    """A create of a review kind (never stored): the kind asks the authorizer."""
    body, _ = await _object(request, k.resource)
    try:
        status = k.review(ctx.authorizer, user, body.get("spec") or {})
    except rbac.ReviewInvalid as e:
        cause = {"reason": "FieldValueRequired", "message": e.message, "field": e.field}
        raise errors.invalid(k.resource, "", [cause]) from None
    body["metadata"] = {"creationTimestamp": None, **(body.get("metadata") or {})}
    body["status"] = status
    return respond(request, body, 201)


async def connect(request, ctx, k, ns, info, user):
    """A connect subresource (pods/log, pods/exec): stream from the location the kind names,
    upgraded (``proxy.py``) for the ones that need it."""
    url = await ctx.run(k.connect, ctx.registry, info.subresource, ns, info.name,
                        request.query)
    if info.subresource not in k.upgrade_subresources:
        return await _proxy(request, ctx, url)
    if proxy.is_websocket(request):
        return await proxy.websocket(request, url, ctx.kubelet_ssl)
    if proxy.is_spdy(request):
        return await proxy.spdy(request, url, ctx.kubelet_ssl)
    raise errors.bad_request("Upgrade request required")


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
