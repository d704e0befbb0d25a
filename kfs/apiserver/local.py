"""A control plane on loopback, without the lab: etcd and ``kfs apiserver`` as two processes.

For the integration tests and the benchmarks (and for trying the API server on a laptop):
a temporary PKI (``kfs.pki``), etcd with TLS and client-certificate authentication on a
free port of 127.0.0.1, then ``kfs apiserver`` on another, and kubeconfigs for the admin,
a kubelet (``system:node:node1``) and a token-only user ``alice`` who has no roles::

    with LocalControlPlane("/tmp/cp") as cp:
        subprocess.run(["kubectl", "get", "ns"], env={**os.environ, **cp.env})

Processes are stopped by PID (``stop``), never by name.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from kfs import pki
from kfs.util import wait_for


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalControlPlane:
    ALICE_TOKEN = "alice-token-0123456789abcdef"

    def __init__(self, directory=None, progress_interval="1s", compaction_interval="5m",
                 apiserver_args=()):
        self.dir = Path(directory or tempfile.mkdtemp(prefix="kfs-cp-"))
        self.apiserver_args = list(apiserver_args)  # more flags, e.g. --watch-cache=false
        self.pki_dir = self.dir / "pki"
        self.etcd_port, self.peer_port, self.port = free_port(), free_port(), free_port()
        self.progress_interval, self.compaction_interval = progress_interval, compaction_interval
        self.procs = {}

    @property
    def server(self):
        return f"https://127.0.0.1:{self.port}"

    @property
    def etcd_endpoint(self):
        return f"https://127.0.0.1:{self.etcd_port}"

    def kubeconfig(self, who="admin"):
        return self.dir / f"{who}.kubeconfig"

    @property
    def env(self):
        return {"KUBECONFIG": str(self.kubeconfig())}

    # -- start ------------------------------------------------------------------------------

    def start(self):
        self.pki = pki.ensure_pki(self.pki_dir, ["127.0.0.1"], nodes={"node1": "127.0.0.1"},
                                  etcd_members={"default": "127.0.0.1"})
        p = self.pki
        # files by path, not embedded: kfs.client writes embedded data to temporary files
        pki.write_kubeconfig(self.kubeconfig("admin"), self.server, p.ca, "admin",
                             p.cert("admin"), p.key("admin"), embed=False)
        pki.write_kubeconfig(self.kubeconfig("node1"), self.server, p.ca, "node1",
                             p.cert("kubelet-node1"), p.key("kubelet-node1"), embed=False)
        pki.write_kubeconfig(self.kubeconfig("alice"), self.server, p.ca, "alice",
                             token=self.ALICE_TOKEN, embed=False)
        pki.token_file(self.dir / "tokens.csv", [(self.ALICE_TOKEN, "alice", "1001", ("dev",))])
        self.start_etcd()
        self.start_apiserver()
        return self

    def _spawn(self, name, argv):
        log = open(self.dir / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen([str(a) for a in argv], stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
        log.close()
        return self.procs[name]

    def etcd_argv(self):
        p = self.pki
        peer = f"http://127.0.0.1:{self.peer_port}"
        return ["etcd", "--name", "default", "--data-dir", self.dir / "etcd",
                "--listen-client-urls", self.etcd_endpoint,
                "--advertise-client-urls", self.etcd_endpoint,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", f"default={peer}",
                "--cert-file", p.cert("etcd-server-default"),
                "--key-file", p.key("etcd-server-default"),
                "--client-cert-auth", "--trusted-ca-file", p.etcd_ca,
                "--experimental-watch-progress-notify-interval", self.progress_interval]

    def start_etcd(self):
        self._spawn("etcd", self.etcd_argv())

    def apiserver_argv(self):
        p = self.pki
        return [Path(sys.executable).parent / "kfs", "apiserver",
                "--bind-address", "127.0.0.1", "--secure-port", self.port,
                "--etcd-servers", self.etcd_endpoint, "--etcd-cafile", p.etcd_ca,
                "--etcd-certfile", p.cert("apiserver-etcd-client"),
                "--etcd-keyfile", p.key("apiserver-etcd-client"),
                "--tls-cert-file", p.cert("apiserver"), "--tls-private-key-file", p.key("apiserver"),
                "--client-ca-file", p.ca, "--token-auth-file", self.dir / "tokens.csv",
                "--kubelet-client-certificate", p.cert("apiserver-kubelet-client"),
                "--kubelet-client-key", p.key("apiserver-kubelet-client"),
                "--etcd-compaction-interval", self.compaction_interval, "--v", "2",
                *self.apiserver_args]

    def start_apiserver(self, timeout=60):
        proc = self._spawn("apiserver", self.apiserver_argv())
        wait_for(lambda: self.ready() or proc.poll() is not None, timeout,
                 what="the API server's /readyz")
        if proc.poll() is not None:
            raise RuntimeError(f"kfs apiserver exited; see {self.dir / 'apiserver.log'}")

    def ready(self):
        try:
            r = requests.get(self.server + "/readyz", verify=str(self.pki.ca), timeout=2,
                             cert=(str(self.pki.cert("admin")), str(self.pki.key("admin"))))
            return r.status_code == 200
        except requests.RequestException:
            return False

    # -- stop -------------------------------------------------------------------------------

    def stop_process(self, name, sig=signal.SIGTERM, timeout=15):
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def restart_apiserver(self):
        self.stop_process("apiserver")
        self.start_apiserver()

    def stop(self, remove=False):
        self.stop_process("apiserver")
        self.stop_process("etcd")
        if remove:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop(remove=True)


def env_with(kubeconfig, cache_dir):
    """An environment for the real kubectl against this control plane."""
    return {**os.environ, "KUBECONFIG": str(kubeconfig), "KUBECACHEDIR": str(cache_dir)}


if __name__ == "__main__":
    cp = LocalControlPlane(sys.argv[1] if len(sys.argv) > 1 else None).start()
    print(f"export KUBECONFIG={cp.kubeconfig()}  # Ctrl-C stops etcd and the API server")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        cp.stop()
