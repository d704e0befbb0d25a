"""The course's container images, built offline from busybox-static: no registry needed.

An image here is a root filesystem tarball plus a few Dockerfile-style instructions, which
``docker import`` turns into an image in any Docker daemon. Every lab machine has its own
daemon, so ``load`` imports the tarballs into each (in well under a second).

- ``kfs/pause:1``   holds a pod's network namespace and sleeps; exits at once on SIGTERM
- ``kfs/busybox:1`` a shell and the usual tools (``wget``, ``nc``, ``ip``, ``ping`` ...)
- ``kfs/echo:1``    HTTP on port 8080 answering ``hostname=... ip=... client=...``:
                    the target of the load-balancing demos
- ``kfs/echo:2``    the same, answering ``version=2 hostname=...``: what a rolling update
                    rolls out

**Name resolution inside the images** (checked in ``tests/system/test_dns.py``): Debian's
busybox-static is linked statically against glibc, whose ``files`` and ``dns`` NSS
modules are built in, so ``wget``, ``ping`` and ``nc`` resolve names through
``getaddrinfo``: ``/etc/hosts`` first, then the nameservers, search path and ``ndots`` of
``/etc/resolv.conf`` (no ``nsswitch.conf`` or ``libnss_*.so`` needed). ``nslookup`` is
busybox's own DNS client reading the same resolv.conf; it applies the search path only to
names without a dot. Busybox 1.35's ``wget -T SECONDS`` crashes (SIGSEGV): bound a
``wget`` with ``timeout 5 wget ...`` instead.

What real Kubernetes does differently: pause is a few lines of C
(``build/pause/linux/pause.c``) that reaps zombies too; ours is a shell loop, and our images
are single-layer imports, not multi-layer images pulled from a registry.
"""
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

from kfs import versions

KFS_HOME = Path(os.environ.get("KFS_HOME", "/var/lib/kfs"))
IMAGE_DIR = KFS_HOME / "images"

ECHO_CGI = """#!/bin/sh
ip=$(ip -4 -o addr show scope global | awk '{split($4, a, "/"); print a[1]; exit}')
printf 'Content-Type: text/plain\\r\\n\\r\\n'
echo "hostname=$(hostname) ip=$ip client=$REMOTE_ADDR"
echo "$REQUEST_METHOD $REQUEST_URI from $REMOTE_ADDR" >&2
"""

# PID 1 in a container ignores signals it has no handler for: trap TERM so that stopping a pod
# takes milliseconds, not the whole grace period.
PAUSE_CMD = 'trap "exit 0" TERM INT; sleep 2147483647 & wait'
ECHO_CMD = 'trap "exit 0" TERM INT; httpd -f -p 0.0.0.0:8080 -h /www & wait'


def echo_command(port=8080):
    """The echo image's command on another port: for an echo in a machine's own network,
    where 8080 may be taken (on cp, by kfs dns's health endpoint, as CoreDNS's)."""
    return ["/bin/sh", "-c", ECHO_CMD.replace(":8080 ", f":{port} ")]


IMAGES = {
    versions.PAUSE_IMAGE: {"files": {}, "changes": [
        f"CMD {json.dumps(['/bin/sh', '-c', PAUSE_CMD])}"]},
    versions.BUSYBOX_IMAGE: {"files": {}, "changes": ['CMD ["/bin/sh"]']},
    versions.ECHO_IMAGE: {"files": {"www/cgi-bin/index.cgi": ECHO_CGI}, "changes": [
        f"CMD {json.dumps(['/bin/sh', '-c', ECHO_CMD])}", "EXPOSE 8080/tcp"]},
    versions.ECHO2_IMAGE: {"files": {"www/cgi-bin/index.cgi": ECHO_CGI.replace(
        'echo "hostname=', 'echo "version=2 hostname=')}, "changes": [
        f"CMD {json.dumps(['/bin/sh', '-c', ECHO_CMD])}", "EXPOSE 8080/tcp"]},
}

BASE_FILES = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    "etc/group": "root:x:0:\nnogroup:x:65534:\n",
}


def busybox_path():
    found = shutil.which("busybox", path="/usr/bin:/bin:/usr/sbin:/sbin")
    if not found:
        raise RuntimeError("busybox is missing: install the Debian package busybox-static")
    return Path(found)


def _add(tar, name, data=None, mode=0o644, kind=tarfile.REGTYPE, link=""):
    info = tarfile.TarInfo(name)
    info.mode, info.type, info.linkname, info.mtime = mode, kind, link, 0
    if data is not None:
        info.size = len(data)
    tar.addfile(info, io.BytesIO(data) if data is not None else None)


def rootfs(files):
    """A root filesystem tarball: busybox, a symlink per applet, /etc basics, `files`."""
    busybox = busybox_path()
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for d in ("bin", "etc", "tmp", "root", "proc", "sys", "dev", "www/cgi-bin"):
            _add(tar, d, mode=0o1777 if d == "tmp" else 0o755, kind=tarfile.DIRTYPE)
        _add(tar, "bin/busybox", busybox.read_bytes(), mode=0o755)
        for applet in sorted(set(applets) - {"busybox"}):
            _add(tar, f"bin/{applet}", kind=tarfile.SYMTYPE, link="busybox")
        for name, text in {**BASE_FILES, **files}.items():
            _add(tar, name, text.encode(), mode=0o755 if name.endswith(".cgi") else 0o644)
    return buf.getvalue()


def build(image_dir=IMAGE_DIR):
    """Write <image>.tar and <image>.json for every image; skip those already current."""
    image_dir.mkdir(parents=True, exist_ok=True)
    built = []
    for image, spec in IMAGES.items():
        data = rootfs(spec["files"])
        digest = hashlib.sha256(data + json.dumps(spec["changes"]).encode()).hexdigest()[:16]
        base = image_dir / image.replace("/", "_").replace(":", "_")
        meta = {"image": image, "digest": digest, "changes": spec["changes"]}
        if _read_json(base.with_suffix(".json")) != meta:
            base.with_suffix(".tar").write_bytes(data)
            base.with_suffix(".json").write_text(json.dumps(meta, indent=1))
            built.append(image)
    return built


def _read_json(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def built_images(image_dir=IMAGE_DIR):
    """(metadata, tarball path) of every built image; builds them first if needed."""
    build(image_dir)
    for image in IMAGES:
        base = image_dir / image.replace("/", "_").replace(":", "_")
        yield _read_json(base.with_suffix(".json")), base.with_suffix(".tar")


def load(docker_host, image_dir=IMAGE_DIR):
    """Import every image into the Docker daemon at `docker_host` unless it has it already.

    The image's label ``kfs.digest`` tells whether the daemon's copy is current.
    """
    loaded = []
    env = dict(os.environ, DOCKER_HOST=docker_host)
    for meta, tarball in built_images(image_dir):
        have = subprocess.run(["docker", "image", "inspect", "-f",
                               '{{index .Config.Labels "kfs.digest"}}', meta["image"]],
                              capture_output=True, text=True, env=env)
        if have.returncode == 0 and have.stdout.strip() == meta["digest"]:
            continue
        changes = [*meta["changes"], f"LABEL kfs.digest={meta['digest']}"]
        argv = ["docker", "import", *[a for c in changes for a in ("--change", c)],
                str(tarball), meta["image"]]
        subprocess.run(argv, check=True, capture_output=True, env=env)
        loaded.append(meta["image"])
    return loaded
