"""kfs.kubectl.run_showing: what a notebook's `kubectl(...)` prints while kubectl runs."""
import subprocess

import pytest

from kfs.kubectl import run_showing


def test_a_line_is_shown_while_the_command_still_runs(capsys):
    # the command never ends by itself: its first line can only be seen if shown as it came
    with pytest.raises(subprocess.TimeoutExpired):
        run_showing(["sh", "-c", "echo 'Waiting for deployment rollout'; exec sleep 30"],
                    timeout=2)
    assert capsys.readouterr().out == "Waiting for deployment rollout\n"


def test_stdout_and_stderr_are_returned_apart_and_both_shown(capsys):
    result = run_showing(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "err\n")
    assert sorted(capsys.readouterr().out.splitlines()) == ["err", "out"]


def test_input_reaches_the_command(capsys):
    result = run_showing(["sh", "-c", "read line; echo \"got $line\""], input="hi\n")
    assert result.stdout == "got hi\n" and capsys.readouterr().out == "got hi\n"


def test_a_command_that_ignores_its_input_is_not_an_error():
    result = run_showing(["true"], input="x" * 1_000_000)
    assert result.returncode == 0
