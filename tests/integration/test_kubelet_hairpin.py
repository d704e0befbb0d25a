"""The kubelet's hairpin set-up against the real kernel (root): a "machine" namespace with a
bridge, a "pod" namespace holding the other end of the veth and a process, as Docker
leaves them; the kubelet's code runs in the machine's namespace, as it does in the lab."""
import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.root
MACHINE, POD = f"kfs-hairpin-m{os.getpid()}", f"kfs-hairpin-p{os.getpid()}"


def sh(*argv):
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def pod_process():
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces)")
    for ns in (MACHINE, POD):
        sh("ip", "netns", "add", ns)
    proc = None
    try:
        sh("ip", "-n", MACHINE, "link", "add", "docker0", "type", "bridge")
        sh("ip", "-n", MACHINE, "link", "add", "vethpod", "type", "veth", "peer", "name", "eth0",
           "netns", POD)
        sh("ip", "-n", MACHINE, "link", "set", "vethpod", "master", "docker0", "up")
        proc = subprocess.Popen(["ip", "netns", "exec", POD, "sleep", "60"])
        yield proc.pid
    finally:
        if proc:
            proc.kill()
            proc.wait()
        for ns in (MACHINE, POD):
            subprocess.run(["ip", "netns", "del", ns])


def hairpin_of(device):
    [port] = json.loads(sh("bridge", "-n", MACHINE, "-j", "-d", "link", "show", "dev", device))
    return port["hairpin"]


def test_the_pods_bridge_port_is_put_in_hairpin_mode_from_the_pods_process(pod_process):
    assert hairpin_of("vethpod") is False
    out = sh("ip", "netns", "exec", MACHINE, sys.executable, "-c",
             "import sys; from kfs.kubelet import hairpin; "
             "print(hairpin.set_up_container_pid(int(sys.argv[1])))", str(pod_process))
    assert out.strip() == "True"
    assert hairpin_of("vethpod") is True


def test_a_process_without_an_eth0_is_a_warning_not_an_error(pod_process):
    out = sh("ip", "netns", "exec", MACHINE, sys.executable, "-c",   # the machine has no eth0
             "import os; from kfs.kubelet import hairpin; "
             "print(hairpin.set_up_container_pid(os.getpid()))")
    assert out.strip().splitlines()[-1] == "False"
    assert hairpin_of("vethpod") is False
