"""Small helpers shared by components, notebooks and tests."""
import re
import signal
import subprocess
import threading
import time

DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")


def duration(text):
    """"30s", "1m", "500ms", "5" (seconds) -> seconds: a subset of Go's time.ParseDuration,
    for components' duration flags (an argparse ``type``)."""
    import argparse
    m = DURATION.match(str(text).strip())
    if not m:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r} (examples: 500ms, 30s, 1m)")
    return float(m[1]) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m[2]]


def wait_for(condition, timeout=30.0, interval=0.1, what="condition"):
    """Poll `condition` until it returns something truthy, and return that.

    Raises TimeoutError naming `what` after `timeout` seconds: notebooks and tests wait on
    facts this way, never with bare sleeps.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


def handle_sigterm():
    """A component's SIGTERM: it sets the returned `stopped` event; before the component
    sets the returned `running` one (still waiting for its first lists), it just exits.
    Returns (stopped, running)."""
    stopped, running = threading.Event(), threading.Event()

    def on_sigterm(*_):
        stopped.set()
        if not running.is_set():  # still waiting for the first lists: just go
            raise SystemExit(0)
    signal.signal(signal.SIGTERM, on_sigterm)
    return stopped, running


def setup_logging(verbosity):
    """Logging for a component process, klog-style: ``I1127 15:00:01.123 kfs.kubelet] ...``.

    Verbosity as upstream's ``-v``: below 2 warnings only, 2 and 3 the component's story
    (INFO), 4 and up everything (DEBUG). Libraries' chatter stays at warnings.
    """
    import logging
    import sys
    level = logging.WARNING if verbosity < 2 else logging.INFO if verbosity < 4 else logging.DEBUG
    logging.basicConfig(level=level, stream=sys.stdout,
                        format="%(levelname).1s%(asctime)s.%(msecs)03d %(name)s] %(message)s",
                        datefmt="%m%d %H:%M:%S")
    for noisy in ("urllib3", "docker", "aiohttp.access", "grpc"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def run(prefix, argv, input=None, check=True):
    """Run `argv` after `prefix` (e.g. an nsenter into the rules' network namespace)."""
    result = subprocess.run([*prefix, *argv], input=input, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise CommandError(argv, result.returncode, result.stderr.strip())
    return result


class CommandError(Exception):
    def __init__(self, argv, code, stderr):
        self.argv, self.code, self.stderr = argv, code, stderr
        super().__init__(f"{' '.join(argv[:3])}... exited {code}: {stderr}")
