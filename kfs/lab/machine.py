"""One lab machine: a network namespace with its own containerd and Docker daemon.

A machine of the Vagrant lab is a VM running ``containerd`` and ``dockerd`` from systemd.
Here each machine runs the same two daemons, started by ``kfs.lab.supervisor`` inside the
machine's network namespace (``nsenter --net``), each with its own root directory, state
directory, pidfile and socket, so nothing is shared with other machines or with a Docker
the host may already run: ``docker ps`` on ``node1`` shows only ``node1``'s containers, and
``iptables-save`` there shows only the rules ``node1``'s Docker (and later kube-proxy) made.

What real machines do differently: their own kernel, mount, PID and UTS namespaces (here
only the network is the machine's own: ``hostname`` and ``ps`` show the host), and a
container runtime reached through the CRI (containerd's cri plugin) rather than Docker.
"""
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

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

    def run(self, argv, **kwargs):
        """Run a command on this machine (in its namespace, with its DOCKER_HOST)."""
        env = dict(os.environ, **self.env, **kwargs.pop("env", {}))
        return subprocess.run(["nsenter", f"--net=/run/netns/{self.netns}", "--", *argv],
                              env=env, **kwargs)

    def docker(self):
        import docker  # imported here so that `kfs lab` works before the venv has it
        return docker.DockerClient(base_url=self.docker_host, timeout=60)

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
        """Remove every container, stop dockerd and containerd, kill leftover shims."""
        if supervisor.pid_of(self.dockerd()) and self.docker_ready():
            for c in self.docker().containers.list(all=True):
                c.remove(force=True)
        supervisor.stop(self.dockerd(), timeout=20)
        supervisor.stop(self.containerd())
        for pidfile in (self.run_dir / "containerd").glob("io.containerd.runtime.v2.task/*/*/shim.pid"):
            try:
                os.kill(int(pidfile.read_text()), 9)
            except (OSError, ValueError):
                pass
