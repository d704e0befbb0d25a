"""An in-memory container runtime with the interface of ``runtime.DockerRuntime``.

Unit tests drive ``sync_pod`` and the kubelet against it: containers are records, "running"
is a state, time is a settable clock, and tests make things happen with ``crash`` (a
container exits with a code), ``images`` (what is present) and ``pullable`` (what a pull
would find). Every call is recorded in ``calls``. Like dockerd, it takes calls from many
threads at once (every pod worker, the probes): each call holds its lock.

Mirrors ``pkg/kubelet/container/testing/fake_runtime.go``.
"""
import dataclasses
import functools
import itertools
import socket
import struct
import threading

from kfs.kubelet.runtime import Container, ContainerRuntimeError, NotFound, Stream


class FakeClock:
    def __init__(self, now=1_000_000.0):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


def locked(method):
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        with self.lock:
            return method(self, *args, **kwargs)
    return call


class FakeRuntime:
    def __init__(self, clock=None, images=("kfs/pause:1", "kfs/busybox:1", "kfs/echo:1")):
        self.clock = clock or FakeClock()
        self.containers = {}           # id -> Container
        self.images = set(images)
        self.pullable = set()          # images a pull would succeed for
        self.fail_start = {}           # image -> error message on start
        self.exec_results = {}         # (container name, tuple(command)) -> (code, output)
        self.logs_of = {}              # id -> bytes
        self.exit_codes = {}           # exec id -> exit code, once its "process" ended
        self.resizes = []              # (exec id or container id, width, height)
        self.calls = []
        self._ids = itertools.count(1)
        self._ips = itertools.count(2)
        self.lock = threading.RLock()

    def _new(self, name, labels, image, state="created"):
        if any(c.name == name for c in self.containers.values()):
            raise ContainerRuntimeError(f'Conflict. The container name "/{name}" is already '
                                        f'in use')
        cid = f"{next(self._ids):064x}"
        c = Container(id=cid, name=name, labels=dict(labels), state=state, image=image,
                      image_id=f"sha256:{abs(hash(image)):064x}"[:71],
                      created_at=self.clock())
        self.containers[cid] = c
        return c

    # -- the runtime interface -----------------------------------------------------------

    @locked
    def list_containers(self, pod_uid=None):
        self.calls.append(("list", pod_uid))
        return [dataclasses.replace(c) for c in self.containers.values()
                if pod_uid is None or c.pod_uid == pod_uid]

    @locked
    def run_pod_sandbox(self, config, image):
        self.calls.append(("run_pod_sandbox", config.name))
        if image not in self.images:
            raise ContainerRuntimeError(f"No such image: {image}")
        c = self._new(config.name, config.labels, image)
        c.state, c.started_at = "running", self.clock()
        c.ip = "" if config.host_network else f"172.17.0.{next(self._ips)}"
        c.config = config
        return c.id

    @locked
    def create_container(self, sandbox_id, config):
        self.calls.append(("create_container", config.name))
        if config.image not in self.images:
            raise ContainerRuntimeError(f"No such image: {config.image}")
        c = self._new(config.name, config.labels, config.image)
        c.config, c.sandbox_id = config, sandbox_id
        return c.id

    @locked
    def start_container(self, cid):
        self.calls.append(("start_container", cid))
        c = self._get(cid)
        error = self.fail_start.get(c.image)
        if error:
            c.error, c.exit_code = error, 127
            raise ContainerRuntimeError(error)
        c.state, c.started_at = "running", self.clock()

    @locked
    def stop_container(self, cid, timeout):
        self.calls.append(("stop_container", cid, timeout))
        c = self.containers.get(cid)
        if c and c.running:
            c.state, c.exit_code, c.finished_at = "exited", 143 if not c.is_sandbox else 0, \
                self.clock()

    @locked
    def remove_container(self, cid):
        self.calls.append(("remove_container", cid))
        self.containers.pop(cid, None)

    @locked
    def image_id(self, image):
        return f"sha256:{abs(hash(image)):x}" if image in self.images else None

    @locked
    def pull_image(self, image):
        self.calls.append(("pull_image", image))
        if image not in self.pullable:
            raise ContainerRuntimeError(f"pull access denied for {image.split(':')[0]}, "
                                        f"repository does not exist")
        self.images.add(image)

    @locked
    def exec_sync(self, cid, command, timeout):
        if cid not in self.containers:
            return -1, f"No such container: {cid}"
        c = self.containers[cid]
        return self.exec_results.get((c.container_name, tuple(command)), (0, ""))

    @locked
    def exec(self, cid, command, stdin=False, tty=False):
        """Like Docker's hijacked exec, over a socketpair: ``cat`` copies stdin to stdout
        until stdin closes; any other command writes its `exec_results` entry (code,
        stdout[, stderr]) and exits with its code. Output is framed as Docker frames it
        unless `tty`."""
        c = self._get(cid)
        if not c.running:
            raise ContainerRuntimeError(f"container {cid} is not running")
        exec_id = f"exec-{next(self._ids)}"
        self.calls.append(("exec", cid, tuple(command), stdin, tty))
        ours, theirs = socket.socketpair()
        result = self.exec_results.get((c.container_name, tuple(command)), (0, ""))
        threading.Thread(target=self._process, args=(theirs, exec_id, list(command), result, tty),
                         daemon=True).start()
        return Stream(ours, not tty, exec_id, cid)

    def _process(self, sock, exec_id, command, result, tty):
        def write(kind, data):
            data = data.encode() if isinstance(data, str) else data
            if data:
                sock.sendall(data if tty else struct.pack(">BxxxI", kind, len(data)) + data)
        code = result[0]
        try:
            if command == ["cat"]:
                while chunk := sock.recv(65536):
                    write(1, chunk)
            elif command == ["read-line"]:  # an attached `read line; echo $line`: one line
                line = b""
                while b"\n" not in line and (chunk := sock.recv(65536)):
                    line += chunk
                write(1, line)
            else:
                write(1, result[1])
                if len(result) > 2:
                    write(2, result[2])
        except OSError:
            code = 137
        finally:
            with self.lock:
                self.exit_codes[exec_id] = code
            sock.close()

    def exec_exit_code(self, exec_id):
        with self.lock:
            return self.exit_codes.get(exec_id)

    def attach(self, cid, stdin=False):
        """An attach to a container whose process reads one line, echoes it and exits."""
        stream = self.exec(cid, ["read-line"], stdin=True)
        return Stream(stream.sock, True, None, cid)

    @locked
    def resize(self, stream, width, height):
        self.resizes.append((stream.exec_id or stream.container_id, width, height))

    @locked
    def logs(self, cid, follow=False, tail=None):
        data = self.logs_of.get(cid, b"")
        lines = data.splitlines(keepends=True)
        return iter(lines[-tail:] if tail else lines)

    # -- what tests make happen ----------------------------------------------------------

    def _get(self, cid):
        if cid not in self.containers:
            raise NotFound(f"No such container: {cid}")
        return self.containers[cid]

    @locked
    def crash(self, container_name, exit_code=1, pod_uid=None):
        """The running container of that name exits with `exit_code`."""
        for c in self.containers.values():
            if c.container_name == container_name and c.running and \
                    (pod_uid is None or c.pod_uid == pod_uid):
                c.state, c.exit_code, c.finished_at = "exited", exit_code, self.clock()
                return c
        raise AssertionError(f"no running container {container_name}")

    @locked
    def running(self, container_name=None):
        return [c for c in self.containers.values() if c.running and
                (container_name is None or c.container_name == container_name)]

    @locked
    def app_containers(self, container_name=None):
        return [c for c in self.containers.values() if not c.is_sandbox and
                (container_name is None or c.container_name == container_name)]

