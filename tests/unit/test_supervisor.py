import os
import sys

from kfs.lab import supervisor
from kfs.lab.supervisor import Daemon
from kfs.util import wait_for


def sleeper(tmp_path, name="sleeper", seconds=60):
    return Daemon(name, [sys.executable, "-c", f"import time; time.sleep({seconds})"], tmp_path)


def test_start_records_pid_command_line_and_logs_to_a_file(tmp_path):
    d = sleeper(tmp_path)
    pid = supervisor.start(d)
    try:
        assert supervisor.pid_of(d) == pid
        assert d.cmdfile.read_text().strip() == d.command_line
        assert "starting: " + d.command_line in d.logfile.read_text()
    finally:
        supervisor.stop(d)


def test_start_twice_keeps_the_running_process(tmp_path):
    d = sleeper(tmp_path)
    try:
        assert supervisor.start(d) == supervisor.start(d)
    finally:
        supervisor.stop(d)


def test_stop_ends_the_process_and_removes_the_pidfile(tmp_path):
    d = sleeper(tmp_path)
    pid = supervisor.start(d)
    assert supervisor.stop(d) == pid
    assert supervisor.pid_of(d) is None
    assert not d.pidfile.exists()
    assert not os.path.exists(f"/proc/{pid}") or "Z" in open(f"/proc/{pid}/stat").read().split()[2]


def test_stop_escalates_to_sigkill_when_sigterm_is_ignored(tmp_path):
    ready = tmp_path / "ready"
    d = Daemon("stubborn", [sys.executable, "-c",
                            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                            f"open({str(ready)!r}, 'w').close(); time.sleep(60)"], tmp_path)
    supervisor.start(d)
    wait_for(ready.exists, timeout=10, what="the stubborn process to install its handler")
    supervisor.stop(d, timeout=0.5)
    assert supervisor.pid_of(d) is None


def test_a_pidfile_whose_pid_was_reused_is_not_trusted(tmp_path):
    d = sleeper(tmp_path)
    # our own PID with a start time that is not ours: a recycled PID
    d.directory.mkdir(exist_ok=True)
    d.pidfile.write_text(f"{os.getpid()} 1\n")
    assert supervisor.pid_of(d) is None
    assert supervisor.stop(d) is None  # and so it is never signalled
    assert os.path.exists(f"/proc/{os.getpid()}")


def test_ensure_restarts_a_daemon_whose_command_line_changed(tmp_path):
    first = sleeper(tmp_path, seconds=60)
    pid = supervisor.start(first)
    second = sleeper(tmp_path, seconds=61)
    try:
        new = supervisor.ensure(second)
        assert new != pid and supervisor.pid_of(second) == new
        assert supervisor.ensure(second) == new
    finally:
        supervisor.stop(second)


def test_restart_gives_a_new_process(tmp_path):
    d = sleeper(tmp_path)
    pid = supervisor.start(d)
    try:
        assert supervisor.restart(d) != pid
    finally:
        supervisor.stop(d)
