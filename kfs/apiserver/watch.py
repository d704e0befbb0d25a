"""Watch: a long HTTP response carrying one JSON event per line, as things change.

``GET /api/v1/pods?watch=true&resourceVersion=N`` answers 200 at once and then keeps the
connection open: every change to a matching pod after revision N arrives as a line
``{"type": "ADDED|MODIFIED|DELETED", "object": {...}}``, flushed as it happens. This is
how every controller, the scheduler, the kubelets and ``kubectl get -w`` learn about
changes without polling. A watch from a resourceVersion is served by the resource's
**watch cache** (``kfs.storage.cacher``: one etcd watch per resource, fanned out; the
events after N from its window, then the live ones); a watch without one, which must be
consistent, by an etcd watch of its own on the resource's key prefix (as is every watch
with ``--watch-cache=false``). Either way:

- without a resourceVersion (or with "0") the current objects come first, as ADDED;
- a selector is applied to both the new and the previous state: an object that stops
  matching is DELETED for this watcher (a pod bound to another node leaves a kubelet's
  ``spec.nodeName=node1`` watch), one that starts matching is ADDED;
- a revision older than the cache's window (or, without the cache, one etcd has
  compacted away) ends the stream with an ERROR event carrying a 410 Expired Status: the
  client must relist (so does a revision etcd has not reached, which a client can only
  have from an etcd that was since replaced);
- with ``allowWatchBookmarks=true``, etcd's progress notifications become BOOKMARK events
  (just a resourceVersion): a quiet watcher still learns how far it is, and resumes from
  there after a disconnect instead of from an old, maybe compacted, revision.

**Watch list** (KEP-3157, what client-go's reflectors send first since 1.35, and so
``kubectl rollout status`` of a current kubectl): ``sendInitialEvents=true`` with
``resourceVersionMatch=NotOlderThan`` asks for the current objects as ADDED events (at a
revision at least ``resourceVersion``; none given: the latest), then, with
``allowWatchBookmarks=true``, one BOOKMARK whose metadata carries the annotation
``k8s.io/initial-events-end: "true"`` and the revision of that state, then the changes
after it: a list and a watch in one request. ``sendInitialEvents=false`` skips the
objects. `list_options_causes` refuses the combinations upstream refuses (422, kind
``ListOptions``), e.g. ``sendInitialEvents`` on a list or without ``NotOlderThan``.

The stream ends after ``timeoutSeconds`` (default: 30 to 60 minutes, random, so that
clients do not all reconnect at once) or when the API server shuts down; clients then
watch again from the last resourceVersion they saw.

Mirrors ``apiserver/pkg/endpoints/handlers/watch.go`` (serveWatch),
``storage/etcd3/watcher.go`` (processEvent's selector transitions), the watch cache's
initial events and their end bookmark (``storage/cacher``), and
``apimachinery/pkg/apis/meta/internalversion/validation`` (ValidateListOptions).

What real Kubernetes does differently: a watch without resourceVersion is served from the
watch cache too (after a progress request to etcd, which etcd 3.4.23 cannot be trusted
with), the cache makes bookmarks every minute itself; events can also be framed for
protobuf or WebSocket.
"""
import asyncio
import json
import logging
import random
import threading

from aiohttp import web

from kfs import storage as st
from kfs.apiserver import errors, negotiation
from kfs.apiserver.validation import fields
from kfs.storage.cacher import CacheWatcher, transition  # noqa: F401 (transition: the tests')

log = logging.getLogger("kfs.apiserver.watch")

MIN_REQUEST_TIMEOUT = 1800
INITIAL_EVENTS_END = "k8s.io/initial-events-end"
NOT_OLDER_THAN, EXACT = "NotOlderThan", "Exact"


# -- list options: which combinations of parameters a list or a watch accepts ------------------

def parse_bool(query, name):
    """A boolean query parameter: None when absent, else True/False (400 if neither)."""
    value = query.get(name)
    if value is None:
        return None
    if value.lower() in ("true", "1", "t"):
        return True
    if value.lower() in ("false", "0", "f", ""):
        return False
    raise errors.bad_request(f'invalid value "{value}" for {name}: must be true or false')


def list_options_causes(query, watching):
    """Why these list options are invalid (upstream's ValidateListOptions): [] if they are
    fine. The WatchList feature is on, as in upstream since 1.32."""
    match, rv = query.get("resourceVersionMatch") or "", query.get("resourceVersion") or ""
    initial, cont = parse_bool(query, "sendInitialEvents"), query.get("continue")
    causes = []
    if watching:
        if initial is not None and match != NOT_OLDER_THAN:
            causes.append(fields.forbidden("resourceVersionMatch", "sendInitialEvents requires "
                                           f"setting resourceVersionMatch to {NOT_OLDER_THAN}"))
        if match:
            if initial is None:
                causes.append(fields.forbidden("resourceVersionMatch", "resourceVersionMatch is "
                                               "forbidden for watch unless sendInitialEvents is "
                                               "provided"))
            if match != NOT_OLDER_THAN:
                causes.append(fields.not_supported("resourceVersionMatch", match,
                                                   [NOT_OLDER_THAN]))
            if cont:
                causes.append(fields.forbidden("resourceVersionMatch", "resourceVersionMatch is "
                                               "forbidden when continue is provided"))
        return causes
    if match:
        if not rv:
            causes.append(fields.forbidden("resourceVersionMatch", "resourceVersionMatch is "
                                           "forbidden unless resourceVersion is provided"))
        if cont:
            causes.append(fields.forbidden("resourceVersionMatch", "resourceVersionMatch is "
                                           "forbidden when continue is provided"))
        if match not in (EXACT, NOT_OLDER_THAN):
            causes.append(fields.not_supported("resourceVersionMatch", match,
                                               [EXACT, NOT_OLDER_THAN, ""]))
        if match == EXACT and rv == "0":
            causes.append(fields.forbidden("resourceVersionMatch", 'resourceVersionMatch "exact" '
                                           'is forbidden for resourceVersion "0"'))
    if initial is not None:
        causes.append(fields.forbidden("sendInitialEvents", "sendInitialEvents is forbidden "
                                       "for list"))
    return causes


def validate_list_options(query, watching):
    """422 Invalid (kind ``ListOptions``) naming every bad combination, as upstream answers."""
    causes = list_options_causes(query, watching)
    if causes:
        message = fields.invalid_message("ListOptions", "", causes, group="meta.k8s.io")
        raise errors.StatusError(422, "Invalid", message, {"group": "meta.k8s.io",
                                                            "kind": "ListOptions",
                                                            "causes": causes})


def initial_events_end(kind, revision):
    """The BOOKMARK that ends a watch list's initial events, at the revision they show."""
    return {"kind": kind.resource.kind, "apiVersion": kind.resource.api_version,
            "metadata": {"resourceVersion": str(revision),
                         "annotations": {INITIAL_EVENTS_END: "true"}}}


class ToLoop:
    """Items from another thread (an etcd watch's, the watch cache's) to the event loop.

    `put` returns False once more than `limit` items wait: a client that does not read
    is not worth the memory; its watch ends and it watches again (upstream's cacheWatcher
    does the same with its buffered channel)."""

    def __init__(self, limit=10000):
        self.loop = asyncio.get_running_loop()
        self.queue, self.limit = asyncio.Queue(), limit
        self.on_stop = None

    def put(self, item):
        if item is not None and self.queue.qsize() > self.limit:
            item = None
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:  # the event loop is gone (shutdown)
            pass
        return item is not None

    def stop(self):
        if self.on_stop:
            self.on_stop()
        self.queue.put_nowait(None)


class WatchStream:
    """One client watch served by an etcd watch of its own (a consistent watch, or no
    watch cache): its events, converted for this watcher, handed to the event loop."""

    def __init__(self, storage, prefix, start_revision, flt, bookmarks):
        self.out = ToLoop()
        self.out.on_stop = self.cancel
        self.watcher = CacheWatcher(start_revision - 1, None, flt, bookmarks, self.out.put)
        self.watch = storage.watch(prefix, start_revision, progress_notify=bookmarks)
        threading.Thread(target=self._pump, daemon=True, name="watch").start()

    def _pump(self):
        try:
            for ev in self.watch:
                if not self.watcher.add(ev):
                    break
            self.out.put(None)
        except Exception as e:  # Expired, Unavailable: the stream says so and ends
            self.out.put(e)
        self.watch.cancel()

    def cancel(self):
        self.watch.cancel()


def _line(kind, obj):
    return json.dumps({"type": kind, "object": obj}, separators=(",", ":")).encode() + b"\n"


async def _wait_for_revision(ctx, revision, timeout=3.0):
    """The store's revision, once it has reached `revision` (or after `timeout`)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        current = await ctx.run(ctx.storage.current_revision)
        if current >= revision or loop.time() > deadline:
            return current
        await asyncio.sleep(0.1)


async def _error_stream(request, error):
    """A watch that ends at once with an ERROR event: how clients learn to relist."""
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    await resp.prepare(request)
    await resp.write(_line("ERROR", error.status))
    await resp.write_eof()
    return resp


async def _starting_point(ctx, q, rv, prefix, flt, bookmarks):
    """(initial objects, first revision to watch, end them with a bookmark?) for a watch
    from `rv` served by etcd; raises Expired for a revision this etcd has not reached."""
    send_initial = parse_bool(q, "sendInitialEvents")
    end_bookmark = bool(send_initial and bookmarks)
    if send_initial is None:  # before KEP-3157: the objects come first only from "" or "0"
        send_initial = rv in ("", "0")
    if rv not in ("", "0"):
        await _not_from_the_future(ctx, int(rv))
    if send_initial:  # the state now, which is at least as new as rv
        items, revision, _ = await ctx.run(ctx.storage.list, prefix, 0, None, 0, flt)
        return [("ADDED", o, None) for o in items], revision + 1, end_bookmark
    if rv in ("", "0"):  # sendInitialEvents=false: from now on
        return [], await ctx.run(ctx.storage.current_revision) + 1, False
    return [], int(rv) + 1, False


async def _not_from_the_future(ctx, revision):
    """Expired (410: relist) for a resourceVersion etcd has not reached (a client can only
    have one from an etcd that was since replaced)."""
    current = await _wait_for_revision(ctx, revision)
    if current < revision:
        raise errors.expired(f"too large resource version: {revision}, current: {current}")


async def _from_cache(ctx, cacher, q, rv, namespace, flt, bookmarks, out):
    """(watcher, initial items, the revision the watch starts after, end bookmark?) for a
    watch served by the watch cache; NotReady when it cannot serve it (etcd does)."""
    send_initial = parse_bool(q, "sendInitialEvents")
    revision = int(rv)
    if send_initial:  # NotOlderThan: the cache's state once it is that fresh
        await ctx.run(cacher.wait_fresh, revision)
    elif revision > cacher.revision:  # a quiet resource, or a resourceVersion from the future
        await _not_from_the_future(ctx, revision)
    try:
        watcher, items, start = await ctx.run(cacher.watch, revision, namespace, flt,
                                              bookmarks, out.put, send_initial)
    except st.Expired as e:
        raise errors.expired(str(e)) from None
    return watcher, items, start, bool(send_initial and bookmarks)


def _event_json(ev):
    """An event's object as JSON, encoded once for every watcher that sends it as is."""
    encoded = ev.__dict__.get("json")
    if encoded is None:
        encoded = ev.__dict__["json"] = json.dumps(ev.obj, separators=(",", ":")).encode()
    return encoded


async def serve(request, ctx, kind, namespace, flt, fmt):
    """Answer a watch request (after authorization). `ctx` is the server's context, `kind`
    the ``kfs.apiserver.kinds.Kind`` of the resource watched. From the watch cache when
    the resource has one and the client gave a resourceVersion; else (a consistent watch)
    from an etcd watch of its own."""
    resource = kind.resource
    q = request.query
    rv = q.get("resourceVersion") or ""
    if rv and not rv.isdigit():
        raise errors.bad_request(f'invalid resource version "{rv}"')
    try:
        timeout = int(q["timeoutSeconds"]) if q.get("timeoutSeconds") else \
            MIN_REQUEST_TIMEOUT * (1 + random.random())
    except ValueError:
        raise errors.bad_request("timeoutSeconds must be an integer") from None
    bookmarks = q.get("allowWatchBookmarks", "").lower() in ("true", "1")
    include = q.get("includeObject") or "Metadata"
    prefix = ctx.registry.prefix(resource, namespace)
    cacher = ctx.registry.cacher(resource) if rv else None

    out, cached = ToLoop(), False
    try:
        try:
            if cacher is None or not cacher.ready.is_set():
                raise st.NotReady("no watch cache")
            watcher, initial, start, end_bookmark = await _from_cache(
                ctx, cacher, q, rv, namespace or None, flt, bookmarks, out)
            out.on_stop, cached = (lambda: cacher.forget(watcher)), True
        except st.NotReady:
            initial, first, end_bookmark = await _starting_point(ctx, q, rv, prefix, flt,
                                                                 bookmarks)
            start = first - 1
    except errors.StatusError as e:
        if e.reason != "Expired":
            raise
        return await _error_stream(request, e)

    def encode(type_, obj, ev):
        if type_ == "BOOKMARK":
            return _line(type_, {"kind": resource.kind, "apiVersion": resource.api_version,
                                 "metadata": {"resourceVersion": str(ev.revision)}})
        if fmt == "table":
            return _line(type_, negotiation.table(kind, [obj], include_object=include))
        if ev is not None and obj is ev.obj:
            return b'{"type":"%s","object":%s}\n' % (type_.encode(), _event_json(ev))
        return _line(type_, obj)

    resp = web.StreamResponse(headers={"Content-Type": "application/json",
                                       "Cache-Control": "no-cache, private"})
    resp.enable_chunked_encoding()
    try:
        await resp.prepare(request)
        if not cached:  # from etcd: its own watch starts now, after `start`
            out = WatchStream(ctx.storage, prefix, start + 1, flt, bookmarks).out
        ctx.watches.add(out)
        deadline = out.loop.time() + timeout
        for item in initial:
            await resp.write(encode(*item))
        if end_bookmark:
            await resp.write(_line("BOOKMARK", initial_events_end(kind, start)))
        while True:
            remaining = deadline - out.loop.time()
            if remaining <= 0:
                break
            try:
                item = await asyncio.wait_for(out.queue.get(), remaining)
            except asyncio.TimeoutError:
                break
            if item is None:
                break
            if isinstance(item, st.Expired):
                await resp.write(_line("ERROR", errors.expired(str(item)).status))
                break
            if isinstance(item, Exception):  # etcd went away: end, the client resumes
                log.warning("watch of %s ended: %s", prefix, item)
                break
            await resp.write(encode(*item))
        await resp.write_eof()
    except ConnectionResetError:
        pass  # the client went away
    finally:
        ctx.watches.discard(out)
        if out.on_stop:
            out.on_stop()
    return resp
