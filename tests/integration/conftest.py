"""The integration tier: a real etcd and a real `kfs apiserver` on 127.0.0.1 (random ports,
a temporary PKI), driven by the real kubectl and the official kubernetes Python client.

One control plane serves the whole session; each test works in a namespace of its own.
"""
import os
import shutil
import subprocess
import uuid

import pytest

from kfs import kubectl as kubectl_module, versions
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

    def __init__(self, cp, cache_dir, who="admin", version=None):
        self.cp, self.cache_dir, self.who, self.version = cp, cache_dir, who, version
        # the real kubectl on PATH (or set-up's), or one of the others set-up keeps
        self.binary = kubectl_module.binary(version)

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
        return Kubectl(self.cp, self.cache_dir, who, self.version)


@pytest.fixture(scope="session")
def kubectl(cp, tmp_path_factory):
    try:
        kubectl_module.binary()
    except FileNotFoundError as e:
        pytest.skip(str(e))
    return Kubectl(cp, tmp_path_factory.mktemp("kubectl-cache"))


# The three judges: the kubectl on PATH (/usr/bin/kubectl runs its 1.32 against kfs, which
# says 1.32), Debian 12's 1.20 and the newest release (kfs.versions; set-up installs both).
CLIENTS = {"kubectl-1.32": None, f"kubectl-{versions.KUBECTL_OLDEST}": versions.KUBECTL_OLDEST,
           f"kubectl-{versions.KUBECTL_NEWEST}": versions.KUBECTL_NEWEST}


@pytest.fixture(scope="session")
def kubectl_of(cp, tmp_path_factory):
    """``kubectl_of(version)``: the kubectl of a minor version set-up keeps (None: the one on
    PATH), one per session, each with its own discovery cache."""
    made = {}

    def get(version):
        if version not in made:
            try:
                kubectl_module.binary(version)
            except FileNotFoundError as e:
                pytest.skip(str(e))
            made[version] = Kubectl(cp, tmp_path_factory.mktemp("kubectl-cache"),
                                    version=version)
        return made[version]
    return get


@pytest.fixture(scope="session", params=list(CLIENTS.values()), ids=list(CLIENTS))
def any_kubectl(request, kubectl_of):
    """Each of the three kubectls in turn, for the tests where the client's version matters."""
    return kubectl_of(request.param)


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
