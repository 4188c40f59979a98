"""Open a serial port by URL without resetting the chip, and open it again after it vanished.

Every pyserial URL works (``/dev/ttyUSB0``, ``COM3``, ``rfc2217://host:port``,
``socket://``, ``loop://``) plus ``sim://CHIP?...``, the in-process virtual board, whose
handler is registered only when such a URL is opened (so ``espmon --help`` never imports it).
``rfc2217://`` opens :class:`espmon.port.rfc2217.Rfc2217Serial`, pyserial's client with a
chunked receive path (stock pyserial, as esptool uses it on its own, is left alone).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from espmon.errors import UserError
from espmon.port.identity import PortIdentity, find_candidates, identify
from espmon.port.lines import PIN_HIGH, PIN_LOW, LineControlError, set_lines

if TYPE_CHECKING:  # pragma: no cover
    import serial

__all__ = ["DifferentDevice", "default_baud", "open_port", "reopen"]


class DifferentDevice(UserError):
    """Another device is at the port's path now (a reused /dev/ttyUSB0): not attached."""


MAX_BAUD = 2**31 - 1  # termios and RFC 2217 carry the baud rate in 32 bits


def check_baud(baud: int) -> int:
    """The baud rate, or a UserError for one no port can be set to."""
    if baud <= 0:
        raise UserError(f"--baud {baud}: a baud rate is a positive number (e.g. 115200)")
    if baud > MAX_BAUD:
        raise UserError(f"--baud {baud}: too high for a serial port (at most {MAX_BAUD})")
    return baud


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
            from espmon.port.rfc2217 import Rfc2217Serial

            port = Rfc2217Serial(None, baudrate=baud, timeout=timeout)
            port.port = url
        else:
            port = serial.serial_for_url(url, baudrate=baud, timeout=timeout, do_not_open=True)
        port.dtr = PIN_LOW
        port.rts = PIN_LOW
        port.open()
    except (serial.SerialException, OSError, ValueError) as exc:
        raise UserError(f"cannot open {url}: {exc}") from None
    try:
        set_lines(port, rts=PIN_HIGH, dtr=PIN_HIGH)
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
    if identity.known and os.path.exists(url):
        now = identify(url)
        if identity.differs(now):  # a path reused by another board: never mix two devices in one log
            raise DifferentDevice(f"another device is at {url} now ({now.describe()}; ours: {identity.describe()}): "
                                  "not attached, still waiting for ours")
    return open_port(url, baud, timeout=timeout)

