"""The kubelet's /exec and /attach on loopback: the channel protocol (v5 and v4), the exit
status on the error channel, stdin's end, resizes, and the refusals, against the fake
runtime's exec (a socketpair framed as Docker frames it)."""
import asyncio
import json
import ssl
import struct

import aiohttp
import pytest
from multidict import MultiDict

from kfs.kubelet import streaming
from tests.unit.test_kubelet_server import certs, kubelet, server  # noqa: F401  (fixtures)

POD = "/default/web-node1/app"


def client_ssl(certs):
    ctx = ssl.create_default_context(cafile=str(certs.ca))
    ctx.load_cert_chain(str(certs.cert("admin")), str(certs.key("admin")))
    return ctx


async def session_of(server, certs, path, params, protocols, send=(), close_stdin=False):
    """Open the WebSocket, send `send` (channel, bytes) messages, then read to the end:
    (chosen protocol, {channel: bytes})."""
    url = f"https://127.0.0.1:{server.port}{path}"
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(url, params=params, protocols=protocols,
                                ssl=client_ssl(certs)) as ws:
            for channel, data in send:
                await ws.send_bytes(bytes([channel]) + data)
            if close_stdin:
                await ws.send_bytes(bytes([streaming.CLOSE, streaming.STDIN]))
            got = {}
            async for msg in ws:
                got[msg.data[0]] = got.get(msg.data[0], b"") + msg.data[1:]
            return ws.protocol, got


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


def test_demuxer_splits_dockers_frames_even_when_they_arrive_in_pieces():
    raw = struct.pack(">BxxxI", 1, 3) + b"out" + struct.pack(">BxxxI", 2, 4) + b"err\n"
    d = streaming.Demuxer()
    assert d.feed(raw[:5]) == []
    assert d.feed(raw[5:13]) == [(streaming.STDOUT, b"out")]
    assert d.feed(raw[13:]) == [(streaming.STDERR, b"err\n")]


def test_a_non_zero_exit_is_a_status_with_the_exit_code_as_its_cause():
    status = streaming.exit_status(3, ["sh", "-c", "exit 3"])
    assert status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    assert streaming.exit_status(0) == {"metadata": {}, "status": "Success"}


def test_options_need_a_stream_and_a_command_and_a_tty_has_no_stderr():
    with pytest.raises(streaming.OptionsError, match="at least 1 of stdin, stdout, stderr"):
        streaming.new_options(MultiDict(command="ls"))
    with pytest.raises(streaming.OptionsError, match="at least one command"):
        streaming.new_options(MultiDict(output="1"))
    opts = streaming.new_options(MultiDict([("tty", "1"), ("error", "1"), ("output", "1"),
                                            ("command", "sh"), ("command", "-i")]))
    assert (opts.tty, opts.stderr, opts.command) == (True, False, ["sh", "-i"])


def test_exec_over_v5_carries_both_streams_and_the_exit_code(server, certs, kubelet):
    command = ("sh", "-c", "echo out; echo err >&2; exit 3")
    kubelet.runtime.exec_results[("app", command)] = (3, "out\n", "err\n")
    params = [("output", "1"), ("error", "1")] + [("command", c) for c in command]
    protocol, got = run(session_of(server, certs, "/exec" + POD, params, streaming.PROTOCOLS))
    assert protocol == streaming.V5
    assert got[streaming.STDOUT] == b"out\n" and got[streaming.STDERR] == b"err\n"
    status = json.loads(got[streaming.ERROR])
    assert status["details"]["causes"][0]["message"] == "3"


def test_v5_close_ends_stdin_so_cat_finishes(server, certs):
    params = [("input", "1"), ("output", "1"), ("command", "cat")]
    _, got = run(session_of(server, certs, "/exec" + POD, params, streaming.PROTOCOLS,
                            send=[(streaming.STDIN, b"hi\n")], close_stdin=True))
    assert got[streaming.STDOUT] == b"hi\n"
    assert json.loads(got[streaming.ERROR])["status"] == "Success"


def test_a_v4_client_gets_v4_and_the_same_exit_status(server, certs, kubelet):
    kubelet.runtime.exec_results[("app", ("false",))] = (1, "")
    params = [("output", "1"), ("command", "false")]
    protocol, got = run(session_of(server, certs, "/exec" + POD, params, [streaming.V4]))
    assert protocol == streaming.V4
    assert json.loads(got[streaming.ERROR])["details"]["causes"][0]["message"] == "1"


def test_a_tty_resize_reaches_the_runtime(server, certs, kubelet):
    params = [("input", "1"), ("output", "1"), ("tty", "1"), ("command", "cat")]
    size = json.dumps({"Width": 120, "Height": 40}).encode()
    run(session_of(server, certs, "/exec" + POD, params, streaming.PROTOCOLS,
                   send=[(streaming.RESIZE, size), (streaming.STDIN, b"x")], close_stdin=True))
    assert kubelet.runtime.resizes and kubelet.runtime.resizes[-1][1:] == (120, 40)


def test_attach_carries_the_containers_stdin_and_output_past_stdins_end(server, certs):
    """The client's CLOSE of stdin does not end an attach (it would cut the container's
    output short): the session ends when the container's process does."""
    params = [("input", "1"), ("output", "1")]
    _, got = run(session_of(server, certs, "/attach" + POD, params, streaming.PROTOCOLS,
                            send=[(streaming.STDIN, b"typ"), (streaming.STDIN, b"ed\n")],
                            close_stdin=True))
    assert got[streaming.STDOUT] == b"typed\n"
    assert json.loads(got[streaming.ERROR])["status"] == "Success"


def test_an_unknown_container_is_404_naming_the_choices_and_a_plain_get_is_400(server, certs):
    import requests
    cert = (str(certs.cert("admin")), str(certs.key("admin")))
    base = f"https://127.0.0.1:{server.port}"
    r = requests.get(f"{base}/exec/default/web-node1/nope", params={"output": 1, "command": "ls"},
                     verify=str(certs.ca), cert=cert, timeout=10)
    assert r.status_code == 404 and "choose one of: [app]" in r.text
    r = requests.get(f"{base}/exec{POD}", params={"output": 1, "command": "ls"},
                     verify=str(certs.ca), cert=cert, timeout=10)
    assert r.status_code == 400 and "WebSockets only" in r.text


def test_a_container_that_is_not_running_is_404_before_any_upgrade(server, certs, kubelet):
    import requests
    kubelet.runtime.crash("app")
    r = requests.get(f"https://127.0.0.1:{server.port}/exec{POD}",
                     params={"output": 1, "command": "ls"}, verify=str(certs.ca),
                     cert=(str(certs.cert("admin")), str(certs.key("admin"))), timeout=10)
    assert r.status_code == 404 and "container app in pod web-node1 is not running" in r.text
