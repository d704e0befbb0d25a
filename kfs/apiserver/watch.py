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

The stream ends after ``timeoutSeconds`` (default: 30 to 60 minutes, random, so that
clients do not all reconnect at once) or when the API server shuts down; clients then
watch again from the last resourceVersion they saw.

Mirrors ``apiserver/pkg/endpoints/handlers/watch.go`` (serveWatch) and
``storage/etcd3/watcher.go`` (processEvent's selector transitions).

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

log = logging.getLogger("kfs.apiserver.watch")

MIN_REQUEST_TIMEOUT = 1800


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

    initial = []
    if rv in ("", "0"):
        items, revision, _ = await ctx.run(ctx.storage.list, prefix, 0, None, 0, flt)
        initial, start = items, revision + 1
    else:
        start = int(rv) + 1
        current = await _wait_for_revision(ctx, int(rv))
        if current < int(rv):  # a resourceVersion from the future (or another etcd)
            too_large = errors.expired(f"too large resource version: {rv}, current: {current}")
            return await _error_stream(request, too_large)

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
