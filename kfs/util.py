"""Small helpers shared by components, notebooks and tests."""
import time


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
