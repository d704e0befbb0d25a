"""A machine of the Vagrant lab (``labs/Vagrantfile``): a VirtualBox VM, reached over ssh.

The same stage code (``kfs/lab/stages/*``) runs both labs: it speaks only to a machine
(``kfs/lab/machine.py`` lists what it may ask), and this module is that machine for VMs.
The design, kept simple:

- **kfs runs on ``cp``** (``kfs lab up --lab vagrant``, which cp's provisioner runs once
  the nodes are up): cp is the machine kfs runs *on* (``here``), so its commands and
  daemons run as plain local processes (no namespace: the VM is the machine) under the same
  supervisor as in the netns lab;
- **every other VM is reached by ssh** as root over the host-only network
  (``192.168.56.0/24``), with a key the Vagrantfile gives cp and every node trusts. A
  command runs as ``ssh root@<ip> -- <argv>``; a file is written with ``cat > path`` there;
- **a node does its own part**: what needs the machine's own processes and files (starting,
  stopping and watching a daemon, its container runtime, its removal) runs *on the node*
  as the very same Python (``python -m kfs.lab.vm <call> <json>`` over ssh): there the
  node is ``here``, and the call is done by the code the netns lab runs;
- **files the lab makes on cp** (certificates, kubeconfigs) go with the daemon that names
  them: before a daemon starts on a node, every file of the lab's directory on its
  command line is copied to the same path there;
- **the node's Docker**, for the images kfs loads into it and the containers it lists, is
  reached through an ssh tunnel: the node's Docker socket forwarded to a socket on cp
  (``ssh -L``), a daemon of the lab's supervisor. Its kubelet uses the socket on the node.

Paths are the same on every VM (the lab's state directory ``/var/lib/kfs/lab-<name>``, the
code in the synced folder ``/kfs``, its venv in ``/kfs/.venv``), so a command line written
on cp runs on a node unchanged.

What real clusters do differently: kubeadm runs on every machine itself (``init`` on the
control plane, ``join`` on each node) and the nodes fetch what they need from the API server
(TLS bootstrapping); configuration tools such as Ansible push files and run commands over
ssh much as this does.
"""
import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from kfs.lab import supervisor
from kfs.lab.errors import LabError
from kfs.lab.machine import Machine, unmount_under
from kfs.lab.supervisor import Daemon

SSH_OPTIONS = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=accept-new",
               "-o", "ConnectTimeout=5", "-o", "ServerAliveInterval=10"]
USER = "root"
ERRORS = {"RuntimeError": RuntimeError, "TimeoutError": TimeoutError, "LabError": LabError}


@dataclass
class VM(Machine):
    here: bool = False      # is this the VM kfs runs on (cp)?

    @property
    def netns(self):        # a VM is a machine of its own: no namespace to enter
        return None

    # -- commands and files -------------------------------------------------------------

    def ssh_options(self):
        """Key-only, never a prompt; the VMs' host keys are learnt at first contact and kept
        in the lab's directory (``kfs lab down`` forgets them, as a re-made VM has new ones)."""
        return [*SSH_OPTIONS, "-o", f"UserKnownHostsFile={self.lab_dir / 'known_hosts'}"]

    def ssh(self):
        control = self.lab_dir / "ssh"   # one connection per VM, reused (sockets)
        control.mkdir(parents=True, exist_ok=True)
        return ["ssh", *self.ssh_options(), "-o", "ControlMaster=auto",
                "-o", "ControlPersist=60", "-o", f"ControlPath={control}/%h", f"{USER}@{self.ip}"]

    def disconnect(self):
        """Close the shared connection (``ssh -O exit``), which would idle on for a minute."""
        ssh = self.ssh()
        subprocess.run([ssh[0], "-O", "exit", *ssh[1:]], capture_output=True, timeout=30)

    def command(self, argv, env=None):
        if self.here:
            return [str(a) for a in argv]
        assigns = [f"{k}={v}" for k, v in (env or {}).items()]
        return [*self.ssh(), "--", shlex.join(["env", *assigns, *map(str, argv)])]

    def write(self, path, text):
        if self.here:
            return super().write(path, text)
        path = Path(path)
        script = (f"umask 077 && mkdir -p {shlex.quote(str(path.parent))} "
                  f"&& cat > {shlex.quote(str(path))}")
        r = subprocess.run([*self.ssh(), "--", script], input=text, text=True,
                           capture_output=True, timeout=60)
        if r.returncode != 0:
            raise LabError(f"writing {path} on {self.name} failed: {r.stderr.strip()}")

    def read(self, path):
        if self.here:
            return super().read(path)
        r = self.run(["cat", path], capture_output=True, text=True, timeout=60)
        return r.stdout if r.returncode == 0 else ""

    def remove_files(self, *paths):
        if self.here:
            return super().remove_files(*paths)
        self.run(["rm", "-rf", *map(str, paths)], capture_output=True, timeout=60)

    def put(self, paths):
        """Copy files of the VM kfs runs on to the same paths on this VM."""
        for p in paths:
            self.write(p, Path(p).read_text())

    # -- daemons: done on the VM itself ---------------------------------------------------

    def daemon(self, name, argv, env=None):
        d = Daemon(name, argv, self.dir, None, env)
        if not self.here:
            d.remote = self.supervise
        return d

    def supervise(self, function, daemon, *args, **kwargs):
        """A ``kfs.lab.supervisor`` function, done on this VM (files first, see the module)."""
        if function in ("ensure", "ensure_started", "start", "restart"):
            self.put(lab_files(daemon.argv, self.lab_dir))
        return self.call("supervisor", function, daemon.to_dict(), *args, **kwargs)

    def call(self, kind, function, *args, **kwargs):
        """Run ``python -m kfs.lab.vm`` on this VM: ``kind`` is "supervisor" or "machine"."""
        request = json.dumps({"machine": self.to_dict(), "kind": kind, "function": function,
                              "args": args, "kwargs": kwargs})
        r = subprocess.run(self.command([sys.executable, "-m", "kfs.lab.vm", request]),
                           capture_output=True, text=True, timeout=600)
        lines = r.stdout.strip().splitlines()
        try:
            answer = json.loads(lines[-1])
        except (IndexError, ValueError):
            raise LabError(f"{kind}.{function} on {self.name} failed ({r.returncode}): "
                           f"{(r.stderr or r.stdout).strip()[-500:]}") from None
        if "error" in answer:
            raise ERRORS.get(answer["error"], LabError)(answer["message"])
        return answer["result"]

    def to_dict(self):
        return {"name": self.name, "ip": self.ip, "lab_name": self.lab_name,
                "lab_dir": str(self.lab_dir), "docker_opts": self.docker_opts,
                "joined": self.joined}

    def components(self):
        if self.here:
            return super().components()
        return [self.daemon(n, []) for n in self.call("machine", "component_names")]

    def component_names(self):
        return [d.name for d in Machine.components(self)]

    def start_runtime(self, timeout=60.0):
        if self.here:
            return super().start_runtime(timeout)
        self.call("machine", "start_runtime", timeout)

    def stop_runtime(self):
        if self.here:
            return super().stop_runtime()
        self.call("machine", "stop_runtime")

    # -- its Docker, from cp --------------------------------------------------------------

    @property
    def tunnel_socket(self):
        return Path("/run") / self.lab_name / "tunnels" / f"{self.name}-docker.sock"

    def tunnel(self):
        """The ssh forwarding this VM's Docker socket to ``tunnel_socket`` on cp."""
        sock = self.docker_host.removeprefix("unix://")
        argv = ["ssh", *self.ssh_options(), "-o", "ExitOnForwardFailure=yes",
                "-o", "StreamLocalBindUnlink=yes", "-N",
                "-L", f"{self.tunnel_socket}:{sock}", f"{USER}@{self.ip}"]
        return Daemon(f"docker-tunnel-{self.name}", argv, self.lab_dir / "tunnels")

    def docker(self):
        if self.here:
            return super().docker()
        import docker
        self.tunnel_socket.parent.mkdir(parents=True, exist_ok=True)
        d = self.tunnel()
        supervisor.ensure(d)
        deadline = time.monotonic() + 20
        while not self.tunnel_socket.exists():
            if supervisor.pid_of(d) is None or time.monotonic() > deadline:
                raise LabError(f"no ssh tunnel to {self.name}'s Docker: {supervisor.log_tail(d)}")
            time.sleep(0.1)
        return docker.DockerClient(base_url=f"unix://{self.tunnel_socket}", timeout=60)

    @property
    def docker_endpoint(self):
        """The Docker of this VM as kfs (on cp) reaches it."""
        if self.here:
            return self.docker_host
        self.docker().close()   # the tunnel is up
        return f"unix://{self.tunnel_socket}"

    # -- the IaaS side ----------------------------------------------------------------------

    def exists(self):
        if self.here:
            return True
        return subprocess.run(self.command(["true"]), capture_output=True,
                              timeout=30).returncode == 0

    def create(self, lab, timeout=300.0):
        """Vagrant made the VM: wait until it answers ssh (``vagrant up`` brings the nodes
        first; cp's provisioner may still find one booting)."""
        deadline = time.monotonic() + timeout
        while not self.exists():
            if time.monotonic() > deadline:
                raise LabError(f"VM {self.name} ({self.ip}) does not answer ssh as {USER}: is "
                               "it up (vagrant status) and provisioned (vagrant provision)?")
            time.sleep(2)

    def remove(self):
        """Everything kfs started on the VM stopped and its state removed; the VM stays
        (``vagrant destroy`` deletes it)."""
        if not self.here:
            if self.exists():
                self.call("machine", "remove")
            supervisor.stop(self.tunnel())
            self.disconnect()
            return
        for d in self.components():
            supervisor.stop(d)
        self.stop_runtime()
        unmount_under(self.dir, self.run_dir)
        import shutil
        shutil.rmtree(self.run_dir, ignore_errors=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def lab_files(argv, lab_dir):
    """The files of the lab's state directory a command line names (``--flag=path`` too)."""
    found = []
    for arg in map(str, argv):
        value = arg.split("=", 1)[1] if arg.startswith("--") and "=" in arg else arg
        path = Path(value)
        if path.is_absolute() and path.is_relative_to(lab_dir) and path.is_file():
            found.append(path)
    return found


def serve(request):
    """Do one call on the VM this runs on (the other side of ``VM.call``)."""
    machine = VM(**{**request["machine"], "lab_dir": Path(request["machine"]["lab_dir"])},
                 here=True)
    args, kwargs = request["args"], request["kwargs"]
    if request["kind"] == "supervisor":
        d = request["args"][0]
        daemon = Daemon(d["name"], d["argv"], Path(d["directory"]), None, d["env"])
        return getattr(supervisor, request["function"])(daemon, *args[1:], **kwargs)
    return getattr(machine, request["function"])(*args, **kwargs)


def main(argv):
    try:
        answer = {"result": serve(json.loads(argv[0]))}
    except (RuntimeError, TimeoutError, LabError) as e:
        answer = {"error": type(e).__name__, "message": str(e)}
    print(json.dumps(answer, default=str))


if __name__ == "__main__":
    os.umask(0o022)
    main(sys.argv[1:])
