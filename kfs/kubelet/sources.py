"""Pod sources: where the kubelet learns which pods it should run.

Three sources, each delivering a full snapshot of its pods to ``PodConfig``, which merges
them into one desired set and wakes the kubelet's sync loop:

- ``FileSource``: the manifest directory (``--pod-manifest-path``), re-read every
  ``--file-check-frequency``; a file added, changed or removed is noticed by its stat
  (size, mtime) changing. Hidden files are ignored, as upstream does;
- ``URLSource``: a manifest URL (``--manifest-url``), fetched every ``--http-check-frequency``;
- ``APISource``: the API server, pods whose ``spec.nodeName`` is this node, through a
  ``kfs.client`` informer.

Pods from files and URLs are *static pods*: named ``<name>-<nodeName>``, with a UID hashed
from their content (``manifest.static_pod``). A file that turns bad keeps its last good pod
running and is reported (log, and a Warning event on that pod); a bad new file is logged.

Mirrors ``pkg/kubelet/config`` (config.go ``PodConfig`` and its merge, file.go, http.go,
apiserver.go, sources_ready.go).

What real Kubernetes does differently: sources send incremental ADD/UPDATE/DELETE/RECONCILE
operations over channels, the file source also watches with inotify, and a bad file simply
drops its pod.
"""
import copy
import logging
import threading
from pathlib import Path

from kfs.kubelet import manifest
from kfs.kubelet.manifest import ManifestError

log = logging.getLogger("kubelet.config")

FILE, HTTP, API = "file", "http", "api"


class PodConfig:
    """The merged desired set: {uid: pod}, from every source's latest snapshot.

    Two sources offering the same pod name and namespace: the first source listed wins and
    the duplicate is logged. ``wait`` blocks until something changed (or a timeout).
    """

    def __init__(self, sources=(), recorder=None):
        self.order = list(sources)
        self.snapshots = {}            # source -> {uid: pod}
        self.recorder = recorder       # for Warning events about bad manifests
        self._changed = threading.Condition()
        self._version = 0

    def set(self, source, pods):
        """A source's complete current set of pods."""
        pods = {p["metadata"]["uid"]: p for p in pods}
        with self._changed:
            if self.snapshots.get(source) == pods:
                return
            self.snapshots[source] = pods
            self._version += 1
            self._changed.notify_all()

    def seen_all_sources(self):
        """Has every source delivered at least once? (only then may the kubelet remove
        containers of pods it does not know: sources_ready.go)"""
        return all(s in self.snapshots for s in self.order)

    def pods(self):
        merged, names = {}, {}
        with self._changed:
            snapshots = [(s, self.snapshots.get(s, {})) for s in self.order]
        for source, pods in snapshots:
            for uid, pod in pods.items():
                fn = manifest.full_name(pod)
                if fn in names and names[fn] != uid:
                    log.warning("pod %s from source %s duplicates a pod of that name from "
                                "another source: ignored", fn, source)
                    continue
                names[fn] = uid
                merged[uid] = pod
        return merged

    @property
    def version(self):
        return self._version

    def wait(self, since_version, timeout):
        """Wait until the desired set changed after `since_version`; return the version."""
        with self._changed:
            self._changed.wait_for(lambda: self._version != since_version, timeout)
            return self._version

    def warn(self, pod, reason, message):
        if self.recorder and pod:
            self.recorder.event(pod, "Warning", reason, message)


class Poller:
    """A source that reads its pods every `period` seconds in a thread of its own."""

    def __init__(self, config, node_name, period):
        self.config, self.node_name, self.period = config, node_name, period
        self._stop = threading.Event()
        self.thread = None

    def start(self):
        self.thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self._stop.set()

    def _run(self):
        while not self._stop.is_set():
            try:
                self.poll()
            except Exception:  # a source must never die: log and try again next period
                log.exception("%s failed", type(self).__name__)
            self._stop.wait(self.period)


class FileSource(Poller):
    """Static pods from a directory of manifests (one pod per file)."""

    def __init__(self, config, node_name, path, period=20.0):
        super().__init__(config, node_name, period)
        self.path = Path(path)
        self.files = {}      # file name -> (stat key, [pods])  (last good)
        self.errors = {}     # file name -> (stat key, message)  (reported once per change)
        self._missing_logged = False

    def poll(self):
        if not self.path.is_dir():
            if not self._missing_logged:
                log.warning("manifest path %s does not exist, ignoring", self.path)
                self._missing_logged = True
            self.files = {}
            self.config.set(FILE, [])
            return
        self._missing_logged = False
        present = {}
        for f in sorted(self.path.iterdir()):
            if f.name.startswith(".") or not f.is_file():
                continue
            st = f.stat()
            present[f.name] = (st.st_size, st.st_mtime_ns, st.st_ino)
        for name in set(self.files) - set(present):
            log.info("manifest %s removed", self.path / name)
            del self.files[name]
        for name, key in present.items():
            if self.files.get(name, (None,))[0] != key and self.errors.get(name, (None,))[0] != key:
                self._read(name, key)
        self.errors = {n: e for n, e in self.errors.items() if n in present}
        self.config.set(FILE, [p for _, pods in self.files.values() for p in pods])

    def _read(self, name, key):
        path = self.path / name
        try:
            text = path.read_text()
            pods = [manifest.static_pod(p, self.node_name, FILE, str(path))
                    for p in manifest.decode_pods(text, what=str(path))]
        except (ManifestError, OSError, UnicodeDecodeError) as e:
            old = self.files.get(name)
            keeping = f"; keeping pod {old[1][0]['metadata']['name']} as it was" if old and old[1] else ""
            log.error("could not process manifest file: %s%s", e, keeping)
            self.errors[name] = (key, str(e))
            for pod in (old[1] if old else []):
                self.config.warn(pod, "FailedToParseManifest", str(e))
            return
        self.errors.pop(name, None)
        if name not in self.files:
            log.info("manifest %s: pod %s", path, ", ".join(p["metadata"]["name"] for p in pods))
        self.files[name] = (key, pods)


class URLSource(Poller):
    """Static pods from a URL serving one Pod or a PodList (YAML or JSON)."""

    def __init__(self, config, node_name, url, period=20.0, headers=None):
        super().__init__(config, node_name, period)
        self.url, self.headers = url, headers or {}
        self.last_error = None

    def poll(self):
        import requests
        try:
            r = requests.get(self.url, headers=self.headers, timeout=10)
            r.raise_for_status()
            pods = [manifest.static_pod(p, self.node_name, HTTP, self.url)
                    for p in manifest.decode_pods(r.text, what=self.url)]
        except (requests.RequestException, ManifestError) as e:
            message = str(e)
            if message != self.last_error:
                log.error("manifest URL %s: %s (keeping its last good pods)", self.url, message)
                self.last_error = message
            return
        if self.last_error is not None or HTTP not in self.config.snapshots:
            log.info("manifest URL %s: %d pod(s)", self.url, len(pods))
        self.last_error = None
        self.config.set(HTTP, pods)


def node_pods_informer(client, node_name):
    """An informer of the pods bound to `node_name`: the API source's, and the mirror pods'."""
    from kfs.client import Informer
    return Informer(client, "pods", field_selector=f"spec.nodeName={node_name}")


class APISource:
    """Pods bound to this node in the API server (fieldSelector spec.nodeName=<node>).

    Mirror pods (the API server's copies of this node's static pods) come through the same
    informer; they are not run (``mirror.MirrorPods`` reads them from the informer).
    """

    def __init__(self, config, node_name, client, informer=None):
        self.config, self.node_name, self.client = config, node_name, client
        self.informer = informer
        self._stop = threading.Event()

    def start(self):
        if self.informer is None:
            self.informer = node_pods_informer(self.client, self.node_name)
        self.informer.add_handler(lambda *_: self._changed())
        self.informer.start()
        threading.Thread(target=self._first_sync, name="api-source", daemon=True).start()
        return self

    def _synced(self):
        return self.informer.synced.is_set()

    def _first_sync(self):
        while not self._stop.is_set() and not self._synced():
            self._stop.wait(0.1)
        self._changed()

    def _changed(self):
        if not self._synced():
            return
        pods = []
        for p in self.informer.list():
            if not manifest.is_mirror(p):
                p = manifest.set_defaults(copy.deepcopy(p))  # never mutate the cache
                p["metadata"].setdefault("annotations", {})[manifest.CONFIG_SOURCE] = API
                pods.append(p)
        self.config.set(API, pods)

    def stop(self):
        self._stop.set()
        if self.informer:
            self.informer.stop()
