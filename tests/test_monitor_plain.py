"""The plain (non-TTY) monitor as a subprocess: streaming output, script mode, exit codes."""

from __future__ import annotations

import subprocess
import threading
import time

import pytest

from monitor_support import PtyBoard, run_monitor, start_monitor


@pytest.fixture
def board(tmp_path):
    b = PtyBoard(tmp_path)
    yield b
    b.close()


def _reply_when(board: PtyBoard, trigger: bytes, reply: bytes, stop: threading.Event) -> threading.Thread:
    def run():
        while not stop.is_set():
            if trigger in board.received:
                board.write(reply)
                return
            time.sleep(0.01)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_script_send_expect_exit(board):
    stop = threading.Event()
    _reply_when(board, b"ping\r", b"I (10) app: pong\r\n", stop)
    proc = start_monitor([board.path, "--no-reset"], board)
    board.write(b"\x1b[0;32mI (5) app: READY\x1b[0m\r\n")
    script = b"expect --timeout 20 READY\nsend ping\nexpect --timeout 20 app: pong\nexit\n"
    out, err = proc.communicate(script, timeout=30)
    stop.set()
    assert proc.returncode == 0, err.decode()
    text = out.decode()
    assert "I (5) app: READY" in text and "\x1b[" not in text  # colours stripped on a pipe
    assert "I (10) app: pong" in text
    assert b"ping\r" in board.received
    assert "Command: 'send ping'" in err.decode()


def test_expect_timeout_exits_110(board):
    result = run_monitor([board.path, "--no-reset"], b"expect --timeout 0.3 NEVER\nsend not reached\n")
    assert result.returncode == 110
    assert "timed out" in result.stderr.decode()
    assert b"not reached" not in board.received


def test_script_error_exits_2(board):
    result = run_monitor([board.path, "--no-reset"], b"expect --timeout 1 (unclosed\n")
    assert result.returncode == 2
    assert "invalid expect pattern" in result.stderr.decode()


def test_pty_without_modem_lines_still_monitors(board):
    """A bare pty rejects the DTR/RTS ioctls: the reset on start is skipped with a note."""
    proc = start_monitor([board.path], board)
    board.write(b"hello\r\n")
    out, err = proc.communicate(b"expect --timeout 20 hello\nexit\n", timeout=30)
    assert proc.returncode == 0, err.decode()
    assert "no DTR/RTS lines" in err.decode()


def test_partial_line_is_printed_after_idle_and_completed(board):
    proc = start_monitor([board.path, "--no-reset"], board, stdin=subprocess.DEVNULL)
    try:
        board.write(b"login: ")
        first = proc.stdout.read1(100)  # arrives without a newline, after the idle flush
        board.write(b"root\r\nnext line\r\n")
        rest = b""
        while b"next line\n" not in rest:
            rest += proc.stdout.read1(100)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert first == b"login: "
    assert rest.startswith(b"root\nnext line\n")


def test_no_port_is_a_one_line_error(tmp_path):
    result = run_monitor([str(tmp_path / "nope")])
    assert result.returncode == 2
    err = result.stderr.decode()
    assert err.startswith("espmon: error: cannot open") and "Traceback" not in err


@pytest.mark.parametrize("args, message", [
    (["-b", "0"], "--baud 0: a baud rate is a positive number"),
    (["--encoding", "nope"], "--encoding nope: unknown encoding"),
    (["--chip", "esp99"], "--chip esp99: unknown chip"),
    (["--print-filter", "wifi:Q"], "--print-filter: unknown level 'Q'"),
])
def test_bad_options_are_one_line_errors_before_the_port_opens(args, message):
    result = run_monitor(["sim://esp32", *args])
    err = result.stderr.decode()
    assert result.returncode == 2
    assert err.startswith("espmon: error: ") and message in err and err.count("\n") == 1, err
