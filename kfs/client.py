"""A small Kubernetes client: the REST verbs, watch, an Informer and a work queue.

Mirrors ``client-go`` (``rest``, ``tools/cache`` reflector + informer, ``util/workqueue``),
shrunk. Every kfs component talks to the API server through this module and nothing else:

- ``Client``: ``get``, ``list``, ``watch``, ``create``, ``replace``, ``patch``, ``delete``
  (and ``bind``, ``log``) over HTTPS (``urllib3``'s keep-alive pools, without requests'
  layers above them, which cost as much CPU again per request), authenticated with a
  client certificate or a token from a kubeconfig (``Client.for_component``: a component's ``--kubeconfig`` flag);
  errors raise ``ApiError`` carrying the server's ``Status``;
- ``Informer``: list, then watch from the list's resourceVersion, keeping a local cache
  (``store``) and calling handlers on every change; resumes the watch from the last seen
  resourceVersion when the stream ends, relists when the server says 410 Expired. Its
  objects are shared by every reader: deep-copy one before changing it;
- ``WorkQueue`` (from ``kfs.workqueue``): the "stingy" queue of keys (a key queued twice is
  processed once, never by two workers at a time) with per-key exponential backoff, and
  ``run_worker`` to drain it into a ``reconcile(key)`` function;
- ``EventRecorder``: Events (``kubectl describe`` shows them), best effort, in the background.

One informer per resource shared by a whole process (client-go's SharedInformerFactory) is
``kfs.controllers.manager.SharedInformers``, for the controller manager; the scheduler and
the kubelet make their own Informers.

What real Kubernetes does differently: client-go's informers put a DeltaFIFO between the
watch and the cache and index it (by namespace, by node, ...), decode into typed structs,
speak protobuf to the API server; the client rate-limits requests itself, and its recorder
aggregates similar events.
"""
import hashlib
import json
import logging
import os
import queue as queue_module
import socket
import tempfile
import threading
import time
from base64 import b64decode

import urllib.request
from urllib.parse import urlencode, urlsplit

import urllib3
import yaml

from kfs import meta, resources
from kfs.workqueue import WorkQueue, run_worker  # noqa: F401  (part of this module's API)

log = logging.getLogger("kfs.client")

PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
    "apply": "application/apply-patch+yaml",
}


class ApiError(Exception):
    """An error Status from the API server (or a transport failure, code 0)."""

    def __init__(self, status, code=None):
        self.status = status if isinstance(status, dict) else {"message": str(status)}
        self.code = code if code is not None else self.status.get("code", 0)
        self.reason = self.status.get("reason", "")
        super().__init__(f"{self.code} {self.reason}: {self.status.get('message', '')}")

    @property
    def not_found(self):
        return self.code == 404

    @property
    def conflict(self):
        return self.code == 409


class Expired(ApiError):
    """The resourceVersion asked for is older than etcd keeps (410 Gone): relist."""


def _resource(r):
    return r if isinstance(r, resources.Resource) else resources.lookup(r)


class Client:
    def __init__(self, server, ca=None, cert=None, key=None, token=None, user_agent="kfs",
                 timeout=30, pool_maxsize=None):
        self.server = server.rstrip("/")
        self.timeout = timeout
        self.headers = {"User-Agent": user_agent, "Accept": "*/*"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        # pool_maxsize: connections kept open, for components whose threads (watches,
        # workers) share one client
        self.http = _pool_manager(self.server, ca, cert, key, pool_maxsize or 10)

    @classmethod
    def from_kubeconfig(cls, path=None, user_agent="kfs", pool_maxsize=None):
        """A client for the current context of a kubeconfig (default: $KUBECONFIG)."""
        path = path or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
        with open(path) as f:
            config = yaml.safe_load(f)
        context = _named(config["contexts"], config["current-context"])["context"]
        cluster = _named(config["clusters"], context["cluster"])["cluster"]
        user = _named(config["users"], context["user"])["user"]
        return cls(cluster["server"], ca=_file(cluster, "certificate-authority"),
                   cert=_file(user, "client-certificate"), key=_file(user, "client-key"),
                   token=user.get("token"), user_agent=user_agent, pool_maxsize=pool_maxsize)

    @classmethod
    def for_component(cls, kubeconfig, user_agent, pool_maxsize=None, hint=None):
        """The client of a component's ``--kubeconfig FILE`` flag (default: $KUBECONFIG).

        Unlike kubectl, no fallback to ~/.kube/config: a component runs with the
        credentials it is given, or says which flag is missing (FileNotFoundError, with
        `hint` on where that file comes from). `pool_maxsize`: connections kept open, for
        components whose informers' watches, workers and event recorder share the client.
        """
        path = kubeconfig or os.environ.get("KUBECONFIG")
        if not path or not os.path.isfile(path):
            raise FileNotFoundError(f"no kubeconfig at {path!r}: pass --kubeconfig FILE"
                                    + (f" ({hint})" if hint else ""))
        return cls.from_kubeconfig(path, user_agent=user_agent, pool_maxsize=pool_maxsize)

    # -- the HTTP layer -----------------------------------------------------------------

    def request(self, method, path, params=None, body=None, content_type="application/json",
                stream=False, timeout=None, raw=False):
        """One HTTP request: the decoded JSON answer; or, with `stream` or `raw`, the
        ``urllib3.HTTPResponse`` (streamed: read it with ``lines``). An error Status (or
        no answer at all) raises ApiError. `timeout`: seconds, or (connect, read)."""
        data = body if isinstance(body, (str, bytes)) or body is None else json.dumps(body)
        headers = self.headers
        if data is not None:
            headers = {**headers, "Content-Type": content_type}
            data = data.encode() if isinstance(data, str) else data
        url = self.server + path + (f"?{urlencode(params, doseq=True)}" if params else "")
        timeout = timeout or self.timeout
        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        try:
            resp = self.http.urlopen(method, url, body=data, headers=headers,
                                     preload_content=not stream, redirect=False,
                                     retries=NO_RETRIES,
                                     timeout=urllib3.Timeout(connect=connect, read=read))
        except urllib3.exceptions.HTTPError as e:
            raise ApiError({"message": f"{method} {path}: {e}", "reason": "ConnectionError"},
                           0) from None
        if resp.status >= 400:
            raise _error(resp)
        if stream or raw:
            return resp
        return json.loads(resp.data) if resp.data else None

    def path(self, resource, namespace=None, name=None, subresource=None):
        r = _resource(resource)
        return r.path(namespace if r.namespaced else None, name, subresource)

    # -- the verbs ----------------------------------------------------------------------

    def get(self, resource, name, namespace=None, subresource=None):
        return self.request("GET", self.path(resource, namespace, name, subresource))

    def list(self, resource, namespace=None, label_selector=None, field_selector=None):
        params = _selectors(label_selector, field_selector)
        return self.request("GET", self.path(resource, namespace), params=params)

    def watch(self, resource, namespace=None, resource_version=None, label_selector=None,
              field_selector=None, timeout_seconds=None, bookmarks=True, response_hook=None):
        """Yield (type, object) per watch event until the server ends the stream.

        An ERROR event raises ApiError (Expired for 410). `response_hook` receives the open
        response, so another thread can close it to stop the watch.
        """
        params = {"watch": "true", **_selectors(label_selector, field_selector)}
        if resource_version:
            params["resourceVersion"] = resource_version
        if bookmarks:
            params["allowWatchBookmarks"] = "true"
        if timeout_seconds:
            params["timeoutSeconds"] = str(timeout_seconds)
        read_timeout = (timeout_seconds or 300) + 30
        resp = self.request("GET", self.path(resource, namespace), params=params, stream=True,
                            timeout=(10, read_timeout))
        if response_hook:
            response_hook(resp)
        try:
            for line in lines(resp):
                if not line:
                    continue
                event = json.loads(line)
                if event["type"] == "ERROR":
                    status = event["object"]
                    raise (Expired if status.get("code") == 410 else ApiError)(status)
                yield event["type"], event["object"]
        except urllib3.exceptions.HTTPError as e:  # the stream broke off
            raise ApiError({"message": f"watch {resource}: {e}", "reason": "ConnectionError"},
                           0) from None
        finally:
            resp.close()
            resp.release_conn()

    def create(self, body, namespace=None, dry_run=False, subresource=None, name=None):
        r = resources.for_object(body)
        ns = namespace or meta.namespace(body) or ("default" if r.namespaced else None)
        params = {"dryRun": "All"} if dry_run else None
        return self.request("POST", r.path(ns if r.namespaced else None, name, subresource),
                            params=params, body=body)

    def replace(self, body, subresource=None):
        r = resources.for_object(body)
        path = r.path(meta.namespace(body) if r.namespaced else None, meta.name(body),
                      subresource)
        return self.request("PUT", path, body=body)

    def update_status(self, body):
        return self.replace(body, subresource="status")

    def patch(self, resource, name, body, namespace=None, patch_type="merge", subresource=None,
              field_manager=None):
        params = {"fieldManager": field_manager} if field_manager else None
        if patch_type == "apply":
            params = {**(params or {}), "fieldManager": field_manager or "kfs", "force": "true"}
        return self.request("PATCH", self.path(resource, namespace, name, subresource),
                            params=params, body=body, content_type=PATCH_TYPES[patch_type])

    def delete(self, resource, name, namespace=None, propagation_policy=None,
               grace_period_seconds=None, uid=None, resource_version=None):
        options = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation_policy:
            options["propagationPolicy"] = propagation_policy
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        preconditions = {k: v for k, v in (("uid", uid), ("resourceVersion", resource_version)) if v}
        if preconditions:
            options["preconditions"] = preconditions
        return self.request("DELETE", self.path(resource, namespace, name), body=options)

    def bind(self, pod, node_name):
        """POST pods/<name>/binding: what the scheduler does to assign a pod to a node."""
        body = {"apiVersion": "v1", "kind": "Binding",
                "metadata": {"name": meta.name(pod), "namespace": meta.namespace(pod),
                             "uid": pod["metadata"].get("uid")},
                "target": {"apiVersion": "v1", "kind": "Node", "name": node_name}}
        return self.request("POST", self.path("pods", meta.namespace(pod), meta.name(pod),
                                              "binding"), body=body)

    def log(self, pod, namespace="default", container=None, follow=False, tail_lines=None):
        params = {k: v for k, v in (("container", container), ("tailLines", tail_lines)) if v}
        if follow:
            params["follow"] = "true"
        resp = self.request("GET", self.path("pods", namespace, pod, "log"), params=params,
                            stream=follow, raw=True)
        if follow:
            return (line.decode("utf-8", "replace").rstrip("\r") for line in lines(resp))
        return resp.data.decode("utf-8", "replace")


NO_RETRIES = urllib3.Retry(0, read=False)  # as requests: an error is the caller's to retry


def _pool_manager(server, ca, cert, key, maxsize):
    """The client's connection pools, through the environment's proxy if it names one.

    The proxy settings are read once, here, as Go's ``http.ProxyFromEnvironment`` does
    (requests, which kfs used before, scanned the whole environment on every request).
    """
    tls = {"cert_reqs": "CERT_REQUIRED", "ca_certs": ca, "cert_file": cert, "key_file": key}
    tls = {k: v for k, v in tls.items() if v}
    host = urlsplit(server).hostname or ""
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(urlsplit(server).scheme) or proxies.get("all")
    if proxy and not urllib.request.proxy_bypass_environment(host, proxies):
        return urllib3.ProxyManager(proxy, maxsize=maxsize, **tls)
    return urllib3.PoolManager(maxsize=maxsize, **tls)


def lines(resp):
    """The lines of a streamed response (without their newline), each as soon as it has
    arrived: watch events, a followed log."""
    pending = b""
    for chunk in resp.stream(None, decode_content=True):
        parts = (pending + chunk).split(b"\n")
        pending = parts.pop()
        yield from parts
    if pending:
        yield pending


def abort(response):
    """Unblock the thread reading a streamed response, from another thread.

    ``response.close()`` would wait for the reader (it holds the socket's buffer lock until
    data arrives); shutting the socket down makes the reader's recv return at once.
    """
    conn = getattr(response, "connection", None) or getattr(response, "_connection", None)
    sock = getattr(conn, "sock", None)
    try:
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
        else:
            response.close()
    except OSError:
        pass


def _named(items, name):
    for item in items:
        if item["name"] == name:
            return item
    raise KeyError(f"kubeconfig has no entry named {name!r}")


def _file(section, field):
    """A kubeconfig file reference. The ssl module wants files, so *-data fields are written once
    to a private file named by their content's hash (reused by every later client)."""
    if section.get(field):
        return section[field]
    data = section.get(f"{field}-data")
    if not data:
        return None
    raw = b64decode(data)
    directory = os.path.join(tempfile.gettempdir(), f"kfs-kubeconfig-{os.getuid()}")
    os.makedirs(directory, mode=0o700, exist_ok=True)
    path = os.path.join(directory, hashlib.sha256(raw).hexdigest()[:32])
    if not os.path.exists(path):
        fd, tmp = tempfile.mkstemp(dir=directory)
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
        os.replace(tmp, path)
    return path


def _selectors(label_selector, field_selector):
    params = {}
    if label_selector:
        params["labelSelector"] = (label_selector if isinstance(label_selector, str)
                                   else meta.selector_to_string(label_selector))
    if field_selector:
        params["fieldSelector"] = field_selector
    return params


def _error(resp):
    text = resp.data.decode("utf-8", "replace")
    try:
        status = json.loads(text)
    except ValueError:
        status = {"message": text.strip() or resp.reason}
    if not isinstance(status, dict) or status.get("kind") != "Status":
        status = {"message": str(status), "code": resp.status}
    return (Expired if resp.status == 410 else ApiError)(status, resp.status)


class Informer:
    """A local cache of one resource, kept current by list + watch.

    Handlers are called in the informer's thread as ``handler(type, obj, old)`` with type
    ADDED, MODIFIED or DELETED; they should only enqueue keys (never block, never mutate
    `obj`: the cache hands out its own objects, to handlers and to ``get`` and ``list``;
    the unit tests' FakeApi fails a test that changes one).
    """

    def __init__(self, client, resource, namespace=None, label_selector=None,
                 field_selector=None, resync_backoff=1.0):
        self.client, self.resource = client, _resource(resource)
        self.namespace = namespace
        self.selectors = dict(label_selector=label_selector, field_selector=field_selector)
        self.store, self.handlers = {}, []
        self.resource_version = None
        self.synced = threading.Event()
        self.stopped = threading.Event()
        self.backoff = resync_backoff
        self._response = None
        self._lock = threading.Lock()

    def add_handler(self, handler):
        self.handlers.append(handler)
        return self

    # -- reading the cache ---------------------------------------------------------------

    def get(self, key):
        return self.store.get(key)

    def list(self, selector=None, namespace=None):
        with self._lock:
            objs = list(self.store.values())
        return [o for o in objs if (namespace is None or meta.namespace(o) == namespace)
                and (selector is None or meta.selects(selector, o))]

    def wait_synced(self, timeout=30.0):
        if not self.synced.wait(timeout):
            raise TimeoutError(f"informer for {self.resource.plural} did not sync in {timeout}s")
        return self

    # -- keeping it current --------------------------------------------------------------

    def start(self):
        threading.Thread(target=self.run, daemon=True,
                         name=f"informer-{self.resource.plural}").start()
        return self

    def stop(self):
        self.stopped.set()
        if self._response is not None:
            abort(self._response)

    def run(self):
        while not self.stopped.is_set():
            try:
                if self.resource_version is None:
                    self.relist()
                self.watch()
            except Expired:
                log.info("%s: resourceVersion %s expired, relisting", self.resource.plural,
                         self.resource_version)
                self.resource_version = None
            except Exception as e:  # API server down or restarting: retry, keep the cache
                if not self.stopped.is_set():
                    log.warning("%s: %s; retrying in %.0fs", self.resource.plural, e,
                                self.backoff)
                    self.stopped.wait(self.backoff)

    def relist(self):
        listed = self.client.list(self.resource, self.namespace, **self.selectors)
        fresh = {meta.key(o): o for o in listed.get("items") or []}
        for o in fresh.values():  # list items carry no kind; watch events do
            o.setdefault("kind", self.resource.kind)
            o.setdefault("apiVersion", self.resource.api_version)
        with self._lock:
            old, self.store = self.store, fresh
        for k, o in fresh.items():
            if k not in old:
                self._notify("ADDED", o, None)
            elif old[k]["metadata"].get("resourceVersion") != o["metadata"].get("resourceVersion"):
                self._notify("MODIFIED", o, old[k])
        for k in old.keys() - fresh.keys():
            self._notify("DELETED", old[k], old[k])
        self.resource_version = listed["metadata"].get("resourceVersion")
        self.synced.set()

    def watch(self):
        def hold(resp):
            self._response = resp
        for kind, obj in self.client.watch(self.resource, self.namespace, self.resource_version,
                                           timeout_seconds=240, response_hook=hold,
                                           **self.selectors):
            if self.stopped.is_set():
                return
            self.resource_version = obj["metadata"].get("resourceVersion")
            if kind != "BOOKMARK":
                self.apply(kind, obj)

    def apply(self, kind, obj):
        k = meta.key(obj)
        with self._lock:
            old = self.store.get(k)
            if kind == "DELETED":
                self.store.pop(k, None)
            else:
                self.store[k] = obj
        if kind == "ADDED" and old is not None:
            kind = "MODIFIED"
        self._notify(kind, obj, old)

    def _notify(self, kind, obj, old):
        for handler in self.handlers:
            try:
                handler(kind, obj, old)
            except Exception:
                log.exception("%s handler failed on %s %s", self.resource.plural, kind,
                              meta.key(obj))


class EventRecorder:
    """Record Events about objects, in the background (an API hiccup never blocks a sync).

    A repeat of the same (object, reason, message) bumps the first Event's count, as
    upstream's correlator does for identical events.
    """

    def __init__(self, client, component, host=None):
        self.client, self.component, self.host = client, component, host
        self.seen = {}
        self.queue = queue_module.Queue(maxsize=1000)
        threading.Thread(target=self._run, daemon=True, name="events").start()

    def event(self, obj, type_, reason, message):
        try:
            self.queue.put_nowait((obj, type_, reason, message, meta.now()))
        except queue_module.Full:
            log.warning("event queue full, dropping %s %s", reason, message)

    def normal(self, obj, reason, message):
        self.event(obj, "Normal", reason, message)

    def warning(self, obj, reason, message):
        self.event(obj, "Warning", reason, message)

    def _run(self):
        while True:
            item = self.queue.get()
            try:
                self._record(*item)
            except Exception as e:  # events are best effort, as upstream
                log.warning("could not record event %s: %s", item[2], e)

    def _record(self, obj, type_, reason, message, at):
        md = obj["metadata"]
        ident = (md.get("uid"), reason, message)
        if ident in self.seen:
            name, ns, count = self.seen[ident]
            self.seen[ident] = (name, ns, count + 1)
            self.client.patch("events", name, {"count": count + 1, "lastTimestamp": at}, ns)
            return
        ns = md.get("namespace") or "default"
        name = f"{md['name']}.{time.time_ns():x}"
        self.client.create({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": {"kind": obj.get("kind"), "apiVersion": obj.get("apiVersion"),
                               "name": md["name"], "namespace": md.get("namespace"),
                               "uid": md.get("uid"),
                               "resourceVersion": md.get("resourceVersion")},
            "reason": reason, "message": message, "type": type_, "count": 1,
            "firstTimestamp": at, "lastTimestamp": at,
            "source": {"component": self.component, **({"host": self.host} if self.host else {})},
            "reportingComponent": self.component, "reportingInstance": self.host or ""})
        if len(self.seen) > 4096:  # remember recent events only
            self.seen.pop(next(iter(self.seen)))
        self.seen[ident] = (name, ns, 1)
