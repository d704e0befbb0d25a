"""A real etcd for flannel's tests: TLS with client certificates, as the lab runs it, on a
free port of `host` (127.0.0.1, or the root tests' underlay address), with the lab's PKI
(``kfs.pki``: flanneld's own ``flanneld-etcd-client`` certificate from the etcd CA)."""
import shutil

import pytest

from kfs import pki
from kfs.apiserver.local import LocalControlPlane
from kfs.flannel.registry import EtcdRegistry
from kfs.storage.errors import Unavailable
from kfs.util import wait_for


class FlannelEtcd(LocalControlPlane):
    """Only the etcd half of the local control plane."""

    def __init__(self, directory, host="127.0.0.1"):
        super().__init__(directory)
        self.host = host

    @property
    def etcd_endpoint(self):
        return f"https://{self.host}:{self.etcd_port}"

    def start(self):
        self.pki = pki.ensure_pki(self.pki_dir, [self.host], etcd_members={"default": self.host})
        self.start_etcd()
        wait_for(self.answers, 30, interval=0.2, what="etcd")
        return self

    def answers(self):
        reg = self.registry()
        try:
            reg.get_subnets()
            return True
        except Unavailable:
            return False
        finally:
            reg.close()

    def tls_args(self):
        p = self.pki
        return [p.etcd_ca, p.cert("flanneld-etcd-client"), p.key("flanneld-etcd-client")]

    def registry(self, prefix="/coreos.com/network", **kw):
        return EtcdRegistry(self.etcd_endpoint, prefix, *map(str, self.tls_args()), **kw)

    def flags(self, prefix="/coreos.com/network"):
        ca, cert, key = self.tls_args()
        return ["--etcd-endpoints", self.etcd_endpoint, "--etcd-prefix", prefix,
                "--etcd-cafile", ca, "--etcd-certfile", cert, "--etcd-keyfile", key]

    def restart_etcd(self):
        self.stop_process("etcd")
        self.start_etcd()
        wait_for(self.answers, 30, interval=0.2, what="etcd after a restart")


def start_flannel_etcd(directory, host="127.0.0.1"):
    if not shutil.which("etcd"):
        pytest.skip("etcd is not installed (python3 -m kfs.bootstrap installs it)")
    return FlannelEtcd(directory, host).start()
