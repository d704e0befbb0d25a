"""The lab's one error: something the user must fix, with a message saying what.

``kfs`` prints it as ``kfs: <message>`` (exit 2), never as a traceback; a notebook shows
it as the cell's error. It has a module of its own so that the lab, its stages and the
``kfs`` command can all raise it without importing each other.
"""


class LabError(Exception):
    """Something the user must fix; the message says what."""
