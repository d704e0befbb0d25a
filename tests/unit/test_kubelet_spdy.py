"""The SPDY/3.1 server session: a peer playing kubectl's side opens streams, sends data,
half-closes, pings and resets, byte by byte as it would arrive."""
import asyncio
import struct
import zlib

from kfs.kubelet import spdy


class Peer:
    """kubectl's side: its own header compression context; frames split into pieces."""

    def __init__(self):
        self.deflate = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 15,
                                        zdict=spdy.DICTIONARY)
        self.inflate = zlib.decompressobj(zdict=spdy.DICTIONARY)
        self.received = b""

    def syn_stream(self, stream_id, headers, fin=False):
        block = self.deflate.compress(spdy.encode_headers(headers))
        block += self.deflate.flush(zlib.Z_SYNC_FLUSH)
        body = struct.pack(">IIH", stream_id, 0, 0) + block
        return spdy.control_frame(spdy.SYN_STREAM, spdy.FLAG_FIN if fin else 0, body)

    async def send(self, data):
        self.received += data

    def frames(self):
        """(kind or "data", stream id, flags, body) of everything the server sent."""
        out, buf = [], self.received
        while len(buf) >= 8:
            first, word = struct.unpack_from(">II", buf)
            length, flags = word & 0xFFFFFF, word >> 24
            body, buf = buf[8:8 + length], buf[8 + length:]
            if first & 0x80000000:
                kind = first & 0xFFFF
                sid = struct.unpack_from(">I", body)[0] & 0x7FFFFFFF if len(body) >= 4 else 0
                out.append((kind, sid, flags, body))
            else:
                out.append(("data", first, flags, body))
        return out


async def feed_in_pieces(session, data, size=3):
    for i in range(0, len(data), size):
        await session.feed(data[i:i + size])


def test_the_dictionary_is_spdy3s_by_its_adler32():
    # the DICTID every SPDY/3 header block's zlib stream names (RFC 1950), as kubectl sends it
    assert zlib.adler32(spdy.DICTIONARY) == 0xE3C6A7C2 and len(spdy.DICTIONARY) == 1423


def test_a_stream_is_replied_to_its_headers_decoded_and_its_data_echoed_until_fin():
    async def scenario():
        peer, seen = Peer(), {}

        async def echo(stream):
            seen.update(stream.headers)
            while chunk := await stream.read():
                await stream.write(chunk.upper())
            await stream.close()
        session = spdy.Session(peer.send, echo)
        wire = peer.syn_stream(1, {"streamtype": "data", "port": "8080", "requestid": "0"})
        wire += spdy.data_frame(1, b"hello") + spdy.data_frame(1, b"", spdy.FLAG_FIN)
        await feed_in_pieces(session, wire)
        await asyncio.wait_for(asyncio.gather(*session.tasks), 5)
        return peer, seen
    peer, seen = asyncio.run(scenario())
    assert seen == {"streamtype": "data", "port": "8080", "requestid": "0"}
    frames = peer.frames()
    assert frames[0][:2] == (spdy.SYN_REPLY, 1)
    assert peer.inflate.decompress(frames[0][3][4:]) == struct.pack(">I", 0)  # no headers
    assert ("data", 1, 0, b"HELLO") in frames and frames[-1] == ("data", 1, spdy.FLAG_FIN, b"")


def test_pings_are_echoed_and_a_reset_ends_the_streams_reads():
    async def scenario():
        peer, ended = Peer(), asyncio.Event()

        async def wait_for_end(stream):
            while await stream.read():
                pass
            ended.set()
        session = spdy.Session(peer.send, wait_for_end)
        await session.feed(peer.syn_stream(3, {"streamtype": "error"}))
        await session.feed(spdy.control_frame(spdy.PING, 0, struct.pack(">I", 7)))
        await session.feed(spdy.control_frame(spdy.RST_STREAM, 0, struct.pack(">II", 3, 5)))
        await asyncio.wait_for(ended.wait(), 5)
        return peer
    peer = asyncio.run(scenario())
    assert (spdy.PING, 7, 0, struct.pack(">I", 7)) in peer.frames()


def test_the_sessions_end_cancels_the_handlers():
    async def scenario():
        peer, cancelled = Peer(), asyncio.Event()

        async def forever(stream):
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.set()
                raise
        session = spdy.Session(peer.send, forever)
        await session.feed(peer.syn_stream(1, {"streamtype": "data"}))
        await asyncio.sleep(0)
        session.close()
        await asyncio.wait_for(cancelled.wait(), 5)
    asyncio.run(scenario())
