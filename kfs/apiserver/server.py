"""The API server's HTTPS front: every request through authn -> authz -> handler.

For each request, in upstream's filter order:

1. **authentication** (``authn``): a client certificate verified by the TLS handshake, or
   a bearer token from ``--token-auth-file``; nobody else gets in (401 Unauthorized);
2. **request info** (``requestinfo``): verb, group, resource, namespace, name from the path;
3. **authorization** (``rbac``): may this user do that? (403 Forbidden naming both);
4. the **handler**: discovery, ``/version``, health, OpenAPI, or a resource (``handlers``),
   which goes through admission to the registry and etcd.

Every failure leaves as a ``Status`` (``errors``); an unexpected exception is logged and
becomes a 500 Status, never a dropped connection. The server also keeps in-memory copies
of the RBAC objects (`Cache`, a list + watch of etcd, like upstream's informers) so that
authorizing a request costs no etcd read, writes the bootstrap objects at start
(namespaces, RBAC policy, the ``kubernetes`` Service), and compacts etcd periodically.

Mirrors ``apiserver/pkg/server/config.go`` (DefaultBuildHandlerChain),
``endpoints/filters`` (authentication, requestinfo, authorization) and the bootstrap
post-start hooks (``pkg/controlplane``: system namespaces, the kubernetes service,
RBAC's ``ensure-bootstrap-policy``).

What real Kubernetes does differently: more filters (audit, API priority and fairness,
impersonation, CORS, request timeouts, tracing), HTTP/2, the aggregator in front for
extension API servers, and the bootstrap work done by controllers that keep running.
"""
import asyncio
import ipaddress
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache, partial

from aiohttp import web

from kfs import meta, resources, storage as st
from kfs.apiserver import (authn, discovery, errors, handlers, kinds, negotiation, openapi,
                           policy, rbac, requestinfo)
from kfs.apiserver.registry import Registry
from kfs.storage import cacher

log = logging.getLogger("kfs.apiserver")
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
RBAC_KINDS = ("Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")


class Cache:
    """The objects of one resource, mirrored from etcd by list + watch (an informer)."""

    def __init__(self, storage, resource):
        self.storage, self.resource = storage, resource
        self.items = {}
        self.synced = threading.Event()

    def start(self):
        threading.Thread(target=self.run, daemon=True, name=f"cache-{self.resource.plural}").start()
        return self

    def run(self):
        prefix = f"{self.resource.prefix}/"
        while True:
            try:
                items, revision, _ = self.storage.list(prefix)
                self.items = {self.storage_key(o): o for o in items}
                self.synced.set()
                for ev in self.storage.watch(prefix, revision + 1):
                    items = dict(self.items)
                    if ev.type == "DELETED":
                        items.pop(self.storage_key(ev.obj), None)
                    else:
                        items[self.storage_key(ev.obj)] = ev.obj
                    self.items = items
            except st.StorageError as e:
                log.warning("%s cache: %s; relisting", self.resource.plural, e)
                time.sleep(1)

    @staticmethod
    def storage_key(obj):
        return meta.key(obj)

    def list(self):
        return list(self.items.values())


def watch_caches(storage, served, size):
    """{etcd prefix: Cacher} for every stored resource but Events (upstream leaves Events
    out too: many, short-lived, rarely watched); none if `size` is 0 (``--watch-cache=false``)."""
    if size <= 0:
        return {}
    prefixes = {k.resource.prefix for k in served.values()
                if k.resource.stored and k.resource.plural != "events"}
    return cacher.cachers(storage, sorted(prefixes), size)


class Context:
    """What every handler needs: storage, registry, authorizer, a thread pool (and the
    event loop's own etcd channel for the creates and bindings that need no pool)."""

    def __init__(self, storage, tokens=None, service_cidr="10.96.0.0/12",
                 node_ports="30000-32767", kubelet_ssl=None, advertise=None,
                 compaction_interval=300.0, event_ttl=3600,
                 watch_cache_size=cacher.DEFAULT_CAPACITY):
        self.storage = storage
        served = kinds.for_server(kinds.ServerConfig(storage, service_cidr, node_ports,
                                                     int(event_ttl)))
        self.cachers = watch_caches(storage, served, watch_cache_size)
        self.registry = Registry(storage, served, self.cachers)
        self.tokens = tokens or {}
        self.access_log = False  # a line per request (-v=3 and up)
        self.kubelet_ssl = kubelet_ssl
        self.advertise = advertise  # (address, port) of this server for the kubernetes Service
        self.pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="registry")
        self.loop_storage = None  # kfs.storage.LoopStorage, made by on_loop()
        self.watches = set()
        self.caches = {kind: Cache(storage, resources.for_object(
            {"apiVersion": policy.RBAC_API_VERSION, "kind": kind})) for kind in RBAC_KINDS}
        self.authorizer = rbac.Authorizer(lambda kind: self.caches[kind].list())
        self.compactor = st.Compactor(storage, compaction_interval)
        # the same certificate or token names the same user: parse each once
        self.authenticate = lru_cache(maxsize=4096)(
            lambda cert, header: authn.authenticate(cert, header, self.tokens))

    def authenticate_bootstrap_token(self, header):
        """A bootstrap token's user, read from its Secret in kube-system (or None)."""
        secrets = resources.lookup("secrets")

        def get_secret(name):
            try:
                return self.storage.get(secrets.etcd_key("kube-system", name))
            except st.KeyNotFound:
                return None
        user = authn.user_from_bootstrap_token(header, get_secret)
        return authn.with_authenticated_group(user) if user else None

    async def run(self, fn, *args, **kwargs):
        """Run a blocking (etcd) call in the thread pool."""
        return await asyncio.get_running_loop().run_in_executor(
            self.pool, partial(fn, *args, **kwargs))

    async def create(self, resource, namespace, obj, dry_run=False):
        """A create: on the event loop when only its write reaches etcd (a pod's), else
        in the thread pool (a Service's allocations, the lease for the next Events)."""
        if not self.registry.creates_inline(resource, namespace):
            return await self.run(self.registry.create, resource, namespace, obj, dry_run)
        return await self.registry.create_inline(self.on_loop(), resource, namespace, obj,
                                                 dry_run)

    async def update_with(self, resource, namespace, name, change):
        """A read-modify-write with no admission (a binding), awaited on the event loop."""
        return await self.registry.update_with_inline(self.on_loop(), resource, namespace,
                                                      name, change)

    def on_loop(self):
        """The LoopStorage, made in the loop it belongs to on first use."""
        if self.loop_storage is None:
            self.loop_storage = st.LoopStorage(self.storage)
        return self.loop_storage


def status_response(e):
    resp = web.Response(body=handlers.status_json(e.status), status=e.code,
                        content_type="application/json")
    for k, v in e.headers.items():
        resp.headers[k] = v
    return resp


def peer_certificate(request):
    ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
    return ssl_object.getpeercert(binary_form=True) if ssl_object else None


async def dispatch(request):
    ctx = request.app["ctx"]
    started = time.monotonic()
    user = None
    try:
        header = request.headers.get("Authorization")
        user = ctx.authenticate(peer_certificate(request), header)
        if user is None and authn.is_bootstrap_token(header):  # never cached: tokens expire
            user = await ctx.run(ctx.authenticate_bootstrap_token, header)
        if user is None:
            raise errors.StatusError(401, "Unauthorized", "Unauthorized")
        if request.headers.get("Impersonate-User"):
            user = impersonate(ctx, user, request.headers)
        info = requestinfo.parse(request.method, request.path, request.query)
        attrs = rbac.Attributes.of(user, info)
        allowed, reason = ctx.authorizer.authorize(attrs)
        if not allowed:
            raise forbidden(attrs, reason)
        if info.resource_request:
            resp = await handlers.handle(request, ctx, info, user)
        else:
            resp = await non_resource(request, ctx, info)
    except errors.StatusError as e:
        resp = status_response(e)
    except Exception as e:  # a bug: say so, keep serving
        log.exception("%s %s failed", request.method, request.path_qs)
        resp = status_response(errors.internal(f"{type(e).__name__}: {e}"))
    if resp.status >= 500 or ctx.access_log:  # -v=3 and up, or a failure
        (log.warning if resp.status >= 500 else log.info)("%s %s %s %d %.1fms", user.name if user else "-", request.method,
                    request.path_qs, resp.status, (time.monotonic() - started) * 1000)
    return resp


def impersonate(ctx, user, headers):
    """``kubectl --as alice``: act as another user, if RBAC lets this one impersonate."""
    name = headers["Impersonate-User"]
    groups = tuple(headers.getall("Impersonate-Group", []))
    for resource, target in [("users", name)] + [("groups", g) for g in groups]:
        attrs = rbac.Attributes(user, "impersonate", "", resource, name=target)
        allowed, reason = ctx.authorizer.authorize(attrs)
        if not allowed:
            raise forbidden(attrs, reason)
    return authn.with_authenticated_group(authn.User(name, groups))


def forbidden(attrs, reason):
    """403, naming the user, the verb and the resource (or path)."""
    details = {}
    if attrs.resource_request and attrs.resource:
        details = {k: v for k, v in (("name", attrs.name), ("group", attrs.api_group),
                                     ("kind", attrs.resource)) if v}
    return errors.StatusError(403, "Forbidden", rbac.forbidden_message(attrs, reason), details)


async def non_resource(request, ctx, info):
    if request.method not in ("GET", "HEAD"):
        raise errors.method_not_allowed()
    path = request.path.rstrip("/") or "/"
    parts = path.strip("/").split("/")
    if path == "/version":
        return web.json_response(discovery.version())
    if path in ("/healthz", "/livez", "/readyz"):
        return await health(request, ctx, path)
    if path == "/api":
        host = request.host or "127.0.0.1"
        return web.json_response(discovery.api_versions(host))
    if path == "/apis":
        return web.json_response(discovery.api_group_list())
    if path == "/openapi/v2" or path == "/openapi/v3" or path.startswith("/openapi/v3/"):
        return openapi.respond(path, request.headers.get("Accept", ""))
    if parts[0] == "api" and len(parts) == 2:
        found = discovery.api_resource_list("", parts[1])
    elif parts[0] == "apis" and len(parts) == 2:
        found = discovery.api_group(parts[1])
    elif parts[0] == "apis" and len(parts) == 3:
        found = discovery.api_resource_list(parts[1], parts[2])
    else:
        found = None
    if found is None:
        raise errors.StatusError(404, "NotFound", "the server could not find the requested "
                                 "resource", {})
    return web.json_response(found)


async def health(request, ctx, path):
    checks = [("ping", True)]
    if path != "/livez":
        try:
            await asyncio.wait_for(ctx.run(ctx.storage.current_revision), 2)
            checks.append(("etcd", True))
        except Exception:
            checks.append(("etcd", False))
    ok = all(good for _, good in checks)
    name = path.strip("/")
    if "verbose" in request.query:
        lines = [f"[+]{n} ok" if good else f"[-]{n} failed: reason withheld" for n, good in checks]
        text = "\n".join(lines) + f"\n{name} check {'passed' if ok else 'failed'}\n"
    else:
        text = "ok" if ok else f"[-]etcd failed: reason withheld\n{name} check failed\n"
    return web.Response(text=text, status=200 if ok else 500)


# -- start and stop ---------------------------------------------------------------------------

def bootstrap(ctx):
    """What upstream's post-start hooks write: namespaces, RBAC policy, the kubernetes service."""
    reg, ns_res = ctx.registry, resources.lookup("namespaces")
    for name in SYSTEM_NAMESPACES:
        _ensure(reg, ns_res, None, {"apiVersion": "v1", "kind": "Namespace",
                                    "metadata": {"name": name}})
    for obj in policy.bootstrap_policy():
        r = resources.for_object(obj)
        ns = meta.namespace(obj)
        try:
            existing = reg.get(r, ns, meta.name(obj))
        except errors.StatusError:
            existing = None
        wanted = policy.reconcile(existing, obj)
        if wanted is None:
            continue
        if existing is None:
            reg.create(r, ns, wanted)
        elif wanted.get("roleRef") != existing.get("roleRef"):
            reg.delete(r, ns, meta.name(obj), {})
            reg.create(r, ns, policy.reconcile(None, obj))
        else:
            reg.update(r, ns, meta.name(obj), wanted)
    if ctx.advertise and not ipaddress.ip_address(ctx.advertise[0]).is_loopback:
        try:
            kubernetes_service(ctx)
        except errors.StatusError as e:
            log.warning("could not write the kubernetes service: %s", e.message)


def _ensure(reg, r, ns, obj):
    try:
        reg.get(r, ns, meta.name(obj))
    except errors.StatusError:
        try:
            reg.create(r, ns, obj)
        except errors.StatusError as e:
            if e.reason != "AlreadyExists":
                raise


def kubernetes_service(ctx):
    """default/kubernetes: the first ClusterIP of the range, pointing at this server (its
    Endpoints and its EndpointSlice, as upstream's endpoint reconciler writes both)."""
    address, port = ctx.advertise
    services = resources.lookup("services")
    first_ip = str(ctx.registry.kind(services).allocator.network.network_address + 1)
    svc = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": "kubernetes", "labels": {"component": "apiserver",
                                                         "provider": "kubernetes"}},
           "spec": {"type": "ClusterIP", "clusterIP": first_ip, "sessionAffinity": "None",
                    "ports": [{"name": "https", "port": 443, "protocol": "TCP",
                               "targetPort": port}]}}
    _ensure(ctx.registry, services, "default", svc)
    endpoints = {"apiVersion": "v1", "kind": "Endpoints",
                 "metadata": {"name": "kubernetes", "namespace": "default",
                              "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
                 "subsets": [{"addresses": [{"ip": address}],
                              "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}]}
    ctx.registry.update(resources.lookup("endpoints"), "default", "kubernetes", endpoints)
    _put(ctx.registry, resources.lookup("endpointslices"), "default", {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": "kubernetes"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}]})


def _put(reg, r, ns, obj):
    """Create or overwrite (EndpointSlices do not allow create on update)."""
    try:
        current = reg.get(r, ns, meta.name(obj))
    except errors.StatusError as e:
        if e.code != 404:
            raise
        return reg.create(r, ns, obj)
    obj["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
    return reg.update(r, ns, meta.name(obj), obj)


def make_app(ctx):
    app = web.Application(client_max_size=negotiation.MAX_BODY + 1)
    app["ctx"] = ctx
    app.router.add_route("*", "/{tail:.*}", dispatch)

    async def on_startup(app):
        await ctx.run(bootstrap, ctx)
        for cache in [*ctx.caches.values(), *ctx.cachers.values()]:
            cache.start()
        for cache in ctx.caches.values():
            await ctx.run(cache.synced.wait, 30)
        for watch_cache in ctx.cachers.values():
            await ctx.run(watch_cache.ready.wait, 30)
        ctx.compactor.start()

    async def on_shutdown(app):
        for stream in list(ctx.watches):  # end watch streams cleanly: clients resume
            stream.stop()
        for watch_cache in ctx.cachers.values():
            watch_cache.stop()
        ctx.compactor.stop()
        if ctx.loop_storage is not None:
            await ctx.loop_storage.close()

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    return app
