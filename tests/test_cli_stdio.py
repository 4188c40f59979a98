"""Every subcommand with a closed, full or broken standard stream, and the option values
that once raised: a one-line error or a clean exit, never a traceback."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest

from conftest import ROOT

TRACE = str(ROOT / "samples" / "traces" / "5.6.0" / "write-flash-baud.trace.txt")

COMMANDS = {
    "decode": ["decode", TRACE],
    "decode-json": ["decode", "--json", TRACE],
    "decode-stdin": ["decode", "-"],
    "monitor": ["monitor", "--no-reset", "sim://esp32?name=stdio"],
    "flash": ["flash", "sim://esp32?name=stdio", "0x10000", TRACE],
    "sim": ["sim", "--control", "127.0.0.1:0"],
    "ports": ["ports"],
    "ports-json": ["ports", "--json"],
    "help": ["--help"],
}
# How stdout is broken: closed, a full disk, a pipe whose reader has left.
STDOUT = {"closed": ">&-", "full": ">/dev/full", "broken": "| true"}


def _run(shell_tail: str, args: list[str], stdin: str = f"<{TRACE}", timeout: float = 20):
    """Run espmon ARGS under bash with the given redirections; (espmon's rc, or None if it
    was still running at the timeout, and its stderr)."""
    quoted = " ".join(f"'{a}'" for a in args)
    script = f"set -o pipefail; '{sys.executable}' -m espmon {quoted} {stdin} {shell_tail}"
    proc = subprocess.Popen(["bash", "-c", script], stderr=subprocess.PIPE, cwd=ROOT, start_new_session=True)
    try:
        _, err = proc.communicate(timeout=timeout)
        rc = proc.returncode
    except subprocess.TimeoutExpired:  # a monitor or a board whose output still has room: fine
        os.killpg(proc.pid, 15)
        _, err = proc.communicate(timeout=10)
        rc = None
    return rc, err.decode("utf-8", "replace")


def _assert_tidy(rc: int | None, stderr: str, silent_failure: bool = False) -> None:
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("espmon: error: ")]
    if rc not in (0, None):
        assert len(errors) == (0 if silent_failure else 1), stderr


@pytest.mark.parametrize("how", STDOUT, ids=list(STDOUT))
@pytest.mark.parametrize("command", COMMANDS, ids=list(COMMANDS))
def test_a_closed_full_or_broken_stdout(command, how):
    rc, stderr = _run(STDOUT[how], COMMANDS[command], timeout=8 if command in ("monitor", "sim") else 30)
    # `ports --json` prints no line when no port is found: nothing to fail on, exit 1 all the same
    _assert_tidy(rc, stderr, silent_failure=command == "ports-json" and how != "closed")
    if how == "closed":
        assert rc == (0 if command == "help" else 2)
        if command != "help":
            assert "standard output is closed" in stderr
    if how == "full" and command in ("decode", "decode-json", "decode-stdin", "monitor", "flash", "sim"):
        assert rc == 1 and "cannot write the output: No space left on device" in stderr, stderr


@pytest.mark.parametrize("command", ["decode", "decode-stdin", "monitor"])
def test_a_closed_stdin(command):
    rc, stderr = _run(">/dev/null", COMMANDS[command], stdin="<&-", timeout=5)
    _assert_tidy(rc, stderr)
    if command == "decode-stdin":
        assert rc == 2 and "standard input is closed: nothing to read for '-'" in stderr
    if command == "decode":
        assert rc == 0


@pytest.mark.parametrize("args, message", [
    (["monitor", "--encoding", "idna", "sim://esp32"], "--encoding idna: not usable for device text"),
    (["monitor", "--encoding", "base64", "sim://esp32"], "--encoding base64: not usable for device text"),
    (["monitor", "--keys", "/nonexistent/keys.toml", "sim://esp32"],
     "/nonexistent/keys.toml: cannot read the key file: No such file or directory"),
    (["monitor", "--keys", "/bin/ls", "sim://esp32"], "/bin/ls: not a key file: byte "),
    (["monitor", "-b", "99999999999999999999", "sim://esp32"], "too high for a serial port"),
    (["flash", "-b", "99999999999999999999", "sim://esp32", "0x0", TRACE], "too high for a serial port"),
    (["sim", "--control", "no-such-host.invalid:0"], "--control no-such-host.invalid:0: cannot listen there"),
    (["sim", "--rfc2217", "no-such-host.invalid:0"], "cannot listen on no-such-host.invalid:0"),
])
def test_option_values_that_once_raised(args, message):
    """Piped (the key file is checked even so)."""
    proc = subprocess.run([sys.executable, "-m", "espmon", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=30, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("espmon: error: ") and message in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


@pytest.mark.parametrize("args, message", [
    (["--keys", "/bin/ls"], "/bin/ls: not a key file: byte "),
    (["-b", "99999999999999999999"], "too high for a serial port"),
])
def test_monitor_on_a_terminal_with_a_binary_key_file_or_a_huge_baud(args, message):
    """On a pty (the full-screen path): stdin and stdout are terminals, the port is a pty too."""
    port_master, port_slave = pty.openpty()
    term_master, term_slave = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "espmon", "monitor", "--no-reset", *args,
                                 os.ttyname(port_slave)], stdin=term_slave, stdout=term_slave,
                                stderr=subprocess.PIPE, cwd=ROOT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        for fd in (port_master, port_slave, term_master, term_slave):
            os.close(fd)
    text = stderr.decode()
    assert proc.returncode == 2 and message in text and "Traceback" not in text, text
