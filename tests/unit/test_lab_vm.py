"""The Vagrant lab's machine (kfs/lab/vm.py) against a fake `ssh` on PATH: a script that
records its argv and runs the remote command here, as the real one runs it on the VM. The
"VM" is then this host, so what the node does for its part (``python -m kfs.lab.vm``)
really runs: a daemon started through it is a real process."""
import json
import os
import stat
import sys
from pathlib import Path

import pytest

from kfs.lab import supervisor
from kfs.lab.errors import LabError
from kfs.lab.lab import Lab, check_kind
from kfs.lab.stages import flannel, kubelet
from kfs.lab.vm import VM, lab_files

ROOT = Path(__file__).resolve().parents[2]

FAKE_SSH = """#!{python}
import json, pathlib, subprocess, sys
args = sys.argv[1:]
with open(pathlib.Path(__file__).with_name("calls.log"), "a") as log:
    log.write(json.dumps(args) + "\\n")
i = 0
while args[i].startswith("-"):        # options, as ssh takes them
    i += 2 if args[i] in ("-o", "-L", "-i", "-p", "-O") else 1
command = args[i + 1:]
if command[:1] == ["--"]:
    command = command[1:]
sys.exit(subprocess.run(["sh", "-c", " ".join(command)]).returncode)
"""


@pytest.fixture
def ssh(tmp_path, monkeypatch):
    """The fake ssh on PATH; returns a function giving the argv of every call so far."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "ssh"
    exe.write_text(FAKE_SSH.format(python=sys.executable))
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("PYTHONPATH", f"{ROOT}:{os.environ.get('PYTHONPATH', '')}")

    def calls():
        log = bin_dir / "calls.log"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return calls


@pytest.fixture
def lab(tmp_path):
    lab = Lab(name="vagrant", subnet="192.168.56.0/24", home=tmp_path / "home")
    lab.state.update(nodes=2, kind="vagrant")
    lab.dir.mkdir(parents=True)
    return lab


def test_a_vagrant_lab_is_made_of_vms_and_kfs_runs_on_cp(lab):
    cp, node1, node2 = lab.machines
    assert all(isinstance(m, VM) for m in lab.machines)
    assert (cp.here, node1.here, node2.here) == (True, False, False)
    assert (node1.name, node1.ip, node1.netns) == ("node1", "192.168.56.11", None)


def test_a_command_on_a_node_runs_over_ssh_as_root_with_the_machines_environment(lab, ssh):
    node1 = lab.machine("node1")
    out = node1.run(["sh", "-c", "echo $KFS_MACHINE $DOCKER_HOST"], capture_output=True,
                    text=True)
    assert out.stdout.split() == ["node1", node1.docker_host]
    argv = ssh()[-1]
    assert "root@192.168.56.11" in argv and "BatchMode=yes" in argv
    assert f"UserKnownHostsFile={lab.dir / 'known_hosts'}" in argv


def test_a_command_on_cp_runs_where_kfs_runs_without_ssh(lab, ssh):
    out = lab.machine("cp").run(["echo", "here"], capture_output=True, text=True)
    assert out.stdout == "here\n" and ssh() == []


def test_a_file_written_on_a_node_is_there_and_private(lab, ssh, tmp_path):
    path = tmp_path / "on-node1" / "a" / "key.pem"
    lab.machine("node1").write(path, "secret\n")
    assert path.read_text() == "secret\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert lab.machine("node1").read(path) == "secret\n"
    lab.machine("node1").remove_files(path.parent)
    assert not path.parent.exists()


def test_a_daemon_on_a_node_is_started_watched_and_stopped_by_the_node_itself(lab, ssh):
    node1 = lab.machine("node1")
    d = node1.daemon("sleeper", ["sleep", "300"])
    pid = supervisor.ensure(d)
    try:
        assert pid == supervisor.pid_of(d) and Path(f"/proc/{pid}").exists()
        assert (node1.dir / "sleeper.pid").exists()     # the node's pidfile
        remote = [a for a in ssh() if any("kfs.lab.vm" in x for x in a)]
        assert remote and all("root@192.168.56.11" in a for a in remote)
        assert [m.name for m in node1.components()] == ["sleeper"]
    finally:
        assert supervisor.stop(d) == pid
    assert supervisor.pid_of(d) is None


def test_removing_a_node_stops_its_daemons_there_and_removes_its_state(lab, ssh):
    node1 = lab.machine("node1")
    d = node1.daemon("sleeper", ["sleep", "300"])
    assert supervisor.ensure(d)
    node1.remove()
    assert ssh()[-1][:2] == ["-O", "exit"]   # the shared connection closed, last
    assert not node1.dir.exists() and supervisor.pid_of(d) is None


def test_a_daemon_that_fails_on_a_node_raises_here_with_the_end_of_its_log(lab, ssh):
    d = lab.machine("node1").daemon("broken", ["sh", "-c", "sleep 1; echo no config; exit 3"])
    with pytest.raises(RuntimeError, match="no config"):
        supervisor.ensure_started(d, "started", timeout=10)


def test_the_lab_files_a_node_daemon_names_are_copied_to_the_node_before_it_starts(lab, ssh):
    kubeconfig = lab.kubeconfig("kube-proxy")
    kubeconfig.parent.mkdir(parents=True)
    kubeconfig.write_text("apiVersion: v1\n")
    d = lab.machine("node2").daemon("reader", ["sh", "-c", "exec sleep 300", "reader",
                                                   f"--kubeconfig={kubeconfig}"])
    supervisor.ensure(d)
    try:
        writes = [a[-1] for a in ssh() if "cat >" in a[-1]]
        assert writes == [f"umask 077 && mkdir -p {kubeconfig.parent} && cat > {kubeconfig}"]
    finally:
        supervisor.stop(d)


def test_lab_files_are_the_existing_files_under_the_lab_directory_on_a_command_line(tmp_path):
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "ca.crt").write_text("x")
    argv = ["kfs", "--client-ca-file", tmp_path / "pki" / "ca.crt",
            f"--etcd-cafile={tmp_path / 'pki' / 'ca.crt'}", "--root-dir", tmp_path / "pki",
            f"--missing={tmp_path / 'nope'}", "/etc/hosts"]
    assert lab_files(argv, tmp_path) == [tmp_path / "pki" / "ca.crt"] * 2


def test_a_nodes_docker_is_reached_from_cp_through_an_ssh_tunnel_to_its_socket(lab):
    node1 = lab.machine("node1")
    argv = node1.tunnel().argv
    assert argv[0] == "ssh" and "-N" in argv and argv[-1] == "root@192.168.56.11"
    assert argv[argv.index("-L") + 1] == (f"{node1.tunnel_socket}:"
                                          f"{node1.docker_host.removeprefix('unix://')}")
    assert kubelet.kubelet_argv(lab, node1, "kubelet")[
        kubelet.kubelet_argv(lab, node1, "kubelet").index("--container-runtime-endpoint") + 1] \
        == node1.docker_host   # the kubelet uses its own machine's socket


def test_flanneld_on_a_vm_is_given_the_host_only_address_not_the_nat_nic(lab):
    """Every VirtualBox NAT NIC is 10.0.2.15: the default route's interface is wrong."""
    argv = flannel.daemon(lab, lab.machine("node2")).argv
    assert "--iface=192.168.56.12" in argv


def test_a_lab_keeps_its_kind_and_knows_only_netns_and_vagrant(lab):
    lab.state["stage"] = "machines"
    with pytest.raises(LabError, match="is a vagrant lab; take it down first"):
        check_kind(lab, "netns")
    with pytest.raises(LabError, match="unknown lab 'kvm'"):
        check_kind(lab, "kvm")
    check_kind(lab, "vagrant")


def test_the_stage_code_reaches_machines_only_through_the_machine():
    """No stage enters a namespace or names one: what it runs, it runs with machine.run,
    machine.daemon, machine.write (so the Vagrant lab runs the very same code)."""
    for path in sorted((ROOT / "kfs" / "lab" / "stages").glob("*.py")):
        code = path.read_text()
        for needle in ("nsenter", "/run/netns", "ip netns", '"-n", ', ".netns)", "netns.link(",
                       "netns.addresses(", "netns.netns_exists("):
            assert needle not in code, f"{path.name} uses {needle!r}"


def test_the_ssh_command_lines_are_ones_the_real_ssh_accepts(lab):
    """``ssh -G`` parses a command line's options and prints the configuration, connecting
    nowhere: a misspelt option fails it."""
    import subprocess
    node1 = lab.machine("node1")
    for argv in (node1.ssh(), node1.tunnel().argv):
        options = [a for a in argv[1:-1] if a != "-N"]
        done = subprocess.run(["ssh", "-G", *options, argv[-1]], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert "user root" in done.stdout and "batchmode yes" in done.stdout
