"""Watch: a long HTTP response carrying one JSON event per line, as things change.

``GET /api/v1/pods?watch=true&resourceVersion=N`` answers 200 at once and then keeps the
connection open: every change to a matching pod after revision N arrives as a line
``{"type": "ADDED|MODIFIED|DELETED", "object": {...}}``, flushed as it happens. This is
how every controller, the scheduler, the kubelets and ``kubectl get -w`` learn about
changes without polling. Each client watch is an etcd watch on the resource's key prefix
from revision N+1, with previous values, so that:

- without a resourceVersion (or with "0") the current objects come first, as ADDED;
- a selector is applied to both the new and the previous state: an object that stops
  matching is DELETED for this watcher (a pod bound to another node leaves a kubelet's
  ``spec.nodeName=node1`` watch), one that starts matching is ADDED;
- a revision etcd has compacted away ends the stream with an ERROR event carrying a 410
  Expired Status: the client must relist (so does a revision etcd has not reached, which
  a client can only have from an etcd that was since replaced);
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

What real Kubernetes does differently: watches are served from the watch cache (one etcd
watch per resource, fanned out in memory), which also makes bookmarks every minute;
events can also be framed for protobuf or WebSocket.
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


def transition(ev, flt):
    """(type, object) for this watcher, or None: processEvent's selector rules."""
    if flt is None:
        return ev.type, ev.obj
    cur = ev.obj if ev.type != "DELETED" else None
    cur_ok = cur is not None and flt(cur)
    prev_ok = ev.prev is not None and flt(ev.prev)
    if ev.type == "DELETED":
        return ("DELETED", ev.obj) if prev_ok else None
    if cur_ok and prev_ok:
        return "MODIFIED", ev.obj
    if cur_ok:
        return "ADDED", ev.obj
    if prev_ok:  # left the selection: the previous state, at this revision
        last = dict(ev.prev, metadata=dict(ev.prev["metadata"],
                                           resourceVersion=ev.obj["metadata"]["resourceVersion"]))
        return "DELETED", last
    return None


class WatchStream:
    """One client watch: an etcd watch in a thread, events handed to the event loop."""

    def __init__(self, storage, prefix, start_revision, bookmarks):
        self.loop = asyncio.get_running_loop()
        self.queue = asyncio.Queue()
        self.watch = storage.watch(prefix, start_revision, progress_notify=bookmarks)
        threading.Thread(target=self._pump, daemon=True, name="watch").start()

    def _pump(self):
        try:
            for ev in self.watch:
                self._put(ev)
            self._put(None)
        except Exception as e:  # Expired, Unavailable: the stream says so and ends
            self._put(e)

    def _put(self, item):
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:  # the event loop is gone (shutdown)
            pass

    def stop(self):
        self.watch.cancel()
        self.queue.put_nowait(None)


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
    from `rv`; raises Expired for a revision this etcd has not reached."""
    send_initial = parse_bool(q, "sendInitialEvents")
    end_bookmark = bool(send_initial and bookmarks)
    if send_initial is None:  # before KEP-3157: the objects come first only from "" or "0"
        send_initial = rv in ("", "0")
    if rv not in ("", "0"):
        current = await _wait_for_revision(ctx, int(rv))
        if current < int(rv):  # a resourceVersion from the future (or another etcd)
            raise errors.expired(f"too large resource version: {rv}, current: {current}")
    if send_initial:  # the state now, which is at least as new as rv
        items, revision, _ = await ctx.run(ctx.storage.list, prefix, 0, None, 0, flt)
        return items, revision + 1, end_bookmark
    if rv in ("", "0"):  # sendInitialEvents=false: from now on
        return [], await ctx.run(ctx.storage.current_revision) + 1, False
    return [], int(rv) + 1, False


async def serve(request, ctx, kind, namespace, flt, fmt):
    """Answer a watch request (after authorization). `ctx` is the server's context, `kind`
    the ``kfs.apiserver.kinds.Kind`` of the resource watched."""
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

    try:
        initial, start, end_bookmark = await _starting_point(ctx, q, rv, prefix, flt, bookmarks)
    except errors.StatusError as e:
        if e.reason != "Expired":
            raise
        return await _error_stream(request, e)

    def encode(type_, obj):
        if fmt == "table" and type_ != "BOOKMARK" and type_ != "ERROR":
            obj = negotiation.table(kind, [obj], include_object=include)
        return _line(type_, obj)

    resp = web.StreamResponse(headers={"Content-Type": "application/json",
                                       "Cache-Control": "no-cache, private"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    stream = WatchStream(ctx.storage, prefix, start, bookmarks)
    ctx.watches.add(stream)
    deadline = stream.loop.time() + timeout
    try:
        for obj in initial:
            await resp.write(encode("ADDED", obj))
        if end_bookmark:
            await resp.write(encode("BOOKMARK", initial_events_end(kind, start - 1)))
        while True:
            remaining = deadline - stream.loop.time()
            if remaining <= 0:
                break
            try:
                item = await asyncio.wait_for(stream.queue.get(), remaining)
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
            if item.type == "PROGRESS":
                if bookmarks:
                    await resp.write(encode("BOOKMARK", {
                        "kind": resource.kind, "apiVersion": resource.api_version,
                        "metadata": {"resourceVersion": str(item.revision)}}))
                continue
            event = transition(item, flt)
            if event:
                await resp.write(encode(*event))
        await resp.write_eof()
    except ConnectionResetError:
        pass  # the client went away
    finally:
        ctx.watches.discard(stream)
        stream.watch.cancel()
    return resp
