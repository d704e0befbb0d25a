"""Liveness, readiness and startup probes: exec, httpGet and tcpSocket.

``run_probe`` runs one probe once: ``exec`` runs a command in the container (exit code 0
is success), ``httpGet`` asks the pod's IP (any status 200-399 is success), ``tcpSocket``
opens a connection. The kubelet runs inside its machine's network namespace, where the
pod IPs on Docker's bridge are reachable.

A ``ProbeWorker`` (one thread per container and probe kind) probes every ``periodSeconds``
after ``initialDelaySeconds``; a result flips only after ``successThreshold`` successes or
``failureThreshold`` failures in a row. Each failure is a Warning event ``Unhealthy``.
A flip wakes the pod's worker: readiness drives the container's ``ready`` and the pod's
Ready condition; a failed liveness (or startup) probe makes ``sync_pod`` kill the container
(event ``Killing``), after which the restart policy and back-off apply. A new container
(a new id) starts over: not ready, alive, not started.

Mirrors ``pkg/kubelet/prober`` (prober_manager.go, worker.go, prober.go, results) and
``pkg/probe/{exec,http,tcp}``.

What real Kubernetes does differently: gRPC probes, exec probes through the CRI with
enforced timeouts, and probe results cached in a results manager per kind.
"""
import logging
import socket
import threading
import time

import requests
import urllib3

# HTTPS probes do not verify the pod's certificate (as upstream): no warning per probe
urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

log = logging.getLogger("kubelet.prober")

KINDS = ("startup", "liveness", "readiness")
INITIAL = {"startup": False, "liveness": True, "readiness": False}


def resolve_port(port, spec):
    """A port number, or a named port of the container."""
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for p in spec.get("ports") or []:
        if p.get("name") == port:
            return int(p["containerPort"])
    raise ValueError(f"unknown named port {port!r}")


def run_probe(probe, pod_ip, container_id, spec, runtime):
    """One attempt: (success, message)."""
    timeout = probe.get("timeoutSeconds", 1)
    try:
        if "exec" in probe:
            code, output = runtime.exec_sync(container_id, probe["exec"]["command"], timeout)
            if code == 0:
                return True, output
            return False, output.strip() or f"command {probe['exec']['command']} exited with {code}"
        if "httpGet" in probe:
            h = probe["httpGet"]
            url = (f"{h.get('scheme', 'HTTP').lower()}://{h.get('host') or pod_ip}:"
                   f"{resolve_port(h['port'], spec)}{h.get('path', '/')}")
            headers = {"User-Agent": "kube-probe/1.32",
                       **{x["name"]: x["value"] for x in h.get("httpHeaders") or []}}
            try:
                r = requests.get(url, headers=headers, timeout=timeout, verify=False)
            except requests.RequestException as e:
                return False, f'Get "{url}": {type(e).__name__}: {e}'
            if 200 <= r.status_code < 400:
                return True, ""
            return False, f"HTTP probe failed with statuscode: {r.status_code}"
        if "tcpSocket" in probe:
            t = probe["tcpSocket"]
            host, port = t.get("host") or pod_ip, resolve_port(t["port"], spec)
            try:
                socket.create_connection((host, port), timeout=timeout).close()
            except OSError as e:
                return False, f"dial tcp {host}:{port}: {e.strerror or e}"
            return True, ""
    except ValueError as e:
        return False, str(e)
    return False, "probe has no exec, httpGet or tcpSocket handler (kfs supports only those)"


class ProbeWorker:
    """Probes one container with one kind of probe, in a thread of its own."""

    def __init__(self, manager, pod, spec, kind, start=True):
        self.manager, self.pod, self.spec, self.kind = manager, pod, spec, kind
        self.probe = spec[f"{kind}Probe"]
        self.target = None          # (runtime Container, pod IP)
        self.container_id = None    # the container the result is about
        self.result = INITIAL[kind]
        self.last, self.streak, self.on_hold = None, 0, False
        self.wake, self.stopped = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True,
                                       name=f"probe-{kind}-{spec['name']}")
        if start:
            self.thread.start()

    def set_target(self, container, pod_ip):
        if container is None or (self.target and self.target[0].id == container.id):
            self.target = (container, pod_ip) if container else None
            return
        self.target = (container, pod_ip)
        self.wake.set()

    def stop(self):
        self.stopped.set()
        self.wake.set()

    def run(self):
        while not self.stopped.is_set():
            delay = self.step()
            self.wake.wait(delay)
            self.wake.clear()

    def step(self):
        """Probe if it is time; return how long to wait before the next step."""
        period = self.probe.get("periodSeconds", 10)
        target = self.target
        if not target:
            return period
        container, pod_ip = target
        if container.id != self.container_id:  # a new container: start over
            self.container_id, self.result = container.id, INITIAL[self.kind]
            self.last, self.streak, self.on_hold = None, 0, False
        if self.on_hold or (self.kind == "startup" and self.result):
            return period
        uid = self.pod["metadata"]["uid"]
        if self.kind != "startup" and not self.manager.started(uid, self.spec, container.id):
            return period
        wait = container.started_at + self.probe.get("initialDelaySeconds", 0) - time.time()
        if wait > 0:
            return wait
        ok, message = run_probe(self.probe, pod_ip, container.id, self.spec, self.manager.runtime)
        if self.stopped.is_set() or self.target is None or self.target[0].id != container.id:
            return period
        self.streak = self.streak + 1 if ok == self.last else 1
        self.last = ok
        if not ok:
            self.manager.recorder.event(self.pod, "Warning", "Unhealthy",
                                        f"{self.kind.capitalize()} probe failed: {message}")
        threshold = self.probe.get("successThreshold", 1) if ok else \
            self.probe.get("failureThreshold", 3)
        if self.streak >= threshold and ok != self.result:
            self.result = ok
            log.info("%s probe of %s/%s: %s", self.kind, self.pod["metadata"]["name"],
                     self.spec["name"], "success" if ok else "failure")
            if not ok and self.kind in ("liveness", "startup"):
                self.on_hold = True  # until the container is replaced
            self.manager.on_change(uid)
        return period

    def result_for(self, container_id):
        return self.result if container_id == self.container_id else INITIAL[self.kind]


class ProbeManager:
    """Probe workers for every running container that has probes; results by container."""

    def __init__(self, runtime, recorder, on_change=lambda uid: None):
        self.runtime, self.recorder, self.on_change = runtime, recorder, on_change
        self.workers = {}   # (uid, container name, kind) -> ProbeWorker
        self.lock = threading.Lock()

    def update(self, pod, containers, pod_ip):
        """After a sync: point each probe at the container's current running instance."""
        from kfs.kubelet.sync import split
        _, apps = split(containers)
        uid = pod["metadata"]["uid"]
        for spec in pod["spec"]["containers"]:
            instances = apps.get(spec["name"], [])
            running = instances[0] if instances and instances[0].running else None
            for kind in KINDS:
                if not spec.get(f"{kind}Probe"):
                    continue
                with self.lock:
                    worker = self.workers.get((uid, spec["name"], kind))
                    if worker is None and running:
                        worker = self.workers[(uid, spec["name"], kind)] = \
                            ProbeWorker(self, pod, spec, kind)
                if worker:
                    worker.set_target(running, pod_ip)

    def remove_pod(self, uid):
        with self.lock:
            doomed = [k for k in self.workers if k[0] == uid]
            workers = [self.workers.pop(k) for k in doomed]
        for w in workers:
            w.stop()

    def stop(self):
        """Stop every probe worker (the kubelet stops)."""
        with self.lock:
            workers, self.workers = list(self.workers.values()), {}
        for w in workers:
            w.stop()

    def _result(self, uid, name, kind, container_id):
        with self.lock:
            worker = self.workers.get((uid, name, kind))
        return worker.result_for(container_id) if worker else INITIAL[kind]

    def started(self, uid, spec, container_id):
        return not spec.get("startupProbe") or self._result(uid, spec["name"], "startup",
                                                            container_id)

    def ready(self, uid, spec, container_id):
        if not self.started(uid, spec, container_id):
            return False
        return not spec.get("readinessProbe") or self._result(uid, spec["name"], "readiness",
                                                              container_id)

    def failure(self, uid, name, container_id):
        """Why sync_pod must kill this container (a failed liveness or startup probe)."""
        for kind in ("liveness", "startup"):
            with self.lock:
                worker = self.workers.get((uid, name, kind))
            if worker and worker.container_id == container_id and worker.result is False:
                return f"Container {name} failed {kind} probe, will be restarted"
        return None
