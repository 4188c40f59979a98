"""The log file: raw bytes exactly as received, even when the process is SIGKILLed; text log."""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess

import pytest

from espmon.logfile import SessionLog, text_log_path
from monitor_support import PtyBoard, run_monitor, start_monitor, wait_for


@pytest.fixture
def board(tmp_path):
    b = PtyBoard(tmp_path)
    yield b
    b.close()


def test_raw_log_survives_sigkill(board, tmp_path):
    log = tmp_path / "capture.log"
    proc = start_monitor([board.path, "--no-reset", "--log", str(log)], board, stdin=subprocess.DEVNULL)
    rng = random.Random(4)
    try:
        for i in range(200):
            line = f"I ({i}) app: {'x' * rng.randrange(0, 300)}".encode()
            junk = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 5)))
            board.write(line + junk + b"\r\n")
        board.write(b"no newline yet \xff")
        # once the monitor has read every byte from the tty (and shown the last full line:
        # the text log is written after the raw one), kill it with no chance to flush
        assert wait_for(lambda: board.pending() == 0, 20)
        text_log = text_log_path(log)
        assert wait_for(lambda: text_log.exists() and "I (199) app:" in text_log.read_text(errors="replace"), 20)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert log.read_bytes() == bytes(board.sent)
    text = text_log_path(log).read_text()
    assert "I (199) app:" in text


def test_session_log_writes_both_files(tmp_path):
    with SessionLog(tmp_path / "x.log") as log:
        log.write_raw(b"\x1b[0;32mI (1) a: b\x1b[0m\r\n")
        log.write_lines(["I (1) a: b", "--- note"], 1_700_000_000.5)
        log.note("port back", 1_700_000_001.0)
        assert log.raw_bytes == 23
    assert (tmp_path / "x.log").read_bytes() == b"\x1b[0;32mI (1) a: b\x1b[0m\r\n"
    lines = (tmp_path / "x.log.txt").read_text().splitlines()
    assert lines[0].endswith(".500 I (1) a: b")
    assert lines[2].endswith("--- port back")
    log.write_raw(b"after close is ignored")
    assert (tmp_path / "x.log").read_bytes().endswith(b"\r\n")


def test_unwritable_log_is_a_user_error(board, tmp_path):
    from monitor_support import run_monitor

    result = run_monitor([board.path, "--no-reset", "--log", str(tmp_path / "no" / "such" / "dir.log")])
    assert result.returncode == 2
    assert result.stderr.decode().startswith("espmon: error: --log")


def test_a_log_on_a_full_disk_is_said_once_and_the_monitor_goes_on(tmp_path):
    """Issue 8 item 12: --log on a full disk killed the reader thread: 0 lines in 7 s."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    for name in ("full.log", "full.log.txt"):
        (tmp_path / name).symlink_to("/dev/full")  # every write: ENOSPC
    script = b"expect --timeout 20 hello from espmon-demo\nexpect --timeout 20 tick 3\nexit\n"
    result = run_monitor(["sim://esp32?firmware=demo&heartbeat=0.2", "--no-reset", "--log", str(tmp_path / "full.log")],
                         script)
    err = result.stderr.decode()
    assert result.returncode == 0, err
    assert err.count("log: cannot write") == 1 and "No space left on device" in err and "Traceback" not in err
    assert b"I (" in result.stdout and b"tick 3" in result.stdout  # everything still shown


@pytest.mark.parametrize("run", range(3))
def test_sigkill_under_a_saturating_stream_loses_at_most_one_read(board, tmp_path, run):
    """Issue 8 item 13: 41-63 KB had been read from the port but were not in the raw log when
    the monitor was killed under a flood (the read waited for the backlog before it was logged).
    Its stdout is a pipe nobody reads: the monitor falls behind, as on a slow terminal."""
    from monitor_support import Flood

    log = tmp_path / "flood.log"
    proc = start_monitor([board.path, "--no-reset", "--log", str(log)], board, stdin=subprocess.DEVNULL)
    flood = Flood(board)
    try:
        assert wait_for(lambda: log.exists() and log.stat().st_size > 512 << 10, 20)  # behind, saturated
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        flood.stop()
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    left = 0  # still in the pty (its read buffer and the flip buffers behind it): never read
    while select.select([board.slave], [], [], 0.3)[0]:
        left += len(os.read(board.slave, 1 << 16))
    lost = flood.sent - log.stat().st_size - left  # read from the tty, never logged
    assert 0 <= lost <= 4096, f"{lost} bytes read but not in the raw log"
