"""The integration tier: a real etcd and a real `kfs apiserver` on 127.0.0.1 (random ports,
a temporary PKI), driven by the real kubectl and the official kubernetes Python client.

One control plane serves the whole session; each test works in a namespace of its own.
"""
import os
import shutil
import subprocess
import uuid

import pytest

from kfs import kubectl as kubectl_module
from kfs.apiserver.local import LocalControlPlane


def needs(tool):
    if not shutil.which(tool):
        pytest.skip(f"{tool} is not installed (python3 -m kfs.bootstrap installs it)")


@pytest.fixture(scope="session")
def cp(tmp_path_factory):
    needs("etcd")
    plane = LocalControlPlane(tmp_path_factory.mktemp("cp"), compaction_interval="0")
    plane.start()
    yield plane
    plane.stop()


class Kubectl:
    """The real kubectl with a kubeconfig and a private discovery cache."""

    def __init__(self, cp, cache_dir, who="admin"):
        self.cp, self.cache_dir, self.who = cp, cache_dir, who
        self.binary = kubectl_module.binary()  # the real kubectl on PATH, or set-up's

    def env(self, **extra):
        return {**os.environ, "KUBECONFIG": str(self.cp.kubeconfig(self.who)), **extra}

    def run(self, *args, input=None, check=True, timeout=60, env=None):
        argv = [self.binary, "--cache-dir", str(self.cache_dir), *args]
        result = subprocess.run(argv, input=input, capture_output=True, text=True,
                                timeout=timeout, env=self.env(**(env or {})))
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout}{result.stderr}")
        return result

    def __call__(self, *args, **kwargs):
        return self.run(*args, **kwargs).stdout

    def popen(self, *args):
        return subprocess.Popen([self.binary, "--cache-dir", str(self.cache_dir), *args],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=self.env())

    def as_user(self, who):
        return Kubectl(self.cp, self.cache_dir, who)


@pytest.fixture(scope="session")
def kubectl(cp, tmp_path_factory):
    try:
        kubectl_module.binary()
    except FileNotFoundError as e:
        pytest.skip(str(e))
    return Kubectl(cp, tmp_path_factory.mktemp("kubectl-cache"))


@pytest.fixture(scope="session")
def api_client(cp):
    """The official client, configured from the admin kubeconfig."""
    kubernetes = pytest.importorskip("kubernetes")
    client = kubernetes.config.new_client_from_config(config_file=str(cp.kubeconfig()))
    yield client
    client.close()


@pytest.fixture
def core(api_client):
    import kubernetes
    return kubernetes.client.CoreV1Api(api_client)


@pytest.fixture
def apps(api_client):
    import kubernetes
    return kubernetes.client.AppsV1Api(api_client)


@pytest.fixture
def ns(core):
    """A fresh namespace for one test, deleted afterwards."""
    import kubernetes
    name = f"t-{uuid.uuid4().hex[:8]}"
    core.create_namespace(kubernetes.client.V1Namespace(metadata={"name": name}))
    yield name
    try:
        core.delete_namespace(name)
    except kubernetes.client.ApiException:
        pass
