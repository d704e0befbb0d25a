"""One lab machine: a network namespace with its own containerd and Docker daemon.

**What a machine is to the stage code** (``kfs/lab/stages/*``), and all it may ask of one,
so that the same stage code runs the netns lab and the Vagrant lab (``kfs/lab/vm.py``):

- ``name``, ``ip``, ``dir`` (its state directory: logs, pidfiles, data), ``run_dir``;
- ``run(argv)``: run a command there (``command(argv)`` is the argv that does it);
- ``daemon(name, argv)``: a daemon of that machine; ``kfs.lab.supervisor`` starts, stops
  and watches it there (``ensure``, ``stop``, ``pid_of``, ...);
- ``write(path, text)``, ``read(path)``, ``remove_files(*paths)``: its files;
- ``docker_host`` (its Docker as seen on the machine, for its kubelet) and ``docker()`` (a
  client of that Docker from where kfs runs);
- ``exists()``, ``create(lab)``, ``remove()``: the IaaS side: is it there, make it, delete it;
  ``stop()``: stop it, keeping its disk (``kfs lab stop-node``; ``stopped`` says so);
- ``addresses(device)``, ``has_link(device)``, ``device_with(address)``: its network
  devices, read with ``ip``.

This class is the netns lab's machine: a command runs under ``nsenter --net`` in the
machine's network namespace, and a file is written where it is, since every machine shares
the host's filesystem. Each machine runs its own containerd and dockerd, started by
``kfs.lab.supervisor`` inside the namespace, each with its own root directory, state
directory, pidfile and socket, so nothing is shared with other machines or with a Docker
the host may already run: ``docker ps`` on ``node1`` shows only ``node1``'s containers, and
``iptables-save`` there shows only the rules ``node1``'s Docker (and later kube-proxy) made.

What real machines do differently: their own kernel, mount, PID and UTS namespaces (here
only the network is the machine's own: ``hostname`` and ``ps`` show the host), and a
container runtime reached through the CRI (containerd's cri plugin) rather than Docker.
"""
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from kfs.lab import netns as wires
from kfs.lab import supervisor
from kfs.lab.supervisor import Daemon

CONTAINERD_TOML = """version = 2
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{state}/containerd.sock"
[ttrpc]
  address = "{state}/containerd.sock.ttrpc"
[debug]
  address = "{state}/debug.sock"
"""


@dataclass
class Machine:
    name: str
    ip: str
    lab_name: str
    lab_dir: Path
    docker_opts: list = field(default_factory=list)  # e.g. --bip/--mtu once flannel runs
    joined: bool = False   # added by `kfs lab add-node`: its kubelet bootstraps with a token
    stopped: bool = False  # stopped by `kfs lab stop-node`: `kfs lab up` leaves it stopped

    @property
    def netns(self):
        return f"{self.lab_name}-{self.name}"

    @property
    def veth(self):  # the host's end of the machine's cable
        return self.netns

    @property
    def dir(self):
        return self.lab_dir / self.name

    @property
    def run_dir(self):  # short paths for sockets (unix socket paths are limited to 107 bytes)
        return Path("/run") / self.lab_name / self.name

    @property
    def docker_host(self):
        return f"unix://{self.dir}/docker.sock"

    @property
    def docker_endpoint(self):
        """Its Docker as kfs reaches it (here: the same socket)."""
        return self.docker_host

    @property
    def env(self):
        """What a shell on this machine has: its Docker, its name."""
        return {"DOCKER_HOST": self.docker_host, "KFS_MACHINE": self.name}

    def daemon(self, name, argv, env=None):
        return Daemon(name, argv, self.dir, self.netns, env)

    def containerd(self):
        return self.daemon("containerd", ["containerd", "--config", self.dir / "containerd.toml"])

    def dockerd(self):
        return self.daemon("dockerd", [
            "dockerd", "--config-file", self.dir / "daemon.json",
            "--data-root", self.dir / "docker", "--exec-root", self.run_dir / "docker",
            "--pidfile", self.run_dir / "dockerd.pid", "-H", self.docker_host,
            "--containerd", self.run_dir / "containerd" / "containerd.sock",
            *self.docker_opts])

    def components(self):
        """Daemons other than the container runtime that run here (kubelet, etcd, ...)."""
        names = sorted(p.stem for p in self.dir.glob("*.pid"))
        return [self.daemon(n, []) for n in names if n not in ("containerd", "dockerd")]

    def command(self, argv, env=None):
        """The argv that runs `argv` on this machine (in its network namespace)."""
        return ["nsenter", f"--net=/run/netns/{self.netns}", "--", *map(str, argv)]

    def run(self, argv, **kwargs):
        """Run a command on this machine (in its namespace, with its DOCKER_HOST)."""
        extra = {**self.env, **kwargs.pop("env", {})}
        return subprocess.run(self.command(argv, extra), env=dict(os.environ, **extra), **kwargs)

    def write(self, path, text):
        """Write a file on this machine (here: the host's filesystem, which it shares)."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text)

    def docker(self):
        import docker  # imported here so that `kfs lab` works before the venv has it
        return docker.DockerClient(base_url=self.docker_host, timeout=60)

    # -- the IaaS side: the machine itself, its network devices ---------------------------

    def exists(self):
        return wires.netns_exists(self.netns)

    def create(self, lab):
        """The machine, cabled to the lab's bridge (``netns.ensure_machine``)."""
        wires.ensure_machine(self.netns, self.veth, lab.bridge,
                             f"{self.ip}/{lab.subnet.prefixlen}", lab.host_ip)

    def remove(self):
        """Every daemon stopped, the runtime's containers and mounts gone, then the machine."""
        for d in self.components():
            supervisor.stop(d)
        self.stop_runtime()
        unmount_under(self.dir, self.run_dir)
        wires.remove_machine(self.netns, self.veth)
        shutil.rmtree(self.run_dir, ignore_errors=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def stop(self):
        """The instance stopped (a cloud's "stop instance"): every daemon stopped, Docker's
        containers stopped with it but kept, its disk and its network device kept.
        Returns {daemon: pid} of those that ran."""
        pids = {d.name: supervisor.stop(d) for d in self.components()}
        pids.update(self.halt_runtime())
        return {name: pid for name, pid in pids.items() if pid}

    def addresses(self, device):
        """The IPv4 addresses (``a.b.c.d/len``) on one of the machine's devices."""
        out = self.run(["ip", "-j", "addr", "show", "dev", device], capture_output=True,
                       text=True, timeout=20)
        found = json.loads(out.stdout or "[]") if out.returncode == 0 else []
        return [f"{a['local']}/{a['prefixlen']}" for d in found for a in d.get("addr_info", [])
                if a["family"] == "inet"]

    def has_link(self, device):
        return self.run(["ip", "link", "show", "dev", device], capture_output=True,
                        timeout=20).returncode == 0

    def device_with(self, address):
        """The name of the device that holds `address` (e.g. a VM's host-only NIC), or None."""
        out = self.run(["ip", "-j", "-4", "addr", "show"], capture_output=True, text=True,
                       timeout=20)
        for d in json.loads(out.stdout or "[]") if out.returncode == 0 else []:
            if any(a.get("local") == address for a in d.get("addr_info", [])):
                return d["ifname"]
        return None

    def read(self, path):
        """A file's text on this machine, or "" if it has none."""
        try:
            return Path(path).read_text()
        except OSError:
            return ""

    def remove_files(self, *paths):
        """Remove files or directories on this machine (those missing are no error)."""
        for path in map(Path, paths):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    # -- the container runtime ---------------------------------------------------------

    def start_runtime(self, timeout=60.0):
        """Start containerd and dockerd unless they run; wait until Docker answers."""
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "containerd").mkdir(parents=True, exist_ok=True)
        (self.dir / "containerd.toml").write_text(CONTAINERD_TOML.format(
            root=self.dir / "containerd", state=self.run_dir / "containerd"))
        (self.dir / "daemon.json").write_text("{}\n")
        supervisor.ensure(self.containerd())
        self._wait(lambda: (self.run_dir / "containerd" / "containerd.sock").exists(),
                   timeout, "containerd", self.containerd())
        if supervisor.pid_of(self.dockerd()) is None:  # a killed dockerd leaves its pidfile
            (self.run_dir / "dockerd.pid").unlink(missing_ok=True)
        supervisor.ensure(self.dockerd())
        self._wait(self.docker_ready, timeout, "dockerd", self.dockerd())

    def _wait(self, ready, timeout, what, daemon):
        deadline = time.monotonic() + timeout
        while not ready():
            if supervisor.pid_of(daemon) is None:
                raise RuntimeError(f"{what} on {self.name} died; see {daemon.logfile}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} on {self.name} not ready after {timeout:.0f}s; "
                                   f"see {daemon.logfile}")
            time.sleep(0.1)

    def docker_ready(self):
        try:
            return self.docker().ping()
        except Exception:  # connection refused, socket missing, 5xx: not ready yet
            return False

    def stop_runtime(self):
        """Remove every container, then stop the runtime (``halt_runtime``)."""
        if supervisor.pid_of(self.dockerd()) and self.docker_ready():
            for c in self.docker().containers.list(all=True):
                c.remove(force=True)
        self.halt_runtime()

    def halt_runtime(self):
        """Stop dockerd (which stops its containers) and containerd, kill leftover shims;
        returns their PIDs (None: it was not running)."""
        pids = {"dockerd": supervisor.stop(self.dockerd(), timeout=20),
                "containerd": supervisor.stop(self.containerd())}
        for pidfile in (self.run_dir / "containerd").glob("io.containerd.runtime.v2.task/*/*/shim.pid"):
            try:
                os.kill(int(pidfile.read_text()), 9)
            except (OSError, ValueError):
                pass
        return pids


def unmount_under(*dirs):
    """Unmount what a killed Docker left mounted (overlays, netns files), deepest first."""
    prefixes = tuple(str(d) + "/" for d in dirs)
    points = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    for point in sorted((p for p in points if p.startswith(prefixes)), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)
