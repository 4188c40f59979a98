"""Fixtures shared by the test suite: virtual boards and the real esptool.

- ``sim_port``: open an in-process ``sim://`` board (a real pyserial port); every board
  a test opens is closed and forgotten at teardown.
- ``sim_server``: start ``espmon sim`` in a subprocess (RFC 2217 on a free loopback port,
  with a control channel and a JSON Lines record); returns a :class:`SimServer` with its
  URL, ``reset(mode)``, ``status()`` and ``records()``; stopped at teardown.
- ``tmux``: a private tmux server driving espmon in a real terminal (``tmux_support.Tmux``).
- ``run_esptool(url, *args, fast=True)``: the real esptool CLI as a separate process;
  returns ``(returncode, output)``. ``fast`` loads ``tests/inject/sitecustomize.py``, the
  test-only speed-up of pyserial's RFC 2217 client.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
INJECT = Path(__file__).resolve().parent / "inject"
SAMPLES = ROOT / "samples" / "firmware"
CHIPS = ("esp32", "esp32s2", "esp32s3", "esp32c3", "esp32c6", "esp8266")

__all__ = ["SimServer", "run_esptool", "esptool_env", "read_until", "ROOT", "SAMPLES", "CHIPS"]


def esptool_env(fast: bool = True) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("ESPMON_FAST_RFC2217", None)
    if fast:
        env["ESPMON_FAST_RFC2217"] = "1"
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(INJECT), env.get("PYTHONPATH", "")]))
    env["NO_COLOR"] = "1"  # esptool's rich output without colour codes
    env["COLUMNS"] = "200"  # no wrapped lines
    return env


def run_esptool(url: str, *args: str, fast: bool = True, timeout: float = 90,
                cwd: str | Path | None = None) -> tuple[int, str]:
    """Run ``esptool --port URL ARGS`` (esptool 5.6 from the venv) and return (rc, output)."""
    cmd = [sys.executable, "-m", "esptool", "--port", url, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=esptool_env(fast),
                          cwd=cwd)
    return proc.returncode, proc.stdout + proc.stderr


@dataclass
class SimServer:
    """An ``espmon sim`` subprocess serving one board over RFC 2217."""

    proc: subprocess.Popen
    url: str
    control: tuple[str, int]
    record: Path | None
    log: Path
    _sock: socket.socket | None = field(default=None, repr=False)

    def command(self, line: str) -> str:
        if self._sock is None:
            self._sock = socket.create_connection(self.control, timeout=5)
            self._file = self._sock.makefile("rwb", buffering=0)
        self._file.write(line.encode() + b"\n")
        return self._file.readline().decode().strip()

    def reset(self, mode: str = "flash") -> None:
        assert self.command(f"reset {mode}") == "ok"

    def status(self) -> dict:
        return json.loads(self.command("status"))

    def records(self) -> list[dict]:
        assert self.record is not None, "started without a record"
        return [json.loads(line) for line in self.record.read_text().splitlines() if line.strip()]

    def output_text(self) -> str:
        """Everything the board printed outside SLIP frames, from its record."""
        return b"".join(bytes.fromhex(r["bytes"]) for r in self.records()
                        if r.get("dir") == "out" and "bytes" in r).decode("utf-8", "replace")

    def stop(self) -> int:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout:
            self.proc.stdout.close()
        return self.proc.returncode


def _readline(proc: subprocess.Popen, timeout: float) -> str:
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        raise TimeoutError("espmon sim printed nothing")
    return proc.stdout.readline().decode().strip()


@pytest.fixture
def sim_server(tmp_path):
    """Factory: ``sim_server("esp32", "--fault", "noise", record=True) -> SimServer``."""
    started: list[SimServer] = []

    def start(chip: str = "esp32", *extra: str, record: bool = True) -> SimServer:
        n = len(started)
        record_path = tmp_path / f"board{n}.jsonl" if record else None
        log = tmp_path / f"board{n}.log"
        cmd = [sys.executable, "-m", "espmon", "sim", "--chip", chip, "--control", "127.0.0.1:0", *extra]
        if record_path:
            cmd += ["--record", str(record_path)]
        with open(log, "wb") as err:
            # unbuffered: select() must see what readline() has not consumed yet
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, cwd=ROOT, bufsize=0)
        try:
            url = _readline(proc, 15)
            control = _readline(proc, 5).split()[1]
        except Exception:
            proc.kill()
            proc.wait()
            raise AssertionError(f"espmon sim did not start: {log.read_text()}") from None
        host, port = control.rsplit(":", 1)
        server = SimServer(proc, url, (host, int(port)), record_path, log)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def sim_port():
    """Factory: ``sim_port("esp32", fault="panic", baudrate=115200) -> serial.Serial``.

    Opens ``sim://CHIP?name=<unique>&...`` in process; extra keyword arguments that are
    sim:// options go into the URL, the rest to ``serial.serial_for_url``.
    """
    import serial

    import espmon.sim
    from espmon.sim import registry

    espmon.sim.register()
    opened: list[tuple[serial.Serial, str]] = []
    options = set(registry.OPTIONS)

    def open_port(chip: str = "esp32", **kwargs) -> serial.Serial:
        name = kwargs.pop("name", None) or f"test-{uuid.uuid4().hex[:8]}"
        query = [("name", name)]
        for key in list(kwargs):
            if key in options:
                values = kwargs.pop(key)
                for value in values if isinstance(values, (list, tuple)) else [values]:
                    query.append((key, str(value)))
        url = f"sim://{chip}?" + "&".join(f"{k}={v}" for k, v in query)
        kwargs.setdefault("baudrate", 115200)
        kwargs.setdefault("timeout", 1)
        port = serial.serial_for_url(url, **kwargs)
        port.url = url
        opened.append((port, name))
        return port

    yield open_port
    for port, name in opened:
        port.close()
        registry.discard(name)


def read_until(port, pattern: bytes | str, timeout: float = 5.0) -> bytes:
    """Read from a pyserial port until ``pattern`` (a regex, DOTALL) appears; AssertionError if not."""
    import re
    import time

    if isinstance(pattern, str):
        pattern = pattern.encode()
    regex = re.compile(pattern, re.DOTALL)
    deadline = time.monotonic() + timeout
    data = b""
    while time.monotonic() < deadline:
        data += port.read(max(1, port.in_waiting))
        if regex.search(data):
            return data
    raise AssertionError(f"{pattern!r} not seen in {timeout} s; got {data[-600:]!r}")


@pytest.fixture
def tmux(tmp_path):
    """A private tmux server driving espmon in a real terminal (``tests/tmux_support.py``)."""
    from tmux_support import Tmux

    t = Tmux(tmp_path)
    yield t
    t.kill()


@pytest.fixture(name="run_esptool")
def _run_esptool_fixture():
    return run_esptool
