"""The Docker runtime adapter's errors: a Docker that is down or restarting is a
ContainerRuntimeError (which the sync loop and the pod workers log and retry), not an
exception that ends the kubelet's sync loop."""
import pytest

from kfs.kubelet import runtime as rt


def test_a_docker_whose_socket_is_gone_is_a_container_runtime_error(tmp_path):
    docker = rt.DockerRuntime(f"unix://{tmp_path}/docker.sock", timeout=2, version="1.41")
    with pytest.raises(rt.ContainerRuntimeError, match="cannot reach the container runtime"):
        docker.list_containers()
