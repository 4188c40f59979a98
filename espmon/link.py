"""Serial links: open a port by URL, find ESP ports, reset the chip, wait for a port to return.

Every pyserial URL works (``/dev/ttyUSB0``, ``COM3``, ``rfc2217://host:port``,
``socket://``, ``loop://``) plus ``sim://CHIP?...``, the in-process virtual board, whose
handler is registered only when such a URL is opened (so ``espmon --help`` never imports it).
``rfc2217://`` opens :class:`espmon.rfc2217_client.Rfc2217Serial`, pyserial's client with a
chunked receive path (stock pyserial, as esptool uses it on its own, is left alone).

Reset sequences follow esp-idf-monitor / esptool (DevKit auto-reset circuit: RTS drives EN,
DTR drives GPIO0, both active low through the two-transistor circuit). A bare pty or a
socket has no modem lines: the ioctl fails, we say so once and carry on.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from espmon.errors import UserError

if TYPE_CHECKING:  # pragma: no cover
    import serial

__all__ = [
    "BRIDGES",
    "PortCandidate",
    "PortIdentity",
    "LineControlError",
    "bootloader_reset",
    "default_baud",
    "find_candidates",
    "guess_port",
    "hard_reset",
    "identify",
    "is_usb_jtag",
    "open_port",
    "reopen",
    "set_lines",
]

# USB bridges seen on ESP boards: (vid, pid) -> description. PID None matches any PID of the vendor.
BRIDGES: dict[tuple[int, int | None], str] = {
    (0x303A, 0x1001): "Espressif USB-Serial/JTAG (ESP32-C3/C5/C6/H2/P4/S3 built-in USB)",
    (0x303A, 0x0002): "Espressif USB-OTG CDC (ESP32-S2/S3 ROM download mode)",
    (0x303A, None): "Espressif USB device (TinyUSB CDC firmware)",
    (0x10C4, 0xEA60): "Silicon Labs CP210x USB-UART",
    (0x10C4, 0xEA70): "Silicon Labs CP2105 dual USB-UART",
    (0x1A86, 0x7523): "WCH CH340/CH341 USB-UART",
    (0x1A86, 0x55D4): "WCH CH9102/CH343 USB-UART",
    (0x1A86, 0x55D3): "WCH CH343 USB-UART",
    (0x1A86, None): "WCH USB-UART",
    (0x0403, 0x6001): "FTDI FT232R USB-UART",
    (0x0403, 0x6010): "FTDI FT2232 dual USB-UART (ESP-Prog, ESP-WROVER-KIT)",
    (0x0403, 0x6014): "FTDI FT232H USB-UART",
    (0x0403, 0x6015): "FTDI FT231X USB-UART",
    (0x0403, None): "FTDI USB-UART",
}
_PRIORITY = {0x303A: 0, 0x10C4: 1, 0x1A86: 1, 0x0403: 2}
_PIN_LOW = True  # pyserial's "asserted" drives the pin low through the auto-reset circuit
_PIN_HIGH = False


class LineControlError(Exception):
    """The port has no DTR/RTS lines (a pty, a socket): reset by lines is impossible."""


@dataclass(frozen=True)
class PortCandidate:
    device: str
    description: str
    bridge: str | None
    vid: int | None
    pid: int | None
    serial_number: str | None
    location: str | None

    @property
    def guess(self) -> str:
        return self.bridge or "unknown bridge"


@dataclass(frozen=True)
class PortIdentity:
    """What lets us find a USB port again after re-enumeration (its path may change)."""

    url: str
    serial_number: str | None = None
    vid: int | None = None
    pid: int | None = None


def _bridge(vid: int | None, pid: int | None) -> str | None:
    if vid is None:
        return None
    return BRIDGES.get((vid, pid)) or BRIDGES.get((vid, None))


def find_candidates(all_ports: bool = False) -> list[PortCandidate]:
    """Serial ports, ESP-looking ones first (Espressif, then CP210x/CH34x, then FTDI)."""
    from serial.tools import list_ports

    found = []
    for info in list_ports.comports():
        bridge = _bridge(info.vid, info.pid)
        if bridge is None and not all_ports:
            continue
        found.append(
            PortCandidate(
                device=info.device,
                description=info.description or "",
                bridge=bridge,
                vid=info.vid,
                pid=info.pid,
                serial_number=info.serial_number,
                location=info.location,
            )
        )
    found.sort(key=lambda c: (_PRIORITY.get(c.vid or -1, 9), c.device))
    return found


def guess_port() -> str:
    """The port to use when none is given: $ESPPORT, else the first ESP-looking USB port."""
    env = os.environ.get("ESPPORT")
    if env:
        return env
    candidates = find_candidates()
    if not candidates:
        raise UserError(
            "no serial port given and no ESP board found (looked for Espressif 303a, CP210x, "
            "CH34x and FTDI USB bridges); pass PORT or set ESPPORT; `espmon ports --all` lists every port"
        )
    return candidates[0].device


def default_baud(fallback: int = 115200) -> int:
    """$ESPBAUD when set (ESP-IDF habit), else the fallback."""
    env = os.environ.get("ESPBAUD") or os.environ.get("MONITORBAUD")
    if env:
        try:
            return int(env)
        except ValueError:
            raise UserError(f"ESPBAUD={env!r} is not a number of bits per second") from None
    return fallback


def open_port(url: str, baud: int = 115200, *, timeout: float | None = 0.05) -> "serial.Serial":
    """Open URL without pulsing EN: both lines asserted while opening, then released RTS first.

    That is esp-idf-monitor's order: with both lines equal the auto-reset transistors do
    nothing, and releasing RTS before DTR never holds EN low.
    """
    import serial

    if url.startswith("sim://"):
        from espmon import sim

        sim.register()
    try:
        if url[:10].lower() == "rfc2217://":
            # pyserial's own client queues received data byte by byte (~0.3 MB/s)
            from espmon.rfc2217_client import Rfc2217Serial

            port = Rfc2217Serial(None, baudrate=baud, timeout=timeout)
            port.port = url
        else:
            port = serial.serial_for_url(url, baudrate=baud, timeout=timeout, do_not_open=True)
        port.dtr = _PIN_LOW
        port.rts = _PIN_LOW
        port.open()
    except (serial.SerialException, OSError, ValueError) as exc:
        raise UserError(f"cannot open {url}: {exc}") from None
    try:
        set_lines(port, rts=_PIN_HIGH, dtr=_PIN_HIGH)
    except LineControlError:
        pass  # a pty or socket: nothing to release
    return port


def reopen(identity: PortIdentity, baud: int, timeout: float | None = 0.05) -> "serial.Serial":
    """Open the port again after it vanished: the same URL, or the device that now carries
    the same USB serial number (a re-enumerated board may come back under another name).
    Raises serial.SerialException / OSError / UserError while it is not back yet."""
    url = identity.url
    if identity.serial_number:
        for cand in find_candidates(all_ports=True):
            if cand.serial_number == identity.serial_number and (cand.vid, cand.pid) == (identity.vid, identity.pid):
                url = cand.device
                break
    return open_port(url, baud, timeout=timeout)


def identify(url: str) -> PortIdentity:
    """Remember the USB identity of a local port (no-op for URLs and ptys)."""
    if "://" in url:
        return PortIdentity(url)
    try:
        from serial.tools import list_ports

        real = os.path.realpath(url)
        for info in list_ports.comports():
            if info.device in (url, real) and info.serial_number:
                return PortIdentity(url, info.serial_number, info.vid, info.pid)
    except Exception:  # noqa: BLE001 - identity is a nicety; never fail opening for it
        pass
    return PortIdentity(url)


def set_lines(port: "serial.Serial", *, dtr: bool | None = None, rts: bool | None = None) -> None:
    """Set DTR and/or RTS; LineControlError when the port has no modem lines."""
    try:
        if rts is not None:
            port.rts = rts
            # Windows usbser.sys only sends SET_CONTROL_LINE_STATE on a DTR write (esptool does this too).
            port.dtr = port.dtr
        if dtr is not None:
            port.dtr = dtr
    except (OSError, ValueError) as exc:
        raise LineControlError(str(exc)) from None
    except Exception as exc:  # serial.SerialException without importing serial here
        if type(exc).__name__ in ("SerialException", "PortNotOpenError"):
            raise LineControlError(str(exc)) from None
        raise


def _sleep(seconds: float, sleep: Callable[[float], None]) -> None:
    if seconds > 0:
        sleep(seconds)


def hard_reset(port: "serial.Serial", hold: float = 0.1, sleep: Callable[[float], None] = time.sleep) -> None:
    """Pulse EN low (RTS) with GPIO0 high: the chip boots from flash."""
    set_lines(port, dtr=_PIN_HIGH)
    set_lines(port, rts=_PIN_LOW)
    _sleep(hold, sleep)
    set_lines(port, rts=_PIN_HIGH)


def bootloader_reset(
    port: "serial.Serial",
    *,
    usb_jtag: bool = False,
    hold: float = 0.1,
    release: float = 0.05,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Reset into the ROM download mode (esptool's ClassicReset / USBJTAGSerialReset)."""
    if usb_jtag:
        set_lines(port, rts=_PIN_HIGH, dtr=_PIN_HIGH)
        _sleep(0.1, sleep)
        set_lines(port, dtr=_PIN_LOW, rts=_PIN_HIGH)
        _sleep(0.1, sleep)
        set_lines(port, rts=_PIN_LOW)
        set_lines(port, dtr=_PIN_HIGH)
        set_lines(port, rts=_PIN_LOW)
        _sleep(0.1, sleep)
        set_lines(port, dtr=_PIN_HIGH, rts=_PIN_HIGH)
        return
    set_lines(port, dtr=_PIN_HIGH)
    set_lines(port, rts=_PIN_LOW)  # EN low: in reset
    _sleep(hold, sleep)
    set_lines(port, dtr=_PIN_LOW)  # GPIO0 low
    set_lines(port, rts=_PIN_HIGH)  # EN high: the ROM samples GPIO0 low -> download mode
    _sleep(release, sleep)
    set_lines(port, dtr=_PIN_HIGH)


def is_usb_jtag(url: str) -> bool:
    ident = identify(url)
    return (ident.vid, ident.pid) == (0x303A, 0x1001)
