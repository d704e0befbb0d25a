"""The container runtime adapter: pods and containers in Docker, the way dockershim did it.

The kubelet talks to its runtime through a small interface in the shape of the CRI
(``k8s.io/cri-api``): run a pod sandbox, create / start / stop / remove a container, list
containers, pull an image, exec, logs. ``DockerRuntime`` implements it over the Docker API,
as ``pkg/kubelet/dockershim`` did until Kubernetes 1.24 (docker_sandbox.go,
docker_container.go, naming.go, labels.go):

- a **sandbox** is a ``kfs/pause:1`` container that owns the pod's network namespace (its
  hostname is the pod's name, its IPC namespace is shareable); host ports are published on
  it; the resolv.conf Docker wrote for it is rewritten with the pod's DNS config, and every
  app container joined to it gets that file (and its hostname) from Docker;
- every **app container** joins it: ``--network container:<sandbox> --ipc container:<sandbox>``,
  so all containers of a pod share one IP and reach each other on ``localhost``;
- every container carries **labels** naming its pod (``io.kubernetes.pod.namespace``,
  ``.name``, ``.uid``), its container name (``POD`` for the sandbox) and its attempt, and is
  named ``k8s_<container>_<pod>_<namespace>_<uid>_<attempt>``: the kubelet keeps no state of
  its own, so after a restart it rebuilds its view from ``docker ps`` alone.

``fake_runtime.FakeRuntime`` implements the same interface in memory for unit tests.

What real Kubernetes does differently: the kubelet speaks gRPC CRI to containerd or CRI-O,
which create sandboxes natively (no pause *container* in Docker's view) and set up the pod
network through CNI plugins instead of Docker's bridge; cgroups are arranged per QoS class.
"""
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone

from kfs.kubelet import hairpin

POD_NAME = "io.kubernetes.pod.name"
POD_NAMESPACE = "io.kubernetes.pod.namespace"
POD_UID = "io.kubernetes.pod.uid"
CONTAINER_NAME = "io.kubernetes.container.name"
CONTAINER_TYPE = "io.kubernetes.docker.type"      # "podsandbox" or "container"
SANDBOX_ID = "io.kubernetes.sandbox.id"
CONTAINER_HASH = "io.kubernetes.container.hash"
RESTART_COUNT = "io.kubernetes.container.restartCount"
GRACE_PERIOD = "io.kubernetes.pod.terminationGracePeriod"
SANDBOX_NAME = "POD"


class ContainerRuntimeError(Exception):
    """The runtime refused: the message is what the Event and the status show."""


class NotFound(ContainerRuntimeError):
    pass


@dataclass
class Container:
    """What the runtime knows about one container (a sandbox or an app container)."""
    id: str
    name: str
    labels: dict
    state: str                  # "created", "running", "exited"
    image: str = ""
    image_id: str = ""
    exit_code: int = 0
    error: str = ""             # why it failed to start
    oom_killed: bool = False
    created_at: float = 0.0     # epoch seconds
    started_at: float = 0.0
    finished_at: float = 0.0
    ip: str = ""                # sandboxes: the pod's address

    @property
    def pod_uid(self):
        return self.labels.get(POD_UID, "")

    @property
    def container_name(self):
        return self.labels.get(CONTAINER_NAME, "")

    @property
    def is_sandbox(self):
        return self.labels.get(CONTAINER_TYPE) == "podsandbox"

    @property
    def attempt(self):
        try:
            return int(self.name.rsplit("_", 1)[1])
        except (IndexError, ValueError):
            return 0

    @property
    def restart_count(self):
        return int(self.labels.get(RESTART_COUNT, self.attempt))

    @property
    def running(self):
        return self.state == "running"

    @property
    def failed_to_start(self):
        return self.state == "created" and bool(self.error)


@dataclass
class SandboxConfig:
    """CRI's PodSandboxConfig, shrunk: what the pause container needs."""
    name: str                   # k8s_POD_<pod>_<ns>_<uid>_<attempt>
    hostname: str
    labels: dict
    host_network: bool = False
    port_mappings: list = field(default_factory=list)  # (containerPort, protocol, hostPort, hostIP)
    dns_config: object = None   # kfs.kubelet.dns.DNSConfig: the sandbox's resolv.conf


@dataclass
class ContainerConfig:
    """CRI's ContainerConfig, shrunk."""
    name: str                   # k8s_<container>_<pod>_<ns>_<uid>_<attempt>
    image: str
    labels: dict
    command: list = None        # the image's ENTRYPOINT replaced (None: keep)
    args: list = None           # the image's CMD replaced (None: keep, unless command is set)
    env: dict = field(default_factory=dict)
    working_dir: str = None
    mounts: list = field(default_factory=list)  # (host path, container path, read only)
    cpu_shares: int = 2
    nano_cpus: int = 0          # 0: no CPU limit
    memory_limit: int = 0       # bytes, 0: no limit
    tty: bool = False
    stdin: bool = False
    pid_mode: str = None        # "container:<id>": share that container's PID namespace


@dataclass
class Stream:
    """A process's stdio as one hijacked connection (what CRI's Exec and Attach hand the
    streaming server): `sock` carries stdin one way and the output the other, each output
    chunk behind Docker's 8-byte header unless `multiplexed` is False (a TTY: one raw
    stream); `exec_id` names the exec (None for an attach)."""
    sock: socket.socket
    multiplexed: bool
    exec_id: str = None
    container_id: str = ""


def container_name(container, pod, attempt):
    """dockershim's naming: k8s_<container>_<pod>_<namespace>_<uid>_<attempt>."""
    m = pod["metadata"]
    return f"k8s_{container}_{m['name']}_{m.get('namespace', 'default')}_{m['uid']}_{attempt}"


def parse_time(text):
    """Docker's RFC 3339 with nanoseconds -> epoch seconds (0.0 for Go's zero time)."""
    if not text or text.startswith("0001-"):
        return 0.0
    head, _, frac = text.rstrip("Z").partition(".")
    frac = (frac.split("+")[0] + "000000")[:6]
    t = datetime.strptime(f"{head}.{frac}", "%Y-%m-%dT%H:%M:%S.%f")
    return t.replace(tzinfo=timezone.utc).timestamp()


def split_image(image):
    """"nosuch/image:1" -> ("nosuch/image", "1"); no tag means "latest", as Docker does."""
    if "@" in image:
        repo, digest = image.split("@", 1)
        return repo, digest
    repo, _, tag = image.rpartition(":")
    if not repo or "/" in tag:
        return image, "latest"
    return repo, tag


class DockerRuntime:
    """The runtime interface over one Docker daemon (``unix:///.../docker.sock``)."""

    def __init__(self, endpoint, timeout=120, hairpin_mode="none", version=None):
        """`version`: the Docker API version to speak (None: ask the daemon, which must be up)."""
        import docker
        self.endpoint, self.hairpin_mode = endpoint, hairpin_mode
        self.client = docker.DockerClient(base_url=endpoint, timeout=timeout, max_pool_size=64,
                                          version=version)
        self.api = self.client.api
        self._inspected = {}  # (id, state) -> Container: a container's facts change with its state
        self._lock = threading.Lock()

    def _call(self, fn, *args, **kwargs):
        """Docker's answer, its errors as ContainerRuntimeError: a Docker that is down or
        restarting (its socket gone, the connection cut) too, so that the sync loop and the
        pod workers carry on and try again, as the kubelet does while its runtime is down."""
        import docker.errors
        import requests
        try:
            return fn(*args, **kwargs)
        except docker.errors.NotFound as e:
            raise NotFound(e.explanation or str(e)) from None
        except docker.errors.APIError as e:
            raise ContainerRuntimeError(e.explanation or str(e)) from None
        except (requests.exceptions.ConnectionError, docker.errors.DockerException) as e:
            raise ContainerRuntimeError(f"cannot reach the container runtime at "
                                        f"{self.endpoint}: {e}") from None

    def version(self):
        return self._call(self.api.version)

    # -- containers ----------------------------------------------------------------------

    def list_containers(self, pod_uid=None):
        """Every container made by a kubelet (or only one pod's), sandboxes included."""
        label = f"{POD_UID}={pod_uid}" if pod_uid else POD_UID
        found = []
        for summary in self._call(self.api.containers, all=True, filters={"label": label}):
            key = (summary["Id"], summary["State"])
            with self._lock:
                c = self._inspected.get(key)
            if c is None:
                try:
                    c = self._inspect(summary["Id"])
                except NotFound:  # removed between list and inspect
                    continue
                with self._lock:
                    self._inspected[(c.id, c.state)] = c
            found.append(c)
        if pod_uid is None:  # a full listing: forget what is gone
            ids = {c.id for c in found}
            with self._lock:
                self._inspected = {k: v for k, v in self._inspected.items() if k[0] in ids}
        return found

    def _inspect(self, cid):
        a = self._call(self.api.inspect_container, cid)
        s, net = a["State"], a.get("NetworkSettings") or {}
        ip = net.get("IPAddress") or next(
            (n.get("IPAddress") for n in (net.get("Networks") or {}).values()
             if n.get("IPAddress")), "")
        return Container(
            id=a["Id"], name=a["Name"].lstrip("/"), labels=a["Config"].get("Labels") or {},
            state=s["Status"], image=a["Config"]["Image"], image_id=a["Image"],
            exit_code=s.get("ExitCode", 0), error=s.get("Error", ""),
            oom_killed=s.get("OOMKilled", False), created_at=parse_time(a["Created"]),
            started_at=parse_time(s.get("StartedAt")), finished_at=parse_time(s.get("FinishedAt")),
            ip=ip)

    def run_pod_sandbox(self, config, image):
        """Create and start the pause container; return its id."""
        ports = {f"{p}/{proto.lower()}": (host_ip or "0.0.0.0", host_port)
                 for p, proto, host_port, host_ip in config.port_mappings}
        options = dict(network_mode="host") if config.host_network else dict(
            hostname=config.hostname, ports=ports or None)
        c = self._call(self.client.containers.create, image, name=config.name,
                       labels=config.labels, ipc_mode="shareable", detach=True, **options)
        try:
            self._call(c.start)
            if config.dns_config is not None:
                self.rewrite_resolv_conf(c.id, config.dns_config)
        except (ContainerRuntimeError, OSError):
            self.remove_container(c.id)
            raise
        if not config.host_network and self.hairpin_mode == hairpin.HAIRPIN_VETH:
            pid = self._call(self.api.inspect_container, c.id)["State"].get("Pid")
            if pid:
                hairpin.set_up_container_pid(pid)
        return c.id

    def rewrite_resolv_conf(self, cid, dns_config):
        """Overwrite the resolv.conf Docker made for the sandbox (dockershim's
        rewriteResolvFile): the app containers, joined to its network, have the same file
        bind-mounted, so one write serves the whole pod."""
        from kfs.kubelet.dns import resolv_conf
        text = resolv_conf(dns_config)
        path = self._call(self.api.inspect_container, cid).get("ResolvConfPath")
        if text and path:
            with open(path, "w") as f:
                f.write(text)

    def create_container(self, sandbox_id, config):
        options = dict(
            name=config.name, labels=config.labels, environment=config.env,
            network_mode=f"container:{sandbox_id}", ipc_mode=f"container:{sandbox_id}",
            working_dir=config.working_dir, cpu_shares=config.cpu_shares,
            volumes=[f"{h}:{c}:{'ro' if ro else 'rw'}" for h, c, ro in config.mounts],
            tty=config.tty, stdin_open=config.stdin, detach=True)
        if config.pid_mode:
            options["pid_mode"] = config.pid_mode
        if config.nano_cpus:
            options["nano_cpus"] = config.nano_cpus
        if config.memory_limit:
            options["mem_limit"] = config.memory_limit
        if config.command is not None:
            options["entrypoint"] = config.command
            options["command"] = config.args or []
        elif config.args is not None:
            options["command"] = config.args
        c = self._call(self.client.containers.create, config.image, **options)
        return c.id

    def start_container(self, cid):
        self._call(self.api.start, cid)

    def stop_container(self, cid, timeout):
        """SIGTERM, then SIGKILL after `timeout` seconds (Docker's stop)."""
        try:
            self._call(self.api.stop, cid, timeout=max(0, int(timeout)))
        except NotFound:
            pass

    def remove_container(self, cid):
        try:
            self._call(self.api.remove_container, cid, force=True, v=True)
        except NotFound:
            pass

    # -- images --------------------------------------------------------------------------

    def image_id(self, image):
        """The image's id if the daemon has it, else None."""
        try:
            return self._call(self.api.inspect_image, image)["Id"]
        except NotFound:
            return None

    def pull_image(self, image):
        repo, tag = split_image(image)
        for line in self._call(self.api.pull, repo, tag=tag, stream=True, decode=True):
            if "error" in line:
                raise ContainerRuntimeError(line["error"])
        return self.image_id(image)

    # -- streaming -----------------------------------------------------------------------

    def exec_sync(self, cid, command, timeout):
        """Run `command` in the container; (exit code, output), exit code None on timeout."""
        result = {}

        def run():
            try:
                ex = self._call(self.api.exec_create, cid, command)
                result["output"] = self._call(self.api.exec_start, ex["Id"]).decode(
                    errors="replace")
                result["code"] = self._call(self.api.exec_inspect, ex["Id"])["ExitCode"]
            except ContainerRuntimeError as e:
                result["code"], result["output"] = -1, str(e)
        t = threading.Thread(target=run, daemon=True)
        t.start()
        t.join(timeout)
        if t.is_alive():
            return None, f"command timed out after {timeout}s"
        return result["code"], result["output"]

    def logs(self, cid, follow=False, tail=None):
        """The container's output (stdout and stderr) as an iterator of byte chunks."""
        return self._call(self.api.logs, cid, stream=True, follow=follow,
                          tail="all" if tail is None else int(tail))

    def exec(self, cid, command, stdin=False, tty=False):
        """Start `command` in the container (Docker's exec create + start, hijacked): a
        `Stream`; stdin is closed by shutting the socket's write side."""
        ex = self._call(self.api.exec_create, cid, command, stdin=stdin, tty=tty)
        raw = self._call(self.api.exec_start, ex["Id"], tty=tty, socket=True)
        return Stream(_raw_socket(raw), not tty, ex["Id"], cid)

    def exec_exit_code(self, exec_id):
        """The exit code of a finished exec (None while it runs)."""
        state = self._call(self.api.exec_inspect, exec_id)
        return None if state.get("Running") else state.get("ExitCode")

    def attach(self, cid, stdin=False):
        """The running container's own stdio (Docker's attach, hijacked)."""
        tty = self._call(self.api.inspect_container, cid)["Config"].get("Tty", False)
        params = {"stdin": int(stdin), "stdout": 1, "stderr": 1, "stream": 1}
        raw = self._call(self.api.attach_socket, cid, params=params)
        return Stream(_raw_socket(raw), not tty, None, cid)

    def resize(self, stream, width, height):
        """A TTY's new size (kubectl's SIGWINCH)."""
        if stream.exec_id:
            self._call(self.api.exec_resize, stream.exec_id, height=height, width=width)
        else:
            self._call(self.api.resize, stream.container_id, height=height, width=width)


def _raw_socket(raw):
    """The socket under what docker-py's ``socket=True`` returns (a SocketIO on a unix
    socket, the socket itself elsewhere)."""
    return getattr(raw, "_sock", raw)
