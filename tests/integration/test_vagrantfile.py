"""The Vagrant lab (labs/Vagrantfile) as far as a machine without VirtualBox can check it:
``vagrant validate`` loads it with Vagrant's own Ruby and checks every machine's config
(``--ignore-provider`` leaves out VirtualBox's block, which needs VirtualBox installed).
CI boots no VM; what the VMs run is the set-up the netns lab runs (``kfs.bootstrap``).
"""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

LABS = Path(__file__).resolve().parents[2] / "labs"


def vagrant(tmp_path, *args, nodes=None):
    if not shutil.which("vagrant"):
        pytest.skip("needs vagrant (set-up installs Debian's)")
    env = dict(os.environ, VAGRANT_DOTFILE_PATH=str(tmp_path / "dot"),
               VAGRANT_HOME=str(tmp_path / "home"))
    env.pop("KFS_NODES", None)
    if nodes is not None:
        env["KFS_NODES"] = nodes
    return subprocess.run(["vagrant", *args], cwd=LABS, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("nodes", [None, "1", "3"])
def test_the_vagrant_lab_validates_with_any_number_of_nodes(tmp_path, nodes):
    done = vagrant(tmp_path, "validate", "--ignore-provider", nodes=nodes)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "validated successfully" in done.stdout


def test_the_vagrant_lab_names_the_machines_and_addresses_of_the_netns_lab():
    text = (LABS / "Vagrantfile").read_text()
    assert '["cp", "192.168.56.10"]' in text
    assert '"192.168.56.#{10 + i}"' in text and '"node#{i}"' in text


@pytest.mark.parametrize("nodes", ["x", "0"])
def test_a_bad_node_count_is_refused_with_a_message_naming_KFS_NODES(tmp_path, nodes):
    done = vagrant(tmp_path, "validate", "--ignore-provider", nodes=nodes)
    assert done.returncode != 0
    assert "KFS_NODES must be a number of nodes from 1 to 9" in done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "ArgumentError" not in done.stderr


def test_the_lab_key_is_made_once_on_the_host_private_and_an_openssh_public_key(tmp_path):
    """cp's key to the nodes (kfs/lab/vm.py reaches them as root over ssh)."""
    assert vagrant(tmp_path, "validate", "--ignore-provider").returncode == 0
    key = tmp_path / "dot" / "kfs-lab" / "id_rsa"
    public = key.with_suffix(".pub").read_text()
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    assert public.startswith("ssh-rsa ") and public.endswith(" kfs-lab\n")
    if shutil.which("ssh-keygen"):
        derived = subprocess.run(["ssh-keygen", "-y", "-f", key], capture_output=True, text=True)
        assert derived.stdout.split()[:2] == public.split()[:2]
    assert vagrant(tmp_path, "validate", "--ignore-provider").returncode == 0
    assert key.with_suffix(".pub").read_text() == public


def test_the_nodes_come_up_before_cp_whose_provisioner_brings_the_cluster_up():
    text = (LABS / "Vagrantfile").read_text()
    assert 'machines = nodes + [["cp", "192.168.56.10"]]' in text
    assert "kfs lab up --lab vagrant --nodes #{NODES} --stage #{STAGE}" in text
    assert "systemctl disable --now docker.socket docker.service containerd.service" in text
