"""SPDY/3.1 framing, the server half, just enough for kubectl's port-forward streams.

kubectl port-forward multiplexes every forwarded TCP connection as a pair of SPDY streams
(``streamtype: error`` and ``streamtype: data``, with ``port`` and ``requestid`` headers) on
one SPDY session. Since 1.31 that session travels inside a WebSocket (subprotocol
``SPDY/3.1+portforward.k8s.io``: the binary messages carry the SPDY bytes as one byte
stream); before, and as the fallback, it is the connection itself after an
``Upgrade: SPDY/3.1`` (see `portforward`). Either way the server must speak SPDY framing.

Why our own module: no maintained Python SPDY library exists (SPDY was withdrawn in favour
of HTTP/2 in 2016; the old ``spdylay`` bindings and ``python-spdy`` are unmaintained and
do not install on current Pythons), and Kubernetes' SPDY use is a small subset of it:
``Session`` handles SYN_STREAM (a new stream: headers decoded, the handler started, a
SYN_REPLY sent), DATA (with FIN: the peer's half-close), RST_STREAM, PING (echoed), and
ignores SETTINGS, WINDOW_UPDATE and HEADERS, as the spdystream library on kubectl's side
does not rely on them; GOAWAY ends the session.

Frames (draft-mbelshe-httpbis-spdy-00, version 3): a control frame is ``1 | version (15
bits) | type (16) | flags (8) | length (24) | data``; a data frame ``0 | stream id (31) |
flags (8) | length (24) | data``. Header blocks (``count, (name length, name, value length,
value)*``, all lengths uint32) are zlib-compressed, one compression context per direction
for the whole session, primed with the protocol's fixed dictionary (`DICTIONARY`).

Mirrors ``github.com/moby/spdystream`` (connection.go, stream.go; the framing of its
``spdy`` package) as used by ``k8s.io/apimachinery/pkg/util/httpstream/spdy``.

What real Kubernetes does differently: spdystream is a complete SPDY/3 implementation
(priorities, settings, client-initiated pings, flow-control windows, unidirectional
streams); here the server never pings and never limits a window.
"""
import asyncio
import logging
import struct
import zlib

log = logging.getLogger("kubelet.spdy")

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = (
    1, 2, 3, 4, 6, 7, 8, 9)
FLAG_FIN = 0x01
CANCEL, INTERNAL_ERROR = 5, 6
MAX_DATA = 32 * 1024  # bytes per DATA frame we send


def _words(*words):
    return b"".join(struct.pack(">I", len(w)) + w.encode() for w in words)


# The SPDY/3 header dictionary (section 2.6.10.1 of the draft): length-prefixed header
# names and values, then a run of common status codes, dates and media types.
DICTIONARY = _words(
    "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset",
    "accept-encoding", "accept-language", "accept-ranges", "age", "allow", "authorization",
    "cache-control", "connection", "content-base", "content-encoding", "content-language",
    "content-length", "content-location", "content-md5", "content-range", "content-type",
    "date", "etag", "expect", "expires", "from", "host", "if-match", "if-modified-since",
    "if-none-match", "if-range", "if-unmodified-since", "last-modified", "location",
    "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer",
    "retry-after", "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent",
    "vary", "via", "warning", "www-authenticate", "method", "get", "status", "200 OK",
    "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin") + (
    b"100101201202205206300302303304305306307402405406407408409410411412413414415416417502504"
    b"505203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
    b"401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
    b"503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, "
    b"Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
    b"application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
    b"gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")


def control_frame(kind, flags, data):
    return struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(data)) + data


def data_frame(stream_id, data, flags=0):
    return struct.pack(">II", stream_id & 0x7FFFFFFF, (flags << 24) | len(data)) + data


def encode_headers(headers):
    """A header block, uncompressed: values of one name joined with NUL."""
    out = [struct.pack(">I", len(headers))]
    for name, value in headers.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        out.append(_words(name.lower()) + _words("\0".join(str(v) for v in values)))
    return b"".join(out)


def decode_headers(block):
    count, at, headers = struct.unpack_from(">I", block)[0], 4, {}
    for _ in range(count):
        (n,), at = struct.unpack_from(">I", block, at), at + 4
        name, at = block[at:at + n].decode(), at + n
        (n,), at = struct.unpack_from(">I", block, at), at + 4
        value, at = block[at:at + n].decode(), at + n
        headers[name.lower()] = value.split("\0")[0]
    return headers


class Stream:
    """One SPDY stream: its headers, what the peer sent (until its FIN), our half."""

    def __init__(self, session, stream_id, headers):
        self.session, self.id, self.headers = session, stream_id, headers
        self.incoming = asyncio.Queue()
        self.local_closed = self.remote_closed = False

    async def read(self):
        """The next chunk the peer sent; b"" once it half-closed (or reset) the stream."""
        if self.remote_closed and self.incoming.empty():
            return b""
        return await self.incoming.get()

    async def write(self, data):
        for i in range(0, len(data), MAX_DATA):
            await self.session.send(data_frame(self.id, data[i:i + MAX_DATA]))

    async def close(self):
        """Our half-close: an empty DATA frame with FIN."""
        if not self.local_closed:
            self.local_closed = True
            await self.session.send(data_frame(self.id, b"", FLAG_FIN))

    async def reset(self, status=CANCEL):
        self.local_closed = True
        await self.session.send(control_frame(RST_STREAM, 0, struct.pack(">II", self.id, status)))

    def _received(self, data, fin):
        if data:
            self.incoming.put_nowait(data)
        if fin and not self.remote_closed:
            self.remote_closed = True
            self.incoming.put_nowait(b"")


class Session:
    """The server side of one SPDY session. `send` writes bytes to the peer (a coroutine
    function); `handler(stream)` runs for every stream the peer opens, after its reply."""

    def __init__(self, send, handler):
        self._send, self.handler = send, handler
        self.buffer = b""
        self.streams = {}
        self.tasks = set()
        self.lock = asyncio.Lock()
        self.inflate = zlib.decompressobj(zdict=DICTIONARY)
        self.deflate = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 15,
                                        zdict=DICTIONARY)
        self.closed = False

    async def send(self, frame):
        async with self.lock:
            await self._send(frame)

    async def send_headers_frame(self, kind, stream_id, headers):
        async with self.lock:  # the compression context is shared: compress in send order
            block = self.deflate.compress(encode_headers(headers))
            block += self.deflate.flush(zlib.Z_SYNC_FLUSH)
            await self._send(control_frame(kind, 0, struct.pack(">I", stream_id) + block))

    async def feed(self, data):
        """Bytes from the peer: handle every complete frame."""
        self.buffer += data
        while len(self.buffer) >= 8:
            length = struct.unpack_from(">I", self.buffer, 4)[0] & 0xFFFFFF
            if len(self.buffer) < 8 + length:
                return
            head, body = self.buffer[:8], self.buffer[8:8 + length]
            self.buffer = self.buffer[8 + length:]
            await self.frame(head, body)

    async def frame(self, head, body):
        first, flags = struct.unpack_from(">I", head)[0], head[4]
        if not first & 0x80000000:
            stream = self.streams.get(first & 0x7FFFFFFF)
            if stream:
                stream._received(body, flags & FLAG_FIN)
            return
        kind = first & 0xFFFF
        if kind == SYN_STREAM:
            await self.syn_stream(body, flags)
        elif kind == RST_STREAM:
            stream = self.streams.pop(struct.unpack_from(">I", body)[0] & 0x7FFFFFFF, None)
            if stream:
                stream.local_closed = True
                stream._received(b"", True)
        elif kind == PING:
            await self.send(control_frame(PING, 0, body))
        elif kind == GOAWAY:
            self.close()
        elif kind == HEADERS:  # keep the compression context in step
            self.inflate.decompress(body[4:])

    async def syn_stream(self, body, flags):
        stream_id = struct.unpack_from(">I", body)[0] & 0x7FFFFFFF
        headers = decode_headers(self.inflate.decompress(body[10:]))
        stream = self.streams[stream_id] = Stream(self, stream_id, headers)
        await self.send_headers_frame(SYN_REPLY, stream_id, {})
        if flags & FLAG_FIN:
            stream._received(b"", True)
        task = asyncio.ensure_future(self._run(stream))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self, stream):
        try:
            await self.handler(stream)
        except (ConnectionError, OSError) as e:
            log.debug("stream %d: %s", stream.id, e)
        except Exception:
            log.exception("stream %d failed", stream.id)
        finally:
            self.streams.pop(stream.id, None)

    def close(self):
        """The session ended: every stream reads its end, every handler is cancelled."""
        self.closed = True
        for stream in list(self.streams.values()):
            stream._received(b"", True)
        for task in list(self.tasks):
            task.cancel()
