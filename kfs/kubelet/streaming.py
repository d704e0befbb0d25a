"""exec and attach over a WebSocket: the channel protocol between kubectl and a process.

``GET /exec/{namespace}/{pod}/{container}?command=sh&command=-c&command=...&input=1&output=1
&error=1&tty=1`` (and ``/attach/...``) upgrades to a WebSocket whose subprotocol is
``v5.channel.k8s.io`` or ``v4.channel.k8s.io`` (the first one the client offers, v5
preferred). Every message (binary; text from clients is read the same way) is one
channel's data behind a channel byte:

| byte | channel | direction                                                          |
|------|---------|--------------------------------------------------------------------|
| 0    | stdin   | client -> process                                                  |
| 1    | stdout  | process -> client                                                  |
| 2    | stderr  | process -> client                                                  |
| 3    | error   | the end: a ``Status`` (``Success``, or ``NonZeroExitCode`` with the exit code as the ``ExitCode`` cause, which is how ``kubectl exec ... -- false`` exits 1) |
| 4    | resize  | client -> TTY: ``{"Width": 80, "Height": 24}``                     |
| 255  | close   | v5 only: ``[255, 0]`` closes stdin (``echo hi \\| kubectl exec -i p -- cat`` ends) |

The process runs through the runtime's ``exec`` (Docker's exec API: a hijacked socket whose
output is framed by Docker's 8-byte headers unless it is a TTY, `Demuxer`); once its output
ends the exit code comes from the exec's inspect, goes out on the error channel, and the
WebSocket closes.

Mirrors ``pkg/kubelet/cri/streaming/remotecommand`` (options.go's NewOptions, websocket.go,
httpstream.go's v4WriteStatusFunc), ``k8s.io/apiserver/pkg/util/wsstream`` (conn.go: the
channel framing and the protocol choice) and Docker's ``pkg/stdcopy``.

What real Kubernetes does differently: the kubelet's streaming server also speaks SPDY
(``SPDY/3.1`` with ``v4.channel.k8s.io`` streams) and the base64 variants
(``base64.channel.k8s.io``); the runtime (CRI) hands it a URL of its own streaming server
rather than a socket; v1-v3 of the protocol are served for old clients.
"""
import asyncio
import json
import logging
import socket
import struct
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

log = logging.getLogger("kubelet.streaming")

STDIN, STDOUT, STDERR, ERROR, RESIZE = range(5)
CLOSE = 255
V5, V4 = "v5.channel.k8s.io", "v4.channel.k8s.io"
PROTOCOLS = (V5, V4)
EXIT_TIMEOUT = 10.0  # how long an exec whose output ended may take to report its exit code


class OptionsError(ValueError):
    """A request's streams make no sense (a 400)."""


@dataclass
class Options:
    """remotecommand.Options: which streams the client wants, and the command."""
    stdin: bool = False
    stdout: bool = False
    stderr: bool = False
    tty: bool = False
    command: list = field(default_factory=list)


def _flag(query, *names):
    return any((query.get(n) or "").lower() in ("1", "true") for n in names)


def new_options(query, needs_command=True):
    """NewOptions: the streams from the query (``input``/``output``/``error``, or the API
    server's ``stdin``/``stdout``/``stderr``), and ``command`` (each argument repeated)."""
    opts = Options(stdin=_flag(query, "input", "stdin"), stdout=_flag(query, "output", "stdout"),
                   stderr=_flag(query, "error", "stderr"), tty=_flag(query, "tty"),
                   command=list(query.getall("command", [])))
    if opts.tty and opts.stderr:
        opts.stderr = False  # a TTY has one output stream (upstream logs and drops stderr)
    if not (opts.stdin or opts.stdout or opts.stderr):
        raise OptionsError("you must specify at least 1 of stdin, stdout, stderr")
    if needs_command and not opts.command:
        raise OptionsError("you must specify at least one command for the container")
    return opts


class Demuxer:
    """Docker's stdcopy framing, read incrementally: ``[stream, 0, 0, 0, size (big-endian
    uint32)]`` then `size` bytes, stream 1 for stdout and 2 for stderr."""

    def __init__(self):
        self.buffer = b""

    def feed(self, data):
        """The (channel, payload) pairs complete so far."""
        self.buffer += data
        out = []
        while len(self.buffer) >= 8:
            kind, size = self.buffer[0], struct.unpack(">I", self.buffer[4:8])[0]
            if len(self.buffer) < 8 + size:
                break
            payload, self.buffer = self.buffer[8:8 + size], self.buffer[8 + size:]
            out.append((STDERR if kind == 2 else STDOUT, payload))
        return out


def frame(channel, data=b""):
    return bytes([channel]) + data


def exit_status(code, command=()):
    """What goes on the error channel when the process ends (v4WriteStatusFunc)."""
    if not code:
        return {"metadata": {}, "status": "Success"}
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: error executing command "
                       f"[{' '.join(command)}], exit code {code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def failure_status(message):
    """An internal error on the error channel (the runtime failed mid-stream)."""
    return {"metadata": {}, "status": "Failure", "message": message,
            "reason": "InternalError", "code": 500}


def is_websocket(request):
    return request.headers.get("Upgrade", "").lower() == "websocket"


async def serve(request, runtime, stream, opts):
    """Upgrade `request` and carry `stream` (a runtime `Stream`) until the process ends."""
    ws = web.WebSocketResponse(protocols=PROTOCOLS, max_msg_size=0, heartbeat=None)
    await ws.prepare(request)
    loop = asyncio.get_running_loop()
    sock = stream.sock
    sock.setblocking(False)
    reader = asyncio.ensure_future(read_client(ws, runtime, stream, opts, loop))
    try:
        await copy_output(ws, stream, loop)
        if not ws.closed:
            code = await exit_code(runtime, stream, loop)
            status = exit_status(code, opts.command) if stream.exec_id else exit_status(0)
            await ws.send_bytes(frame(ERROR, json.dumps(status).encode()))
    except (ConnectionError, OSError) as e:
        if not ws.closed:
            await ws.send_bytes(frame(ERROR, json.dumps(failure_status(str(e))).encode()))
    finally:
        reader.cancel()
        sock.close()
        await ws.close()
    return ws


async def copy_output(ws, stream, loop):
    """The process's output to the client until it ends (or the client goes)."""
    demux = Demuxer() if stream.multiplexed else None
    while not ws.closed:
        data = await loop.sock_recv(stream.sock, 65536)
        if not data:
            return
        for channel, payload in demux.feed(data) if demux else [(STDOUT, data)]:
            await ws.send_bytes(frame(channel, payload))


async def read_client(ws, runtime, stream, opts, loop):
    """The client's messages: stdin to the process, resizes to the TTY, v5's CLOSE."""
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:  # the Python client writes str data as text
            payload = msg.data.encode()
        elif msg.type == WSMsgType.BINARY:
            payload = msg.data
        else:
            continue
        if not payload:
            continue
        channel, data = payload[0], payload[1:]
        if channel == STDIN and opts.stdin and data:
            await loop.sock_sendall(stream.sock, data)
        elif channel == RESIZE and opts.tty:
            await resize(runtime, stream, data, loop)
        elif channel == CLOSE and ws.ws_protocol == V5 and data[:1] == bytes([STDIN]):
            if stream.exec_id:  # an attach keeps the container's stdin open (see close_stdin)
                close_stdin(stream.sock)
    # the client went away: stop waiting for output
    try:
        stream.sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def close_stdin(sock):
    """The process's stdin ends: Docker closes an exec's stdin when the hijacked socket's
    write side shuts. Not for an attach: Docker would end the attach's output at once (the
    container's stdin stays open, as upstream's does without ``stdinOnce``)."""
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


async def resize(runtime, stream, data, loop):
    try:
        size = json.loads(data)
        width, height = int(size.get("Width") or 0), int(size.get("Height") or 0)
    except (ValueError, AttributeError):
        return
    if width and height:
        try:
            await loop.run_in_executor(None, runtime.resize, stream, width, height)
        except Exception as e:  # a resize that fails must not end the session
            log.debug("resize failed: %s", e)


async def exit_code(runtime, stream, loop):
    """The exec's exit code, once Docker has it (None for an attach)."""
    if not stream.exec_id:
        return None
    deadline = loop.time() + EXIT_TIMEOUT
    while True:
        code = await loop.run_in_executor(None, runtime.exec_exit_code, stream.exec_id)
        if code is not None or loop.time() > deadline:
            return code if code is not None else 1
        await asyncio.sleep(0.05)


# -- the client side, for a look at a kubelet without an API server ----------------------------

async def exec_command_async(url, command, ssl_context=None):
    """Run `command` through a streaming server's /exec URL over v5: (stdout, stderr,
    status) — what kubectl exec does once the API server has relayed it."""
    import aiohttp
    params = [("output", "1"), ("error", "1")] + [("command", c) for c in command]
    out = {STDOUT: b"", STDERR: b"", ERROR: b""}
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url, params=params, protocols=PROTOCOLS,
                                      ssl=ssl_context or False) as ws:
            async for msg in ws:
                if msg.type == WSMsgType.BINARY and msg.data[:1]:
                    channel = msg.data[0]
                    out[channel] = out.get(channel, b"") + msg.data[1:]
    status = json.loads(out[ERROR]) if out[ERROR] else {}
    return out[STDOUT].decode(errors="replace"), out[STDERR].decode(errors="replace"), status


def exec_command(url, command, ssl_context=None, timeout=60):
    """`exec_command_async`, waited for (at most `timeout` seconds) on a loop of its own in a
    thread (a notebook's kernel already runs one in this thread)."""
    from concurrent.futures import ThreadPoolExecutor
    coro = asyncio.wait_for(exec_command_async(url, command, ssl_context), timeout)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
