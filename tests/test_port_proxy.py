"""espmon.port.proxy: the port lent to esptool is never closed, and the tap sees every byte
and line change in order. The real esptool is the client in the last test."""

from __future__ import annotations

import serial

from espmon.port.proxy import PortProxy


class Tap:
    def __init__(self):
        self.events = []

    def data(self, direction, data, t):
        self.events.append((t, direction, data))

    def change(self, kind, value, t):
        self.events.append((t, kind, value))


def _clock():
    ticks = iter(range(1, 10_000))
    return lambda: next(ticks)


def test_close_and_exit_leave_the_port_open_and_are_reported():
    port = serial.serial_for_url("loop://", timeout=0.1)
    tap = Tap()
    with PortProxy(port, tap, clock=_clock()) as proxy:
        proxy.close()
        assert proxy.closed_by_client
        proxy.open()  # the port is alive: nothing is reopened
        assert not proxy.closed_by_client
    assert port.is_open
    assert [kind for _, kind, _ in tap.events] == ["close", "open", "close"]


def test_traffic_and_settings_reach_the_port_and_the_tap_in_order():
    port = serial.serial_for_url("loop://", timeout=0.1)
    tap = Tap()
    proxy = PortProxy(port, tap, clock=_clock())
    proxy.baudrate = 460800
    proxy.timeout = 3
    proxy.write_timeout = 10
    proxy.setDTR(False)
    proxy.rts = True
    assert proxy.write(b"\xc0abc\xc0") == 5
    assert proxy.read(5) == b"\xc0abc\xc0"
    assert (port.baudrate, port.timeout, port.write_timeout, port.dtr, port.rts) == (460800, 3, 10, False, True)
    assert proxy.in_waiting == 0 and proxy.is_open  # reads are forwarded too
    assert tap.events == [(1, "baud", 460800), (2, "dtr", False), (3, "rts", True),
                          (4, "tx", b"\xc0abc\xc0"), (5, "rx", b"\xc0abc\xc0")]


def test_no_tap_is_a_plain_forwarder():
    port = serial.serial_for_url("loop://", timeout=0.1)
    proxy = PortProxy(port)
    proxy.write(b"x")
    proxy.baudrate = 9600
    assert proxy.read(1) == b"x" and port.baudrate == 9600


def test_esptool_detects_the_chip_through_the_proxy_and_leaves_the_port_open(sim_port):
    from esptool.cmds import detect_chip

    port = sim_port("esp32", start="download")  # strapped into the ROM loader: no reset needed
    tap = Tap()
    esp = detect_chip(PortProxy(port, tap), 115200, "no-reset", connect_attempts=1)
    assert esp.CHIP_NAME == "ESP32"
    esp._port.close()  # what esptool's teardown does
    assert port.is_open
    sent = b"".join(d for _, kind, d in tap.events if kind == "tx")
    got = b"".join(d for _, kind, d in tap.events if kind == "rx")
    assert sent.startswith(b"\xc0\x00\x08\x24\x00")  # SYNC, as esptool writes it
    assert b"\xc0\x01\x08" in got  # the chip's SYNC reply
