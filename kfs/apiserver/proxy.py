"""The upgrade-aware proxy: a client's WebSocket carried to the kubelet and back.

``kubectl exec``, ``attach`` and ``port-forward`` (and the official Python client's
``kubernetes.stream``) open a WebSocket on ``pods/<name>/exec`` (``/attach``,
``/portforward``). Once authorization and the kind's checks have passed (the pod is bound,
the container exists: a 400 naming it otherwise), `websocket` dials the kubelet's URL with
the subprotocols the client offered, *then* accepts the client's upgrade with the one the
kubelet chose, and relays every message both ways until either side closes. The kubelet
refusing is answered before the client's upgrade, as an ordinary ``Status`` (with the
kubelet's reason, read from its answer to the same URL without the upgrade); a kubelet
nobody answers for is a 500 after at most `DIAL_TIMEOUT` seconds, never a hang.

Dialling first has a cost upstream's order does not: the kubelet starts the command as it
accepts, so its first output can reach the client together with the 101. client-go
(kubectl >= 1.30) starts reading the connection before it has registered its streams and
drops data for a stream it does not know yet ("Unknown stream id 1, discarding message":
a rare lost stdout on a busy machine). Upstream's API server reaches the kubelet only after
the client's upgrade (a round trip and the runtime's exec start later), so kfs gives the
client that time explicitly: `STREAMS_GRACE` seconds between the upgrade and the first
message relayed.

SPDY upgrades (``Upgrade: SPDY/3.1``, what kubectl < 1.30 speaks, and what newer kubectls
fall back to when the WebSocket upgrade is refused) are refused with a 400 that says so
(`spdy`), after the same checks, the kubelet's included (asked plainly, so nothing runs): a
forbidden user sees 403 on both paths, a missing container 400, a dead kubelet 500.

Mirrors ``k8s.io/apimachinery/pkg/util/proxy/upgradeaware.go`` (UpgradeAwareHandler) and
the connect half of ``pkg/registry/core/pod/rest/subresources.go`` (ExecREST, AttachREST,
PortForwardREST).

What real Kubernetes does differently: the proxy hijacks the connection and copies raw
bytes (any upgrade, SPDY included); since 1.30 a ``StreamTranslator`` ends the client's
WebSocket in the API server and speaks SPDY to the kubelet, and port-forward's WebSocket
carries SPDY frames to a tunnelling handler. Here the kubelet speaks the WebSocket
protocols itself, so the API server relays messages without reading them.
"""
import asyncio
import ssl

import aiohttp
from aiohttp import WSMsgType, web

from kfs.apiserver import errors

DIAL_TIMEOUT = 10       # seconds to reach the kubelet
HANDSHAKE_TIMEOUT = 30  # ... and for it to answer the upgrade (a kubelet that hangs)
STREAMS_GRACE = 0.1     # seconds the client has to register its streams (see above)


def is_websocket(request):
    return request.headers.get("Upgrade", "").lower() == "websocket"


def is_spdy(request):
    return request.headers.get("Upgrade", "").lower().startswith("spdy/")


def offered_protocols(request):
    header = ",".join(request.headers.getall("Sec-WebSocket-Protocol", []))
    return [p.strip() for p in header.split(",") if p.strip()]


async def spdy(request, url, ssl_context):
    """An SPDY upgrade: the kubelet is asked plainly first (no process starts), so a dead
    kubelet or a container it does not run is reported as on the WebSocket path; then 400."""
    async with _session() as session:
        try:
            async with session.get(url, ssl=ssl_context or False,
                                   timeout=_answer_timeout()) as r:
                text = (await r.text()).strip()
                if r.status != 400:
                    raise errors.StatusError(r.status, _reason(r.status), text)
        except (aiohttp.ClientError, asyncio.TimeoutError, ssl.SSLError, OSError) as e:
            raise errors.internal(f"error dialing backend: {e or type(e).__name__}") from None
    raise spdy_refused()


def _session():
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(
        total=None, sock_connect=DIAL_TIMEOUT, connect=DIAL_TIMEOUT))


def _answer_timeout():
    return aiohttp.ClientTimeout(total=HANDSHAKE_TIMEOUT, sock_connect=DIAL_TIMEOUT)


def spdy_refused():
    return errors.bad_request(
        "this API server streams exec, attach and port-forward over WebSockets only "
        "(v5.channel.k8s.io, v4.channel.k8s.io, SPDY/3.1+portforward.k8s.io); SPDY upgrades "
        "are not served: use kubectl >= 1.30 (or the official Python client's kubernetes.stream)")


async def websocket(request, url, ssl_context):
    """Relay the client's WebSocket to `url` (the kubelet) and back."""
    session = _session()
    try:
        upstream = await dial(session, request, url, ssl_context)
        ws = web.WebSocketResponse(protocols=[upstream.protocol] if upstream.protocol else (),
                                   max_msg_size=0)
        await ws.prepare(request)
        await asyncio.sleep(STREAMS_GRACE)
        await relay(ws, upstream)
        return ws
    finally:
        await session.close()


async def dial(session, request, url, ssl_context):
    try:
        return await asyncio.wait_for(session.ws_connect(
            url, protocols=offered_protocols(request), ssl=ssl_context or False,
            max_msg_size=0, autoping=True), HANDSHAKE_TIMEOUT)
    except aiohttp.WSServerHandshakeError as e:
        raise errors.StatusError(e.status, _reason(e.status),
                                 await refusal(session, url, ssl_context, e)) from None
    except (aiohttp.ClientError, asyncio.TimeoutError, ssl.SSLError, OSError) as e:
        raise errors.internal(f"error dialing backend: {e or type(e).__name__}") from None


async def refusal(session, url, ssl_context, e):
    """Why the kubelet refused the upgrade: its answer to the same URL, asked plainly."""
    try:
        async with session.get(url, ssl=ssl_context or False, timeout=_answer_timeout()) as r:
            text = (await r.text()).strip()
            if r.status == e.status and text:
                return text
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
        pass
    return f"the kubelet refused the upgrade: {e.status}"


def _reason(code):
    return {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden",
            404: "NotFound"}.get(code, "InternalError")


async def relay(client, upstream):
    """Copy messages both ways; whichever side ends first ends the other."""
    ups = asyncio.ensure_future(_copy(upstream, client))
    downs = asyncio.ensure_future(_copy(client, upstream))
    try:
        await asyncio.wait({ups, downs}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (ups, downs):
            task.cancel()
        await upstream.close()
        await client.close()


async def _copy(src, dst):
    async for msg in src:
        if dst.closed:
            return
        if msg.type == WSMsgType.BINARY:
            await dst.send_bytes(msg.data)
        elif msg.type == WSMsgType.TEXT:
            await dst.send_str(msg.data)
        else:
            return
