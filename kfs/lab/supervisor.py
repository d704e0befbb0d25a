"""A tiny process supervisor: what systemd does for the daemons of a real node.

Every daemon of the lab (containerd, dockerd, etcd, the kfs components) is started here
with a visible command line, inside its machine's network namespace (``nsenter --net``,
which execs, so the PID we record is the daemon's own), logging to
``<machine dir>/<name>.log``. Its pidfile holds the PID *and* the process start time from
``/proc/PID/stat``: a PID the kernel has since reused for another program never matches,
so ``stop`` can only ever signal the process this supervisor started.

A daemon of a machine kfs does not run on (a Vagrant VM other than ``cp``) has a
``remote``: every function here then does its work on that machine instead
(``kfs/lab/vm.py`` runs the same function there, over ssh).

What systemd does differently: cgroups per unit, restart policies, socket activation,
dependency ordering. Here the lab's ``up`` is the restart policy: it repairs whatever died.
"""
import functools
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# Popen objects of daemons this Python process started, so stopped ones get reaped
# (a long-lived notebook kernel would otherwise collect zombies).
_children = {}


@dataclass
class Daemon:
    name: str           # component name: "dockerd", "kubelet", ...
    argv: list          # the command line as an attendee would type it
    directory: Path     # the machine's state directory: logs and pidfiles live here
    netns: str = None   # network namespace to run in (None: the host's)
    env: dict = None    # extra environment
    remote: object = None   # callable(function name, daemon, *args): do it on the machine

    def to_dict(self):
        return {"name": self.name, "argv": [str(a) for a in self.argv],
                "directory": str(self.directory), "netns": self.netns, "env": self.env}

    @property
    def pidfile(self):
        return self.directory / f"{self.name}.pid"

    @property
    def logfile(self):
        return self.directory / f"{self.name}.log"

    @property
    def cmdfile(self):
        return self.directory / f"{self.name}.cmd"

    @property
    def command_line(self):
        return shlex.join(str(a) for a in self.argv)


def on_its_machine(function):
    """A daemon with a ``remote`` is started, stopped and watched on its own machine."""
    @functools.wraps(function)
    def wrapper(daemon, *args, **kwargs):
        if daemon.remote is not None:
            return daemon.remote(function.__name__, daemon, *args, **kwargs)
        return function(daemon, *args, **kwargs)
    return wrapper


@on_its_machine
def ensure(daemon):
    """Start the daemon, or restart it if it runs with another command line or in a
    network namespace that is no longer its machine's (the namespace was recreated)."""
    pid = pid_of(daemon)
    if pid and (_recorded_command(daemon) != daemon.command_line
                or not in_netns(pid, daemon.netns)):
        stop(daemon)
    return start(daemon)


@on_its_machine
def ensure_started(daemon, marker, timeout=60.0):
    """`ensure` the daemon; if that (re)started it, wait until its log says `marker`
    (a line it writes once it is ready). A daemon that dies meanwhile raises RuntimeError
    with the end of its log. Returns (pid, started: bool)."""
    before = pid_of(daemon)
    offset = daemon.logfile.stat().st_size if daemon.logfile.exists() else 0
    pid = ensure(daemon)
    if pid == before:
        return pid, False
    deadline = time.monotonic() + timeout
    while marker not in _log_since(daemon, offset):
        if pid_of(daemon) != pid:
            raise RuntimeError(f"{daemon.name} exited at once: {log_tail(daemon, offset)}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{daemon.name} did not start in {timeout:.0f}s "
                               f"(see {daemon.logfile})")
        time.sleep(0.1)
    return pid, True


def _log_since(daemon, offset):
    try:
        with open(daemon.logfile, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")
    except OSError:
        return ""


@on_its_machine
def log_tail(daemon, offset=0, lines=5):
    """The last lines its log got since `offset`, on one line (for error messages)."""
    return " | ".join(_log_since(daemon, offset).strip().splitlines()[-lines:])


def in_netns(pid, netns):
    if netns is None:
        return True
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(f"/run/netns/{netns}").st_ino
    except OSError:
        return False


def _recorded_command(daemon):
    try:
        return daemon.cmdfile.read_text().strip()
    except OSError:
        return None


def kfs_command():
    """The `kfs` console script of this installation (component command lines start with it)."""
    return str(Path(sys.executable).parent / "kfs")


def _start_time(pid):
    """Field 22 of /proc/PID/stat, or None if the process is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):
        return None
    return fields[19]


@on_its_machine
def pid_of(daemon):
    """The PID of the running daemon, or None (no pidfile, or its process is gone)."""
    try:
        pid, started = daemon.pidfile.read_text().split()
    except (OSError, ValueError):
        return None
    return int(pid) if _start_time(int(pid)) == started else None


@on_its_machine
def start(daemon):
    """Start the daemon unless it runs already; return its PID."""
    pid = pid_of(daemon)
    if pid:
        return pid
    daemon.directory.mkdir(parents=True, exist_ok=True)
    prefix = ["nsenter", f"--net=/run/netns/{daemon.netns}", "--"] if daemon.netns else []
    env = dict(os.environ, **(daemon.env or {}))
    with open(daemon.logfile, "ab") as log:
        log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting: "
                  f"{daemon.command_line}\n".encode())
        log.flush()
        proc = subprocess.Popen([*prefix, *map(str, daemon.argv)], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)
    _children[proc.pid] = proc
    started = None
    for _ in range(100):  # /proc/PID/stat appears at once; this loop almost never turns
        started = _start_time(proc.pid)
        if started:
            break
        time.sleep(0.01)
    if started is None:
        raise RuntimeError(f"{daemon.name} exited at once; see {daemon.logfile}")
    daemon.pidfile.write_text(f"{proc.pid} {started}\n")
    daemon.cmdfile.write_text(daemon.command_line + "\n")
    return proc.pid


def _signal(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _reap(pid):
    proc = _children.pop(pid, None)
    if proc:
        proc.poll()


@on_its_machine
def stop(daemon, timeout=10.0):
    """SIGTERM the daemon by PID, SIGKILL after ``timeout``; remove its pidfile."""
    pid = pid_of(daemon)
    if pid:
        _signal(pid, signal.SIGTERM)
        if not wait_gone(daemon, pid, timeout):
            _signal(pid, signal.SIGKILL)
            wait_gone(daemon, pid, 5.0)
    daemon.pidfile.unlink(missing_ok=True)
    return pid


def wait_gone(daemon, pid, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if pid_of(daemon) != pid:
            return True
        time.sleep(0.05)
    return False


@on_its_machine
def kill(daemon, sig=signal.SIGKILL):
    """Send a signal without cleaning up: how tests and notebooks simulate a crash."""
    pid = pid_of(daemon)
    if pid:
        _signal(pid, sig)
        if sig == signal.SIGKILL:
            wait_gone(daemon, pid, 5.0)
    return pid


@on_its_machine
def restart(daemon, timeout=10.0):
    stop(daemon, timeout)
    return start(daemon)


def rss_kib(pid):
    """Resident memory of one process in KiB (for `kfs lab status` and the bench)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
