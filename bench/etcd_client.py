"""What one etcd call costs the API server's process, by the way it is made (issue 15).

The API server's registry is blocking code run in a thread pool (``Context.run``); each of
its etcd calls goes through ``etcd3``'s generated stub on a synchronous gRPC channel, with
``etcd3`` 0.12's pure-Python protobuf 3.20. Issue 15 asks whether an asyncio gRPC client,
or current protobuf, would take that cost away. Three ways of making the same 1 KB put from
an asyncio program, 16 in flight, each in a process of its own against one etcd started
here (loopback, no TLS: TLS is the same C code in all three):

- ``stub``: today's path: ``run_in_executor`` into a thread pool, ``KVStub.Put`` there;
- ``bridge``: the registry kept blocking in the pool, its etcd call sent back to the loop's
  ``grpc.aio`` channel (``run_coroutine_threadsafe``) and waited for;
- ``aio``: the call awaited on the loop through ``grpc.aio``, no thread: what an async
  registry would do.

The messages are etcd3's own (built from the descriptors its ``_pb2`` files carry), so
``--python`` can run the same modes under another interpreter, e.g. a virtualenv with
current protobuf (upb, C) and grpcio, to see what the protobuf pin costs:

    .venv/bin/python bench/etcd_client.py [--puts 3000] [--runs 3] [--python /other/python]

Prints puts/s and µs of the process's CPU per put (``time.process_time``).
"""
import argparse
import ast
import asyncio
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

IN_FLIGHT = 16
VALUE = json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p" * 20},
                    "spec": {"containers": [{"name": "app", "image": "kfs/busybox:1",
                                             "command": ["sleep", "3600"]}] * 4},
                    "pad": "y" * 600}).encode()


def descriptors(rpc_dir):
    """etcd3's serialized FileDescriptorProtos (kv, auth, rpc), read from its _pb2 files."""
    out = []
    for name in ("kv", "auth", "rpc"):
        src = (Path(rpc_dir) / f"{name}_pb2.py").read_text()
        literal = re.search(r"serialized_pb=_b\(('.*?')\)\n", src, re.S).group(1)
        out.append(ast.literal_eval(literal).encode("latin-1"))
    return out


def put_messages(rpc_dir):
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    pool = descriptor_pool.DescriptorPool()
    for blob in descriptors(rpc_dir):
        pool.Add(descriptor_pb2.FileDescriptorProto.FromString(blob))
    names = ("etcdserverpb.PutRequest", "etcdserverpb.PutResponse")
    if hasattr(message_factory, "GetMessageClass"):  # protobuf >= 4.21
        return [message_factory.GetMessageClass(pool.FindMessageTypeByName(n)) for n in names]
    factory = message_factory.MessageFactory(pool)
    return [factory.GetPrototype(pool.FindMessageTypeByName(n)) for n in names]


async def measure(mode, target, rpc_dir, n):
    import grpc
    put_request, put_response = put_messages(rpc_dir)
    loop = asyncio.get_running_loop()
    pool = ThreadPoolExecutor(32)
    if mode == "stub":
        channel = grpc.insecure_channel(target)
        put = channel.unary_unary("/etcdserverpb.KV/Put",
                                  request_serializer=put_request.SerializeToString,
                                  response_deserializer=put_response.FromString)

        async def one(i):
            return await loop.run_in_executor(pool, put, put_request(key=b"/b/%d" % i,
                                                                    value=VALUE))
    else:
        channel = grpc.aio.insecure_channel(target)
        put = channel.unary_unary("/etcdserverpb.KV/Put",
                                  request_serializer=put_request.SerializeToString,
                                  response_deserializer=put_response.FromString)

        async def call(i):
            return await put(put_request(key=b"/b/%d" % i, value=VALUE))

        def blocking(i):
            return asyncio.run_coroutine_threadsafe(call(i), loop).result()

        async def one(i):
            if mode == "aio":
                return await call(i)
            return await loop.run_in_executor(pool, blocking, i)
    room = asyncio.Semaphore(IN_FLIGHT)

    async def bounded(i):
        async with room:
            await one(i)
    await asyncio.gather(*(bounded(i) for i in range(100)))  # warm: connections, threads
    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(bounded(i) for i in range(n)))
    return n / (time.perf_counter() - wall), (time.process_time() - cpu) / n * 1e6


def child(mode, target, rpc_dir, n):
    from google.protobuf.internal import api_implementation
    rate, cpu = asyncio.run(measure(mode, target, rpc_dir, n))
    print(json.dumps({"rate": rate, "cpu": cpu, "protobuf": api_implementation.Type()}))


def start_etcd(workdir):
    from kfs.apiserver.local import free_port
    client, peer = free_port(), free_port()
    proc = subprocess.Popen(
        ["etcd", "--data-dir", f"{workdir}/data", "--name", "bench",
         "--listen-client-urls", f"http://127.0.0.1:{client}",
         "--advertise-client-urls", f"http://127.0.0.1:{client}",
         "--listen-peer-urls", f"http://127.0.0.1:{peer}",
         "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
         "--initial-cluster", f"bench=http://127.0.0.1:{peer}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, f"127.0.0.1:{client}"


def answers(target):
    host, port = target.split(":")
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
        return True
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--puts", type=int, default=3000, help="puts per measurement (<= 20000)")
    ap.add_argument("--runs", type=int, default=3, help="measurements per mode (<= 5)")
    ap.add_argument("--python", action="append", default=[],
                    help="another interpreter to run the modes with (grpcio, protobuf)")
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        mode, target, rpc_dir, n = args.child
        return child(mode, target, rpc_dir, int(n))
    if not shutil.which("etcd"):
        sys.exit("etcd_client.py: no etcd on PATH (set-up installs etcd-server)")
    import etcd3.etcdrpc
    from kfs.util import wait_for
    rpc_dir = str(Path(etcd3.etcdrpc.__file__).parent)
    n, runs = min(args.puts, 20000), min(args.runs, 5)
    with tempfile.TemporaryDirectory() as workdir:
        etcd, target = start_etcd(workdir)
        try:
            wait_for(lambda: answers(target), 30, what=f"etcd on {target}")
            print(f"{n} puts of {len(VALUE)} bytes, {IN_FLIGHT} in flight, best of {runs}")
            print(f"{'mode':8s} {'python':28s} {'protobuf':8s} {'puts/s':>7s} "
                  f"{'µs CPU/put':>10s}")
            for python in [sys.executable, *args.python]:
                for mode in ("stub", "bridge", "aio"):
                    results = [json.loads(subprocess.run(
                        [python, __file__, "--child", mode, target, rpc_dir, str(n)],
                        check=True, capture_output=True, text=True, timeout=300).stdout)
                        for _ in range(runs)]
                    best = min(results, key=lambda r: r["cpu"])
                    print(f"{mode:8s} {python[-28:]:28s} {best['protobuf']:8s} "
                          f"{best['rate']:7.0f} {best['cpu']:10.0f}", flush=True)
        finally:
            etcd.terminate()
            etcd.wait(30)


if __name__ == "__main__":
    main()
