"""A rehearsal of the Vagrant lab without VirtualBox: kfs/lab/vm.py's ssh path, end to end.

Each VM is played by a network namespace on a bridge (as in the netns lab) running its own
``sshd``; kfs runs inside ``cp``'s namespace as cp's provisioner runs it (``kfs lab up --lab
vagrant``) and reaches the nodes over ssh as root, exactly as on VMs: commands, files, the
node's own supervisor (``python -m kfs.lab.vm``), the ssh tunnel to each node's Docker. What
differs from VMs: one filesystem (the lab's paths are per machine, so they do not collide)
and one kernel. Not a pytest module (CI has no sshd); run by hand, as root::

    KFS_LAB=kfsv KFS_LAB_SUBNET=192.168.70.0/24 python -m tests.system.vagrant_rehearsal \\
        [--stage cloud] [--demo] [--keep]

Needs ``/usr/sbin/sshd`` (Debian's openssh-server; where systemd runs, installing it starts
an sshd on the host too). ``--keep`` leaves the lab and the sshds running; without it the
rehearsal takes everything down again, and says what it did.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from kfs.lab import netns
from kfs.lab.lab import Lab

ROOT = Path(__file__).resolve().parents[2]
SSHD_CONFIG = """ListenAddress {ip}
HostKey {dir}/host_key
PidFile {dir}/sshd-{name}.pid
AuthorizedKeysFile {dir}/key.pub
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
SetEnv PYTHONPATH={root}
"""


def kfs(lab, work, *argv):
    """`kfs ARGV` on cp, with an `ssh` that uses the rehearsal's key."""
    env = dict(os.environ, KFS_LAB=lab.name, KFS_LAB_SUBNET=str(lab.subnet),
               PATH=f"{work}:{os.environ['PATH']}", PYTHONPATH=str(ROOT))
    return subprocess.run(["nsenter", f"--net=/run/netns/{lab.name}-cp", "--", sys.executable,
                           "-m", "kfs.cli", *argv], env=env).returncode


def wire(lab, names):
    netns.ensure_bridge(lab.bridge, f"{lab.host_ip}/{lab.subnet.prefixlen}")
    netns.ensure_firewall(lab.chain, lab.bridge, str(lab.subnet))
    for i, name in enumerate(names):
        netns.ensure_machine(f"{lab.name}-{name}", f"{lab.name}-{name}", lab.bridge,
                             f"{lab.address(i)}/{lab.subnet.prefixlen}", lab.host_ip)


def unwire(lab, names):
    for name in names:
        netns.remove_machine(f"{lab.name}-{name}", f"{lab.name}-{name}")
    netns.remove_firewall(lab.chain)
    netns.remove_bridge(lab.bridge)


def start_sshds(lab, work, nodes):
    Path("/run/sshd").mkdir(exist_ok=True)
    daemons = []
    for i, name in enumerate(nodes, start=1):
        config = work / f"sshd-{name}.conf"
        config.write_text(SSHD_CONFIG.format(ip=lab.address(i), dir=work, name=name, root=ROOT))
        daemons.append(subprocess.Popen(
            ["nsenter", f"--net=/run/netns/{lab.name}-{name}", "--", "/usr/sbin/sshd", "-D",
             "-f", config, "-E", work / f"sshd-{name}.log"]))
    return daemons


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--stage", default="cloud")
    parser.add_argument("--demo", action="store_true", help="then kfs demo, on cp")
    parser.add_argument("--keep", action="store_true", help="leave it all running")
    args = parser.parse_args(argv)
    lab = Lab()
    if lab.name in ("kfs", "kfst") or lab.exists:
        raise SystemExit(f"lab {lab.name!r}: pick a KFS_LAB of your own that is not up")
    if not shutil.which("sshd", path="/usr/sbin"):
        raise SystemExit("needs /usr/sbin/sshd (apt-get install openssh-server)")
    names = ["cp"] + [f"node{i}" for i in range(1, args.nodes + 1)]
    work = Path(tempfile.mkdtemp(prefix=f"kfs-rehearsal-{lab.name}-"))
    for key in ("key", "host_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", work / key],
                       check=True)
    (work / "ssh").write_text(f"#!/bin/sh\nexec /usr/bin/ssh -i {work / 'key'} \"$@\"\n")
    (work / "ssh").chmod(0o755)
    wire(lab, names)
    sshds = start_sshds(lab, work, names[1:])
    rc = kfs(lab, work, "lab", "up", "--lab", "vagrant", "--nodes", str(args.nodes),
             "--stage", args.stage)
    if rc == 0 and args.demo:
        rc = kfs(lab, work, "demo")
    if args.keep:
        print(f"kept: lab {lab.name!r}, sshd pids {[p.pid for p in sshds]}, files in {work}")
        return rc
    kfs(lab, work, "lab", "down")
    for p in sshds:
        p.terminate()
        p.wait(10)
    unwire(lab, names)
    shutil.rmtree(work, ignore_errors=True)
    print(f"rehearsal {'passed' if rc == 0 else 'FAILED'}; everything taken down")
    return rc


if __name__ == "__main__":
    sys.exit(main())
