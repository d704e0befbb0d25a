"""Run the real kubectl against the lab, as an attendee would type it.

    from kfs.kubectl import kubectl
    kubectl("get", "pods", "-o", "wide")          # prints "$ kubectl get pods -o wide" and the output
    out = kubectl("get", "pods", show=False)      # just returns the output

The kubeconfig is the lab's admin kubeconfig (``kfs lab kubeconfig``); the discovery cache
lives in the lab's state directory, so it never outlives the lab's API server.
``binary("1.20")`` and ``binary("1.37")`` are the other kubectls set-up keeps (Debian's and
the newest), which the tests run against kfs as well.
"""
import os
import queue
import shlex
import shutil
import subprocess
import threading
import time

from kfs import bootstrap


class KubectlError(RuntimeError):
    """kubectl exited non-zero; the message is its stderr (e.g. "Error from server ...")."""

    def __init__(self, argv, result):
        self.result = result
        super().__init__(f"kubectl {shlex.join(argv)} failed (exit {result.returncode}): "
                         f"{result.stderr.strip()}")


def binary(version=None):
    """The kubectl to run: the one on PATH (`version` None), or one set-up keeps for the
    tests, by minor version ("1.20": Debian's, "1.37": the newest; see kfs.versions)."""
    if version is None:
        found = shutil.which("kubectl") or shutil.which("kubectl", path="/usr/local/bin:/usr/bin")
    else:
        path = bootstrap.kubectl_path(version)
        found = str(path) if path.exists() else None
    if not found:
        which = f"kubectl {version}" if version else "kubectl"
        raise FileNotFoundError(f"{which} is missing: run the README's set-up "
                                "(python3 -m kfs.bootstrap), which installs it")
    return found


def env(lab=None):
    from kfs.lab.lab import Lab
    lab = lab or Lab()
    return dict(os.environ, KUBECONFIG=str(lab.admin_kubeconfig),
                KUBECACHEDIR=str(lab.dir / "kubectl-cache"))


def kubectl(*argv, lab=None, show=True, check=True, input=None, timeout=120, version=None):
    """Run `kubectl argv...`; return its stdout. `show` prints the command line, then the
    output line by line as kubectl writes it (so `rollout status` or `drain` shows its
    progress while it waits); `version` picks another kubectl set-up keeps ("1.20", see
    `binary`)."""
    argv = [str(a) for a in argv]
    command = [binary(version), *argv]
    if show:
        print(f"$ kubectl {shlex.join(argv)}", flush=True)
        result = run_showing(command, input=input, env=env(lab), timeout=timeout)
    else:
        result = subprocess.run(command, capture_output=True, text=True, input=input,
                                env=env(lab), timeout=timeout)
    if check and result.returncode != 0:
        raise KubectlError(argv, result)
    return result.stdout


def run_showing(command, input=None, env=None, timeout=120):
    """subprocess.run(command, capture_output=True, text=True, ...), printing each line of
    stdout and stderr as it comes. The printing is done by the calling thread (a notebook
    cell's output belongs to the thread that runs the cell); two threads only read."""
    proc = subprocess.Popen(command, stdin=subprocess.PIPE if input is not None else None,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines, ends = queue.Queue(), []
    out, err = [], []
    for stream, into in ((proc.stdout, out), (proc.stderr, err)):
        threading.Thread(target=_read_lines, args=(stream, into, lines), daemon=True).start()
    if input is not None:
        threading.Thread(target=_write_input, args=(proc.stdin, input), daemon=True).start()
    deadline = time.monotonic() + timeout
    while len(ends) < 2:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            proc.kill()
            proc.wait()
            raise subprocess.TimeoutExpired(command, timeout, "".join(out), "".join(err))
        if line is None:
            ends.append(line)
        else:
            print(line, end="", flush=True)
    returncode = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
    return subprocess.CompletedProcess(command, returncode, "".join(out), "".join(err))


def _read_lines(stream, into, lines):
    for line in stream:
        into.append(line)
        lines.put(line)
    stream.close()
    lines.put(None)


def _write_input(stdin, text):
    try:
        stdin.write(text)
        stdin.close()
    except BrokenPipeError:   # kubectl exited without reading it all
        pass
