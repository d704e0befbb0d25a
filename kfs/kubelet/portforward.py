"""port-forward: a client's TCP connections carried to a port of the pod, over a WebSocket.

``GET /portForward/{namespace}/{pod}`` upgrades to a WebSocket in one of two protocols:

- ``SPDY/3.1+portforward.k8s.io`` (kubectl >= 1.31): the messages carry an SPDY session
  (``spdy.py``); kubectl opens a pair of streams per local connection, ``streamtype:
  error`` then ``streamtype: data`` with the same ``requestid`` and the ``port`` header. The
  data stream is copied to and from a TCP connection to the pod's IP and port; when the pod
  closes it, the data stream ends and then the error stream (kubectl waits for both); a
  port nobody listens on is reported on the error stream;
- ``v4.channel.k8s.io`` (or none; the official Python client's ``kubernetes.stream.
  portforward``): the ports come in the query (``?port=8080&port=9090``), each port *i*
  has a data channel ``2i`` and an error channel ``2i+1``, and both begin with the port
  number (two bytes, little-endian); one TCP connection per port for the whole session.

Mirrors ``pkg/kubelet/cri/streaming/portforward`` (httpstream.go: the stream pairs and
their headers; websocket.go: the channels) and dockershim's ``portForward``.

What real Kubernetes does differently: the runtime enters the pod's network namespace and
connects to ``localhost:<port>`` (so a port bound to 127.0.0.1 in the pod works); here the
kubelet connects from its machine to the pod's IP. The kubelet speaks SPDY (the API server
tunnels WebSockets onto it); here the kubelet reads the tunnel itself.
"""
import asyncio
import struct

from aiohttp import WSMsgType, web

from kfs.kubelet import spdy

TUNNEL = "SPDY/3.1+portforward.k8s.io"
V4 = "v4.channel.k8s.io"
PROTOCOLS = (TUNNEL, V4)
DIAL_TIMEOUT = 10


async def dial(ip, port):
    return await asyncio.wait_for(asyncio.open_connection(ip, port), DIAL_TIMEOUT)


def dial_error(pod_name, uid, port, e):
    return (f"error forwarding port {port} to pod {pod_name}, uid {uid}: "
            f"failed to connect to the pod's port: {e or type(e).__name__}")


async def serve(request, pod):
    """Upgrade and forward until the client goes. `pod` is the kubelet's view of it."""
    ws = web.WebSocketResponse(protocols=PROTOCOLS, max_msg_size=0)
    await ws.prepare(request)
    if ws.ws_protocol == TUNNEL:
        await serve_tunnel(ws, pod)
    else:
        await serve_channels(ws, pod, request.query.getall("port", []))
    await ws.close()
    return ws


# -- kubectl: an SPDY session through the WebSocket -------------------------------------------

class Pair:
    """A request's error and data streams (kubectl opens the error stream first)."""

    def __init__(self):
        self.error = None
        self.done = asyncio.Event()


async def serve_tunnel(ws, pod):
    pairs = {}

    async def handler(stream):
        key = stream.headers.get("requestid") or stream.headers.get("port")
        pair = pairs.setdefault(key, Pair())
        if stream.headers.get("streamtype") == "error":
            pair.error = stream
            await pair.done.wait()
            await stream.close()
            pairs.pop(key, None)
        else:
            try:
                await forward_stream(stream, pair, pod)
            finally:
                pair.done.set()

    session = spdy.Session(ws.send_bytes, handler)
    try:
        async for msg in ws:
            if msg.type != WSMsgType.BINARY:
                break
            await session.feed(msg.data)
    finally:
        session.close()


async def forward_stream(stream, pair, pod):
    """One forwarded connection: the data stream to and from the pod's port."""
    port = stream.headers.get("port", "")
    try:
        reader, writer = await dial(pod_ip(pod), int(port))
    except (OSError, ValueError, asyncio.TimeoutError) as e:
        if pair.error:
            md = pod["metadata"]
            await pair.error.write(dial_error(md["name"], md.get("uid"), port, e).encode())
        await stream.close()
        return
    up = asyncio.ensure_future(_stream_to_socket(stream, writer))
    try:
        while chunk := await reader.read(65536):
            await stream.write(chunk)
        await stream.close()
    finally:
        up.cancel()
        writer.close()


async def _stream_to_socket(stream, writer):
    while chunk := await stream.read():
        writer.write(chunk)
        await writer.drain()
    if writer.can_write_eof():
        writer.write_eof()


def pod_ip(pod):
    ip = (pod.get("status") or {}).get("podIP")
    if not ip:
        raise OSError("the pod has no IP yet")
    return ip


# -- the Python client: two channels per port -------------------------------------------------

async def serve_channels(ws, pod, ports):
    """Each port: its data channel to one TCP connection, its error channel for failures."""
    writers = {}
    pumps = []
    for i, port in enumerate(ports):
        prefix = struct.pack("<H", int(port))
        await ws.send_bytes(bytes([2 * i]) + prefix)
        await ws.send_bytes(bytes([2 * i + 1]) + prefix)
        try:
            reader, writers[2 * i] = await dial(pod_ip(pod), int(port))
        except (OSError, asyncio.TimeoutError) as e:
            md = pod["metadata"]
            await ws.send_bytes(bytes([2 * i + 1]) + dial_error(
                md["name"], md.get("uid"), port, e).encode())
            continue
        pumps.append(asyncio.ensure_future(_socket_to_channel(reader, ws, 2 * i)))
    if not pumps:
        return
    client = asyncio.ensure_future(_channels_to_sockets(ws, writers))
    try:  # the session ends when the pod has closed every connection, or the client goes
        await asyncio.wait([asyncio.gather(*pumps), client],
                           return_when=asyncio.FIRST_COMPLETED)
    finally:
        client.cancel()
        for p in pumps:
            p.cancel()
        for w in writers.values():
            w.close()


async def _socket_to_channel(reader, ws, channel):
    while chunk := await reader.read(65536):
        await ws.send_bytes(bytes([channel]) + chunk)


async def _channels_to_sockets(ws, writers):
    async for msg in ws:
        if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
            return
        data = msg.data if msg.type == WSMsgType.BINARY else msg.data.encode()
        writer = writers.get(data[0]) if data else None
        if writer and len(data) > 1:
            writer.write(data[1:])
            await writer.drain()
