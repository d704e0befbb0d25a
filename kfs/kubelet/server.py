"""The kubelet's own HTTPS API on port 10250: /healthz, /pods, /containerLogs, /exec, /attach,
/portForward.

- ``GET /healthz``: ``ok``;
- ``GET /pods``: a ``PodList`` of the pods this kubelet runs, with their status (static
  pods included: it is how to see them with no API server);
- ``GET /containerLogs/{namespace}/{pod}/{container}?follow=&tailLines=&previous=&timestamps=``:
  the container's output, streamed; the API server's ``pods/log`` proxies here, which is how
  ``kubectl logs [-f] [--tail N]`` works;
- ``/exec/{namespace}/{pod}/{container}?command=...&input=1&output=1&error=1&tty=1`` and
  ``/attach/...``: a WebSocket carrying a process's streams (``streaming.py``), what the API
  server's ``pods/exec`` and ``pods/attach`` relay (``kubectl exec``, ``cp``, ``attach``);
- ``/portForward/{namespace}/{pod}``: a WebSocket carrying TCP connections to the pod's
  ports (``portforward.py``), what ``pods/portforward`` relays (``kubectl port-forward``).
  Anything but a WebSocket upgrade on these three is a 400 that says so (no SPDY).

With ``--client-ca-file`` every request must present a client certificate signed by that CA
(the API server's kubelet-client certificate, or an admin's); anything else gets 401.
Without ``--tls-cert-file`` the kubelet makes itself a self-signed serving certificate in
``<root-dir>/pki``, as upstream does.

Mirrors ``pkg/kubelet/server/server.go`` (and the x509 authenticator of
``k8s.io/apiserver``), shrunk to six endpoints, and ``pkg/kubelet/cri/streaming/server.go``.

What real Kubernetes does differently: authorization through SubjectAccessReviews, plus
/metrics, /stats, /configz, /run and the read-only port; exec, attach and port-forward
are served by the runtime's own streaming server (the kubelet redirects or proxies to it),
over SPDY as well as WebSockets.
"""
import asyncio
import datetime
import ipaddress
import json
import logging
import ssl
import threading
from pathlib import Path

from aiohttp import web

from kfs.kubelet import portforward, runtime as rt, streaming

log = logging.getLogger("kubelet.server")


def self_signed(cert_dir, node_name, node_ip):
    """(cert, key) paths of a self-signed serving certificate, made once."""
    cert, key = Path(cert_dir) / "kubelet.crt", Path(cert_dir) / "kubelet.key"
    if cert.exists() and key.exists():
        return cert, key
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{node_name}@kubelet")])
    now = datetime.datetime.now(datetime.timezone.utc)
    sans = [x509.DNSName(node_name), x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    if node_ip:
        sans.append(x509.IPAddress(ipaddress.ip_address(node_ip)))
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(private.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=365))
                   .add_extension(x509.SubjectAlternativeName(sans), critical=False)
                   .sign(private, hashes.SHA256()))
    cert.parent.mkdir(parents=True, exist_ok=True)
    key.write_bytes(private.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.TraditionalOpenSSL,
                                          serialization.NoEncryption()))
    key.chmod(0o600)
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return cert, key


def ssl_context(cert, key, client_ca=None):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert), str(key))
    if client_ca:
        ctx.load_verify_locations(str(client_ca))
        ctx.verify_mode = ssl.CERT_OPTIONAL  # no certificate: a 401, not a TLS alert
    return ctx


NO_SPDY = ("this kubelet streams exec, attach and port-forward over WebSockets only "
           "(v5.channel.k8s.io, v4.channel.k8s.io, SPDY/3.1+portforward.k8s.io): use kubectl "
           ">= 1.31 or a WebSocket client\n")


class KubeletServer:
    def __init__(self, kubelet, address="0.0.0.0", port=10250, cert=None, key=None,
                 client_ca=None):
        self.kubelet, self.address, self.port = kubelet, address, port
        if not cert:
            cert, key = self_signed(Path(kubelet.root_dir) / "pki", kubelet.node_name,
                                    kubelet.node_ip)
        self.ssl = ssl_context(cert, key, client_ca)
        self.authenticate = bool(client_ca)
        self.loop = None
        self.ready = threading.Event()
        self.error = None

    def app(self):
        app = web.Application(middlewares=[self.auth])
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/pods", self.pods)
        app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", self.container_logs)
        for verb, handler in (("exec", self.exec), ("attach", self.attach)):
            app.router.add_route("*", f"/{verb}/{{namespace}}/{{pod}}/{{container}}", handler)
        app.router.add_route("*", "/portForward/{namespace}/{pod}", self.port_forward)
        return app

    @web.middleware
    async def auth(self, request, handler):
        if self.authenticate and not request.transport.get_extra_info("peercert"):
            return web.Response(status=401, text="Unauthorized\n")
        return await handler(request)

    async def healthz(self, request):
        return web.Response(text="ok")

    async def pods(self, request):
        body = {"kind": "PodList", "apiVersion": "v1", "metadata": {},
                "items": self.kubelet.running_pods()}
        return web.json_response(body, dumps=lambda o: json.dumps(o, indent=1))

    def find_container(self, namespace, pod_name, container, previous, running=False):
        """(container id or None, error message); `running`: only a running one will do."""
        pods = [p for p in self.kubelet.running_pods()
                if p["metadata"]["name"] == pod_name
                and p["metadata"].get("namespace", "default") == namespace]
        if not pods:
            return None, f"pod {namespace}/{pod_name} not found"
        uid = pods[0]["metadata"]["uid"]
        instances = [c for c in self.kubelet.runtime.list_containers(uid)
                     if not c.is_sandbox and c.container_name == container]
        instances.sort(key=lambda c: (c.attempt, c.created_at), reverse=True)
        if previous:  # the instance before the latest one
            instances = instances[1:]
        if not instances:
            names = [c["name"] for c in pods[0]["spec"]["containers"]]
            if container not in names:
                return None, (f"container {container} is not valid for pod {pod_name}: "
                              f"choose one of: [{' '.join(names)}]")
            return None, f"container {container} in pod {pod_name} has not started yet"
        if running and not instances[0].running:
            return None, f"container {container} in pod {pod_name} is not running"
        return instances[0].id, None

    async def container_logs(self, request):
        q = request.query
        m = request.match_info
        cid, error = self.find_container(m["namespace"], m["pod"], m["container"],
                                         q.get("previous") == "true")
        if error:
            return web.Response(status=404, text=error + "\n")
        follow = q.get("follow") == "true"
        tail = int(q["tailLines"]) if q.get("tailLines", "").lstrip("-").isdigit() else None
        try:
            stream = self.kubelet.runtime.logs(cid, follow=follow,
                                               tail=None if tail is None or tail < 0 else tail)
        except rt.ContainerRuntimeError as e:
            return web.Response(status=500, text=f"{e}\n")
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        queue = asyncio.Queue()
        loop = asyncio.get_running_loop()

        def pump():  # the Docker stream blocks: read it in a thread, hand chunks to the loop
            try:
                for chunk in stream:
                    loop.call_soon_threadsafe(queue.put_nowait, chunk)
            except Exception:  # the stream was closed under us: the client went away
                pass
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, None)
        threading.Thread(target=pump, daemon=True).start()
        try:
            while (chunk := await queue.get()) is not None:
                await response.write(chunk)
            await response.write_eof()
        except ConnectionResetError:  # the client went away (kubectl logs -f, then Ctrl-C)
            pass
        finally:
            close = getattr(stream, "close", None)
            if close:
                close()
        return response

    async def exec(self, request):
        """/exec/{namespace}/{pod}/{container}?command=...: a process in the container."""
        return await self.stream(request, lambda cid, o: self.kubelet.runtime.exec(
            cid, o.command, stdin=o.stdin, tty=o.tty), needs_command=True)

    async def attach(self, request):
        """/attach/{namespace}/{pod}/{container}: the container's own stdio."""
        return await self.stream(request, lambda cid, o: self.kubelet.runtime.attach(
            cid, stdin=o.stdin), needs_command=False)

    async def stream(self, request, start, needs_command):
        if request.method not in ("GET", "POST"):
            return web.Response(status=405, text="method not allowed\n")
        try:
            opts = streaming.new_options(request.query, needs_command)
        except streaming.OptionsError as e:
            return web.Response(status=400, text=f"{e}\n")
        m = request.match_info
        cid, error = self.find_container(m["namespace"], m["pod"], m["container"], False,
                                         running=True)
        if error:
            return web.Response(status=404, text=error + "\n")
        if not streaming.is_websocket(request):  # checked last: the API server asks plainly why
            return web.Response(status=400, text=NO_SPDY)
        loop = asyncio.get_running_loop()
        try:
            stream = await loop.run_in_executor(None, start, cid, opts)
        except rt.ContainerRuntimeError as e:
            return web.Response(status=500, text=f"{e}\n")
        return await streaming.serve(request, self.kubelet.runtime, stream, opts)

    async def port_forward(self, request):
        """/portForward/{namespace}/{pod}: TCP connections to the pod's ports."""
        m = request.match_info
        pods = [p for p in self.kubelet.running_pods()
                if p["metadata"]["name"] == m["pod"]
                and p["metadata"].get("namespace", "default") == m["namespace"]]
        if not pods:
            return web.Response(status=404, text=f"pod {m['namespace']}/{m['pod']} not found\n")
        if not streaming.is_websocket(request):
            return web.Response(status=400, text=NO_SPDY)
        return await portforward.serve(request, pods[0])

    # -- running in a thread of its own ----------------------------------------------------

    def start(self):
        threading.Thread(target=self._serve, name="kubelet-server", daemon=True).start()
        self.ready.wait(30)
        if self.error:
            raise self.error
        return self

    def _serve(self):
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        runner = web.AppRunner(self.app(), access_log=None)
        try:
            self.loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, self.address, self.port, ssl_context=self.ssl)
            self.loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]  # the real one, if 0 was asked
        except OSError as e:
            self.error = e
            self.ready.set()
            return
        log.info("serving on https://%s:%d", self.address, self.port)
        self.ready.set()
        self.loop.run_forever()

    def stop(self):
        if self.loop:
            self.loop.call_soon_threadsafe(self.loop.stop)
