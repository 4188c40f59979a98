"""The virtual board's RFC 2217 server outlives any one bad client: each trigger that once
killed it for good (a reset right after connect, a stray IAC SE, malformed and endless
subnegotiations, esptool while a monitor holds the board) ends that connection only, and
the real esptool works afterwards. The control channel is bounded too."""

from __future__ import annotations

import socket
import struct
import subprocess
import sys
import time

import pytest

from conftest import ROOT, esptool_env, read_until

IAC, SB, SE = b"\xff", b"\xfa", b"\xf0"
COM_PORT = b"\x2c"


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("rfc2217://").rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=5)


def _reset_at_once(url: str) -> None:
    sock = _connect(url)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
    sock.close()


def _sending(data: bytes):
    def attack(url: str) -> None:
        with _connect(url) as sock:
            sock.sendall(data)
            time.sleep(0.3)
    return attack


ATTACKS = {
    "reset-after-connect": _reset_at_once,
    "stray-iac-se": _sending(IAC + SE),
    "empty-subnegotiation": _sending(IAC + SB + IAC + SE),
    "short-baudrate": _sending(IAC + SB + COM_PORT + b"\x01\x00" + IAC + SE),
    "unknown-parity": _sending(IAC + SB + COM_PORT + b"\x03\x09" + IAC + SE),
    "unknown-stopsize": _sending(IAC + SB + COM_PORT + b"\x04\x07" + IAC + SE),
    "sub-in-sub-then-garbage": _sending(IAC + SB + IAC + SB + b"\x00" * 40 + IAC + b"\x01" + IAC + SE),
    "unterminated-subnegotiation": _sending(IAC + SB + COM_PORT + b"x" * 200_000),
}


@pytest.mark.parametrize("attack", ATTACKS, ids=list(ATTACKS))
def test_a_bad_client_ends_its_own_connection_only(sim_server, run_esptool, attack):
    board = sim_server("esp32", record=False)
    ATTACKS[attack](board.url)
    rc, out = run_esptool(board.url, "chip-id")
    assert rc == 0 and "Chip type:" in out, out
    assert board.proc.poll() is None
    assert "Traceback" not in board.log.read_text()


def test_an_endless_subnegotiation_is_cut_off_with_a_line_on_stderr(sim_server):
    board = sim_server("esp32", record=False)
    with _connect(board.url) as sock:
        sock.sendall(IAC + SB + COM_PORT)
        with pytest.raises(OSError):  # the server hangs up instead of buffering forever
            for _ in range(4096):
                sock.sendall(b"x" * 4096)
    deadline = time.monotonic() + 5
    while "subnegotiation longer than" not in board.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "subnegotiation longer than 4096 bytes" in board.log.read_text()


def test_esptool_is_told_busy_while_a_monitor_is_connected_and_works_after_it_left(sim_server, run_esptool):
    board = sim_server("esp32", record=False)
    monitor = subprocess.Popen([sys.executable, "-m", "espmon", "monitor", "--plain", "--no-reset", board.url],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               cwd=ROOT, env=esptool_env(fast=False))
    try:
        board.reset("flash")
        read_until(_FileReader(monitor.stdout), "rst:0x", timeout=15)
        rc, out = run_esptool(board.url, "chip-id", timeout=60)
        assert rc != 0 and "busy" in out, out
    finally:
        monitor.terminate()
        monitor.wait(10)
        monitor.stdout.close()
        monitor.stdin.close()
    for _ in range(2):
        rc, out = run_esptool(board.url, "chip-id")
        assert rc == 0 and "Chip type:" in out, out
    assert "refused: the board is busy" in board.log.read_text()


def test_stock_esptool_chip_id_after_the_attacks(sim_server, run_esptool):
    board = sim_server("esp32", record=False)
    for attack in ATTACKS.values():
        attack(board.url)
    rc, out = run_esptool(board.url, "chip-id", fast=False)
    assert rc == 0 and "Chip type:" in out, out


class _FileReader:
    """A pipe with the two calls read_until() makes of a port."""

    def __init__(self, stream):
        import os

        self._fd = stream.fileno()
        os.set_blocking(self._fd, False)

    in_waiting = 0

    def read(self, size: int) -> bytes:
        import os
        import select

        select.select([self._fd], [], [], 0.2)
        try:
            return os.read(self._fd, 65536)
        except BlockingIOError:
            return b""


def _threads(pid: int) -> int:
    import os

    return len(os.listdir(f"/proc/{pid}/task"))


def test_the_control_channel_bounds_its_connections_with_one_thread(sim_server):
    from espmon.sim.control import MAX_CLIENTS

    board = sim_server("esp32", record=False)
    before = _threads(board.proc.pid)
    socks = [socket.create_connection(board.control, timeout=5) for _ in range(200)]
    try:
        first = socks[0].makefile("rwb", buffering=0)
        first.write(b"status\n")
        assert b'"chip": "esp32"' in first.readline()  # served while 200 are connected
        refused = socks[-1].makefile("rb").readline()
        assert refused == f"error: too many control connections (at most {MAX_CLIENTS})\n".encode()
        assert _threads(board.proc.pid) <= before + 1
    finally:
        for sock in socks:
            sock.close()
    assert board.status()["chip"] == "esp32"  # room again once they left


def test_a_control_line_without_end_is_refused_not_buffered(sim_server):
    from espmon.sim.control import MAX_LINE

    board = sim_server("esp32", record=False)
    with socket.create_connection(board.control, timeout=5) as sock:
        stream = sock.makefile("rwb", buffering=0)
        try:
            for _ in range(1024):
                sock.sendall(b"x" * 4096)
        except OSError:
            pass  # hung up on us mid-stream: the point
        assert stream.readline() == f"error: line longer than {MAX_LINE} bytes\n".encode()
    assert board.status()["chip"] == "esp32"


def test_when_the_control_channel_is_full_the_idlest_connection_makes_room(sim_port, monkeypatch):
    from espmon.sim import control

    monkeypatch.setattr(control, "IDLE_EVICT", 0.0)  # every connection counts as idle long enough
    server = control.ControlServer(sim_port("esp32").board)
    server.serve_in_thread()
    try:
        socks = [socket.create_connection(server.address, timeout=5) for _ in range(control.MAX_CLIENTS)]
        first = socks[0].makefile("rwb", buffering=0)
        first.write(b"help\n")
        assert first.readline().startswith(b"commands:")  # served before the pile-up, so not the idlest
        newcomer = socket.create_connection(server.address, timeout=5)
        stream = newcomer.makefile("rwb", buffering=0)
        stream.write(b"status\n")
        assert b'"chip": "esp32"' in stream.readline()
        evicted = socks[1].makefile("rb").readline()
        assert evicted == b"error: closed after being idle, to make room for a new connection\n"
        assert server.clients == control.MAX_CLIENTS
        for sock in [*socks, newcomer]:
            sock.close()
    finally:
        server.stop()
