"""espmon's RFC 2217 client (espmon/port/rfc2217.py, opened by ``open_port`` for
``rfc2217://``) against real RFC 2217 servers: pyserial's PortManager in-test (around a
``loop://`` port that keeps the settings the client makes) and the virtual board's server
(``espmon sim``). Data integrity with IAC bytes, line and baud changes, purge, timeouts,
cancel_read, a server that drops the connection, the bounded receive buffer, esptool."""

from __future__ import annotations

import random
import socket
import threading

import pytest
import serial
from conftest import read_until
from monitor_support import wait_for
from serial.rfc2217 import PortManager

from espmon.port import rfc2217 as rfc2217_client
from espmon.port.lines import bootloader_reset, hard_reset, set_lines
from espmon.port.opening import open_port
from espmon.port.rfc2217 import Rfc2217Serial
from espmon.session import Session


class PortManagerServer:
    """pyserial's PortManager on a real socket, one client at a time. The 'device' is the
    test: ``send`` puts data on the wire (IAC doubled), ``send_raw`` exact wire bytes;
    what the client writes collects in ``received``; ``line`` is the serial port whose
    dtr/rts/baudrate the client sets; ``drop`` closes the client's connection."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"rfc2217://127.0.0.1:{self.listener.getsockname()[1]}"
        self.line = serial.serial_for_url("loop://", baudrate=9600)
        self.received = bytearray()
        self.clients = 0
        self.conn: socket.socket | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.conn = conn
            self.clients += 1
            manager = PortManager(self.line, self)
            try:
                while True:
                    data = conn.recv(4096)
                    if not data:
                        break
                    self.received += b"".join(manager.filter(data))
            except OSError:
                pass
            conn.close()

    def write(self, data: bytes) -> None:  # PortManager's connection
        with self._lock:
            self.conn.sendall(data)

    def send(self, data: bytes, piece: int | None = None) -> None:
        self.send_raw(data.replace(b"\xff", b"\xff\xff"), piece)

    def send_raw(self, wire: bytes, piece: int | None = None) -> None:
        """In pieces of ``piece`` bytes (TCP_NODELAY: each its own segment, mostly)."""
        step = piece or len(wire) or 1
        for start in range(0, len(wire), step):
            self.write(wire[start:start + step])

    def drop(self) -> None:
        conn = self.conn
        if conn is not None:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed

    def close(self) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.drop()
        self._thread.join(5)
        self.line.close()


@pytest.fixture
def server():
    s = PortManagerServer()
    yield s
    s.close()


@pytest.fixture
def port(server):
    p = open_port(server.url, 115200, timeout=1)
    yield p
    p.close()


def read_exactly(p, size: int, timeout: float = 10) -> bytes:
    data = bytearray()
    wait_for(lambda: data.extend(p.read(max(1, min(p.in_waiting, size - len(data))))) or len(data) >= size,
             timeout, interval=0)
    return bytes(data)


def test_open_port_uses_the_fast_client_and_opens_lines_released(server, port):
    assert isinstance(port, Rfc2217Serial)
    assert server.line.baudrate == 115200
    assert server.line.dtr is False and server.line.rts is False  # released after open (no EN pulse)
    assert serial.serial_for_url(server.url, do_not_open=True).__class__ is serial.rfc2217.Serial  # stock untouched


def test_every_byte_value_survives_any_cut(server, port):
    rng = random.Random(7)
    payload = bytes(range(256)) * 8 + b"\xff" * 300 + rng.randbytes(20000)
    server.send(payload, piece=1)  # a segment per wire byte: every IAC IAC pair cut in two
    server.send(payload, piece=777)
    assert read_exactly(port, 2 * len(payload)) == payload * 2
    port.write(payload)  # and the other way: IAC doubled by the client, undone by PortManager
    assert wait_for(lambda: len(server.received) >= len(payload), 10)
    assert bytes(server.received) == payload


def test_server_notifications_inside_the_data(server, port):
    """A NOTIFY_MODEMSTATE cut across segments, between data bytes that are IAC themselves."""
    wire = b"ab\xff\xff" + b"\xff\xfa\x2c\x6b\x30\xff\xf0" + b"\xff\xffcd"
    server.send_raw(wire, piece=1)
    assert read_exactly(port, 6) == b"ab\xff\xffcd"
    assert port.cts and port.dsr  # 0x30: CTS and DSR, from the notification


def test_lines_baud_purge_and_reset_reach_the_server(server, port):
    set_lines(port, dtr=True, rts=False)
    assert (server.line.dtr, server.line.rts) == (True, False)
    hard_reset(port, hold=0)
    assert (server.line.dtr, server.line.rts) == (False, False)
    port.baudrate = 921600
    assert server.line.baudrate == 921600
    port.timeout = 0.3  # no wire setting changed: nothing re-sent (esptool does this per command)
    port.baudrate = 115200
    assert server.line.baudrate == 115200
    server.send(b"stale")
    assert wait_for(lambda: port.in_waiting == 5)
    port.reset_input_buffer()
    assert port.in_waiting == 0
    with pytest.raises(NotImplementedError):  # esptool probes for this and sets it back
        port.write_timeout = 5
    port.write_timeout = None


def test_read_timeouts_and_cancel(server, port):
    server.send(b"abc")
    assert wait_for(lambda: port.in_waiting == 3)
    port.timeout = 0.05
    assert port.read(10) == b"abc"  # what came before the timeout
    assert port.read(10) == b""
    port.timeout = 0
    assert port.read(1) == b""
    port.timeout = None  # blocks until cancel_read
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(port.read(5)))
    reader.start()
    port.cancel_read()
    reader.join(5)
    assert got == [b""]
    server.send(b"0123456789")
    assert port.read(4) == b"0123" and port.read(6) == b"456789"


def test_connection_lost_then_session_reconnects(server):
    session = Session(server.url, 115200)
    got = bytearray()
    events: list[tuple[str, str]] = []
    session.on_data = lambda data, t: got.extend(data)
    session.on_event = lambda kind, text: events.append((kind, text))
    session.start()
    try:
        server.send(b"before\xff\r\n")
        assert wait_for(lambda: bytes(got) == b"before\xff\r\n")
        server.drop()
        assert wait_for(lambda: server.clients == 2 and session.link_state == "connected", 15), events
        server.send(b"after\r\n")
        assert wait_for(lambda: bytes(got) == b"before\xff\r\nafter\r\n"), bytes(got)
        assert [kind for kind, _ in events] == ["disconnected", "connected"]
        session.reset()
        assert wait_for(lambda: session.port.rts is False and server.line.rts is False, 5)
    finally:
        session.stop()


def test_a_reader_nobody_drains_stops_at_the_limit(server, port, monkeypatch):
    monkeypatch.setattr(rfc2217_client, "RX_LIMIT", 64 << 10)
    payload = random.Random(3).randbytes(600 << 10)
    sender = threading.Thread(target=server.send, args=(payload,), daemon=True)
    sender.start()
    assert wait_for(lambda: port.in_waiting >= 64 << 10)
    assert port.in_waiting < (64 << 10) + rfc2217_client.RECV_SIZE  # the rest stays in TCP's buffers
    set_lines(port, dtr=True)  # its ack is behind the data: the reader goes on for it
    assert server.line.dtr is True
    assert read_exactly(port, len(payload)) == payload
    sender.join(10)


def test_virtual_board_reset_and_baud_over_rfc2217(sim_server):
    board = sim_server("esp32", "--firmware", "demo")
    p = open_port(board.url, 115200, timeout=0.2)
    try:
        read_until(p, r"app: tick", timeout=20)
        hard_reset(p)
        read_until(p, r"rst:0x1 \(POWERON_RESET\).*hello from espmon-demo", timeout=20)
        # another baud on the host end: the board's 115200 output arrives as junk
        p.baudrate = 460800
        p.reset_input_buffer()
        junk = read_until(p, rb"[\x80-\xff]{12}", timeout=20)
        assert b"tick" not in junk
        p.baudrate = 115200
        p.reset_input_buffer()
        read_until(p, r"app: tick", timeout=20)
        bootloader_reset(p)
        read_until(p, r"waiting for download", timeout=20)
        assert board.status()["state"] == "download"
    finally:
        p.close()
    modes = [r["mode"] for r in board.records() if r.get("event") == "reset"]
    assert modes[-2:] == ["flash", "download"]


def test_esptool_api_on_the_fast_port(sim_server):
    """esptool drives the port espmon opened (what flashing on the monitor's port does)."""
    import esptool

    board = sim_server("esp32")
    p = open_port(board.url, 115200)
    try:
        esp = esptool.detect_chip(p)
        assert esp.CHIP_NAME == "ESP32"
        assert esp.read_reg(esp.CHIP_DETECT_MAGIC_REG_ADDR) == 0x00F01D83
    finally:
        p.close()
