"""`espmon decode` as a user runs it: files, stdin, bad input, text and JSON output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "traces"
OK_SAMPLE = SAMPLES / "5.6.0" / "write-flash-baud.trace.txt"
FAIL_SAMPLE = SAMPLES / "2.8" / "fault-dead-tx.trace.txt"


def decode(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "espmon", "decode", *args], input=stdin,
                          capture_output=True, timeout=60)


def test_text_output_of_a_success():
    out = decode(str(OK_SAMPLE))
    assert out.returncode == 0, out.stderr
    text = out.stdout.decode()
    assert "\x1b[" not in text  # not a terminal: no colour
    assert "FLASH_DEFL_DATA" in text and "CHANGE_BAUDRATE" in text and "OHAI" in text
    assert "MD5 ok" in text and "outcome   ok" in text


def test_text_output_of_a_failure_names_the_error_and_the_advice():
    out = decode(str(FAIL_SAMPLE))
    assert out.returncode == 0
    text = out.stdout.decode()
    assert "Timed out waiting for packet header" in text and "FAILED" in text
    assert "troubleshooting guide" in text and "No serial data received." in text


def test_color_always():
    assert b"\x1b[" in decode("--color", "always", str(OK_SAMPLE)).stdout


def test_json_lines_from_stdin():
    out = decode("--json", "-", stdin=FAIL_SAMPLE.read_bytes())
    assert out.returncode == 0, out.stderr
    records = [json.loads(line) for line in out.stdout.decode().splitlines()]
    assert all("kind" in r and "line" in r for r in records)
    assert records[-1]["kind"] == "summary" and records[-1]["outcome"] == "failed"
    assert any(r["kind"] == "timeout" for r in records)


def test_utf16_file_from_powershell(tmp_path):
    path = tmp_path / "trace.txt"
    path.write_bytes(OK_SAMPLE.read_text().encode("utf-16"))
    out = decode("--json", str(path))
    assert out.returncode == 0 and json.loads(out.stdout.splitlines()[-1])["outcome"] == "ok"


@pytest.mark.parametrize("make, expected", [
    (lambda p: None, "no such file"),
    (lambda p: p.mkdir(), "is a directory"),
    (lambda p: p.write_bytes(b"\x7fELF\x02\x01\x01\0\0\0" + bytes(range(256)) * 4), "binary data"),
    (lambda p: (p.write_text("x"), p.chmod(0)), "cannot open"),
])
def test_bad_files_give_one_line_and_exit_2(tmp_path, make, expected):
    path = tmp_path / "trace.txt"
    make(path)
    out = decode(str(path))
    err = out.stderr.decode()
    if expected == "cannot open" and "cannot open" not in err:
        pytest.skip("running as root: permissions do not stop reads")
    assert out.returncode == 2 and out.stdout == b""
    assert err.count("\n") == 1 and err.startswith("espmon: error: ") and str(path) in err and expected in err
    assert "Traceback" not in err


@pytest.mark.parametrize("text, looks_like", [
    (b"", "empty input"),
    ((ROOT / "README.md").read_bytes(), "Markdown"),
    ((ROOT / "samples" / "traces" / "manifest.json").read_bytes(), "JSON"),
    ((ROOT / "samples" / "logs" / "sim_esp32_panic_boot_loop.txt").read_bytes(), "a device log"),
    (b"esptool v5.1.0\nConnecting....\nA fatal error occurred: Failed to connect to ESP32\n", "without --trace"),
])
@pytest.mark.parametrize("as_json", [False, True])
def test_what_is_not_a_trace_gets_one_line_and_no_verdict(text, looks_like, as_json):
    out = decode(*(["--json"] if as_json else []), "-", stdin=text)
    err = out.stderr.decode()
    assert out.returncode == 2 and out.stdout == b"", out.stdout[-500:]
    assert err.count("\n") == 1 and "no esptool trace found" in err and looks_like in err


def test_decode_imports_stay_light():
    code = ("import sys, espmon.cli as c; c.main(['decode', '--json', '-']); "
            "bad = [m for m in ('prompt_toolkit', 'matplotlib', 'esptool', 'serial') if m in sys.modules]; "
            "sys.stderr.write(repr(bad))")
    out = subprocess.run([sys.executable, "-c", code], input=b"", capture_output=True, timeout=60)
    assert out.stderr.decode().strip().endswith("[]")


@pytest.mark.parametrize("as_json", [False, True])
def test_summary_prints_the_story_only(as_json):
    full = decode(*(["--json"] if as_json else []), str(FAIL_SAMPLE))
    short = decode("--summary", *(["--json"] if as_json else []), str(FAIL_SAMPLE))
    assert short.returncode == full.returncode == 0
    if as_json:
        (summary,) = [json.loads(line) for line in short.stdout.splitlines()]
        assert summary == json.loads(full.stdout.splitlines()[-1])
    else:
        text = short.stdout.decode()
        assert text.startswith("Session\n") and "outcome" in text and "→" not in text
        assert full.stdout.decode().endswith(text)


def _decode_on_a_terminal(*args: str) -> str:
    """`espmon decode ARGS` with its stdout on a pty, as a terminal runs it."""
    import os
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "espmon", "decode", *args], stdout=slave,
                            stderr=subprocess.PIPE, env={**os.environ, "NO_COLOR": "1"})
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    return b"".join(chunks).decode().replace("\r\n", "\n")


LEGEND = "  line    time s  \u2192 to chip  \u2190 from chip  \u2502 esptool  * note  ! warning  x error"


def test_a_terminal_gets_a_legend_before_the_packets_and_a_pipe_does_not():
    lines = _decode_on_a_terminal(str(OK_SAMPLE)).splitlines()
    assert lines[0] == LEGEND
    assert LEGEND not in lines[1:]
    assert lines[1:] == decode(str(OK_SAMPLE)).stdout.decode().splitlines()  # otherwise the same lines
    assert "time s" not in decode(str(OK_SAMPLE)).stdout.decode()


def test_no_legend_with_summary_or_json_even_on_a_terminal():
    assert "time s" not in _decode_on_a_terminal("--summary", str(OK_SAMPLE))
    assert "time s" not in _decode_on_a_terminal("--json", str(OK_SAMPLE))
