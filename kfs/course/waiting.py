"""Waiting in a notebook: a progress bar that says what is awaited (``tqdm.auto``).

``kfs.util.wait_for`` is the tests' wait and prints nothing; an attendee looking at a cell
that runs for 40 s deserves to see what it waits for and how long it has waited.
``wait(condition, timeout, what)`` polls as ``wait_for`` does and shows a bar of the
seconds spent out of ``timeout``, labelled "waiting for <what>"; it closes the bar with the
time it took.
"""
import time

from tqdm.auto import tqdm


def wait(condition, timeout=30.0, what="condition", interval=0.2):
    """Poll `condition` until it returns something truthy and return that, with a progress bar.

    Raises TimeoutError naming `what` after `timeout` seconds.
    """
    start = time.monotonic()
    value = condition()
    if value:
        return value
    with tqdm(total=round(timeout), desc=f"waiting for {what}", unit="s", leave=True,
              bar_format="{desc}: {bar} {n:.0f}/{total:.0f} s") as bar:
        while True:
            time.sleep(interval)
            value = condition()
            spent = time.monotonic() - start
            bar.n = min(spent, timeout)
            bar.refresh()
            if value:
                bar.set_description_str(f"{what}: after {spent:.1f} s")
                return value
            if spent > timeout:
                raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
