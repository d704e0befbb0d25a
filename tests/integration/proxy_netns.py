"""A throwaway network namespace with two "pod" addresses and TCP servers, for the proxy's
root-tier tests (``netns`` and ``servers`` fixtures; ``connect`` runs a client inside)."""
import itertools
import os
import subprocess
import sys

import pytest

PODS = ("10.244.1.2", "10.244.1.3")
NODE_IP = "192.168.56.11"
COUNTER = itertools.count()
SERVER = """
import socket, sys, threading
def serve(ip, port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ip, port)); s.listen(64)
    while True:
        c, _ = s.accept(); c.sendall(f"{ip}:{port}\\n".encode()); c.close()
for spec in sys.argv[1:]:
    ip, port = spec.rsplit(":", 1)
    threading.Thread(target=serve, args=(ip, int(port)), daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
"""
CLIENT = """
import socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for _ in range(n):
    t = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=3) as s:
            print(s.recv(100).decode().strip(), flush=True)
    except OSError as e:
        print(f"{type(e).__name__} {time.monotonic() - t:.2f}", flush=True)
"""


def sh(*argv, check=True):
    return subprocess.run(argv, capture_output=True, text=True, check=check)


@pytest.fixture
def netns():
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces, iptables)")
    name = f"kfs-proxytest-{os.getpid()}-{next(COUNTER)}"
    sh("ip", "netns", "add", name)
    try:
        for cmd in (["link", "set", "lo", "up"],
                    ["link", "add", "kfsdummy", "type", "veth", "peer", "name", "kfspeer"],
                    *(["addr", "add", f"{ip}/24", "dev", "kfsdummy"] for ip in PODS),
                    ["addr", "add", f"{NODE_IP}/24", "dev", "kfsdummy"],
                    ["link", "set", "kfsdummy", "up"], ["link", "set", "kfspeer", "up"],
                    ["route", "add", "10.96.0.0/16", "dev", "kfsdummy", "src", PODS[0]]):
            sh("ip", "-n", name, *cmd)
        yield name
    finally:
        sh("ip", "netns", "del", name, check=False)


def prefix(ns):
    return ["nsenter", f"--net=/run/netns/{ns}", "--"]


@pytest.fixture
def servers(netns):
    proc = subprocess.Popen([*prefix(netns), sys.executable, "-c", SERVER,
                             *(f"{ip}:8080" for ip in PODS)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    yield
    proc.kill()
    proc.wait()


def connect(ns, host, port, n=1):
    out = sh(*prefix(ns), sys.executable, "-c", CLIENT, host, str(port), str(n)).stdout
    return out.split("\n")[:-1]
