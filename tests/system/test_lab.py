"""The netns lab for real: namespaces, bridge, one Docker daemon per machine (root)."""
import os
import re
import signal
import subprocess
import sys
from pathlib import Path


from kfs.lab import netns, supervisor
from kfs.lab.lab import Lab
from kfs.util import wait_for
from tests.conftest import needs_root

KFS = [sys.executable, "-m", "kfs.cli"]


def sh(machine, *argv, check=True):
    return machine.run(list(argv), capture_output=True, text=True, check=check).stdout


def run_busybox(machine, *argv):
    return sh(machine, "docker", "run", "--rm", "kfs/busybox:1", *argv)


def kfs(lab, *argv, check=True):
    env = dict(os.environ, KFS_LAB=lab.name)
    return subprocess.run([*KFS, *argv], capture_output=True, text=True, env=env, check=check)


def test_a_container_on_node1_reaches_node2s_lab_address(lab):
    out = run_busybox(lab.machine("node1"), "ping", "-c", "1", "-W", "3", lab.machine("node2").ip)
    assert "1 packets received" in out


def test_every_machines_containers_get_addresses_from_docker_default_172_17(lab):
    for name in ("node1", "node2"):
        out = run_busybox(lab.machine(name), "ip", "-4", "-o", "addr", "show", "eth0")
        assert re.search(r"inet 172\.17\.\d+\.\d+/16", out), out


def test_machines_have_separate_iptables(lab):
    node1, node2 = lab.machine("node1"), lab.machine("node2")
    sh(node1, "iptables", "-N", "KFS-TEST-MARK")
    try:
        assert "KFS-TEST-MARK" in sh(node1, "iptables-save")
        assert "KFS-TEST-MARK" not in sh(node2, "iptables-save")
        assert "KFS-TEST-MARK" not in subprocess.run(["iptables-save"], capture_output=True,
                                                     text=True).stdout
    finally:
        sh(node1, "iptables", "-X", "KFS-TEST-MARK")


def test_machines_have_separate_docker_state(lab):
    node1, node2 = lab.machine("node1"), lab.machine("node2")
    sh(node1, "docker", "create", "--name", "only-on-node1", "kfs/busybox:1")
    try:
        assert "only-on-node1" in sh(node1, "docker", "ps", "-a")
        assert "only-on-node1" not in sh(node2, "docker", "ps", "-a")
    finally:
        sh(node1, "docker", "rm", "only-on-node1")


def test_lab_traffic_passes_when_the_hosts_forward_policy_is_drop(lab):
    """A Docker on the host sets FORWARD to DROP; br_netfilter sends bridged frames there."""
    old = "DROP" if "-P FORWARD DROP" in netns.run("iptables", "-S", "FORWARD").stdout else "ACCEPT"
    netns.run("iptables", "-P", "FORWARD", "DROP")
    try:
        out = run_busybox(lab.machine("node1"), "ping", "-c", "1", "-W", "3",
                          lab.machine("node2").ip)
        assert "1 packets received" in out
    finally:
        netns.run("iptables", "-P", "FORWARD", old)


def test_lab_exec_runs_docker_and_iptables_of_that_machine(lab):
    out = kfs(lab, "lab", "exec", "node1", "--", "ip", "-4", "-o", "addr", "show", "eth0").stdout
    assert lab.machine("node1").ip in out
    assert "CONTAINER ID" in kfs(lab, "lab", "exec", "node2", "--", "docker", "ps").stdout
    assert "-A FORWARD -j DOCKER-USER" in kfs(lab, "lab", "exec", "node1", "--",
                                               "iptables-save").stdout


def test_status_lists_machines_addresses_and_daemon_pids(lab):
    out = kfs(lab, "lab", "status").stdout
    for m in lab.machines:
        pid = supervisor.pid_of(m.dockerd())
        assert re.search(rf"{m.name}\s+{re.escape(m.ip)}\s+{m.netns}.*dockerd {pid}", out), out


def test_up_twice_is_a_no_op(lab):
    before = lab.status()
    lab.up(progress=lambda msg: None)
    assert lab.status() == before


def test_a_killed_dockerd_is_repaired_by_up(lab):
    node1 = lab.machine("node1")
    old = supervisor.kill(node1.dockerd(), signal.SIGKILL)
    assert not node1.docker_ready()
    lab.up(progress=lambda msg: None)
    assert supervisor.pid_of(node1.dockerd()) not in (None, old)
    assert "1 packets received" in run_busybox(node1, "ping", "-c", "1", lab.host_ip)


def test_a_deleted_namespace_is_recreated_with_fresh_daemons_by_up(lab):
    node2 = lab.machine("node2")
    netns.run("ip", "netns", "del", node2.netns)
    lab.up(progress=lambda msg: None)
    assert supervisor.in_netns(supervisor.pid_of(node2.dockerd()), node2.netns)
    assert "1 packets received" in run_busybox(node2, "ping", "-c", "1", lab.machine("cp").ip)


def test_unknown_stage_or_machine_is_a_one_line_error_not_a_traceback(lab):
    out = kfs(lab, "lab", "exec", "node9", "--", "true", check=False)
    assert out.returncode == 2 and out.stderr.startswith("kfs: no machine 'node9'")
    assert "Traceback" not in out.stderr


def mounts_under(path):
    """Mount points at `path` or below it (not at a sibling whose name starts the same,
    such as another lab's /var/lib/kfs/lab-kfsd2)."""
    path = Path(path)
    return [l for l in open("/proc/self/mountinfo")
            if Path(l.split()[4]) == path or path in Path(l.split()[4]).parents]


def test_down_removes_namespaces_bridge_daemons_rules_and_state_and_nothing_else():
    needs_root()
    rules_before = netns.run("iptables-save").stdout.count("\n-A ")
    other = subprocess.Popen(["sleep", "60"])  # a process of the host's that must survive
    lab = Lab(name="kfsd", subnet="192.168.58.0/24")
    try:
        lab.up(nodes=1, progress=lambda msg: None)
        node1 = lab.machine("node1")
        sh(node1, "docker", "run", "-d", "kfs/pause:1")
        pids = [supervisor.pid_of(d) for m in lab.machines for d in (m.containerd(), m.dockerd())]
        assert all(pids)
    finally:
        lab.down(progress=lambda msg: None)
    try:
        assert not any(netns.netns_exists(m) for m in ("kfsd-cp", "kfsd-node1"))
        assert netns.link("kfsd0") is None and netns.link("kfsd-node1") is None
        for pid in pids:
            wait_for(lambda: supervisor._start_time(pid) is None, timeout=10,
                     what=f"daemon {pid} to be gone")
        assert "KFSD-LAB" not in netns.run("iptables-save").stdout
        assert netns.run("iptables-save").stdout.count("\n-A ") == rules_before
        assert not lab.dir.exists() and not os.path.exists("/run/kfsd")
        assert not mounts_under(lab.dir) and not mounts_under("/run/kfsd")
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()
