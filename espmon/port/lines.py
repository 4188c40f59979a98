"""DTR/RTS and the DevKit auto-reset circuit: hard reset, reset into the ROM bootloader.

Reset sequences follow esp-idf-monitor / esptool (RTS drives EN, DTR drives GPIO0, both
active low through the two-transistor circuit). A bare pty or a socket has no modem lines:
the ioctl fails and :class:`LineControlError` says so; callers say it once and carry on.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # pragma: no cover
    import serial

__all__ = ["PIN_HIGH", "PIN_LOW", "LineControlError", "bootloader_reset", "hard_reset", "has_modem_lines",
           "set_lines"]

# pyserial URL handlers whose DTR/RTS setters accept a value and do nothing (no error to catch);
# loop:// keeps its line states (tests use it as a port with lines)
_SILENT_NO_LINES = ("serial.urlhandler.protocol_socket",)

PIN_LOW = True  # pyserial's "asserted" drives the pin low through the auto-reset circuit
PIN_HIGH = False


class LineControlError(Exception):
    """The port has no DTR/RTS lines (a pty, a socket): reset by lines is impossible."""


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


def has_modem_lines(port: "serial.Serial") -> bool:
    """Can DTR/RTS reach the board? Not over a socket (its setters are silent no-ops), nor on
    a pty (the ioctl fails). Sets both lines released, as ``open_port`` left them."""
    if type(port).__module__ in _SILENT_NO_LINES:
        return False
    try:
        set_lines(port, rts=PIN_HIGH, dtr=PIN_HIGH)
    except LineControlError:
        return False
    return True


def _sleep(seconds: float, sleep: Callable[[float], None]) -> None:
    if seconds > 0:
        sleep(seconds)


def hard_reset(port: "serial.Serial", hold: float = 0.1, sleep: Callable[[float], None] = time.sleep) -> None:
    """Pulse EN low (RTS) with GPIO0 high: the chip boots from flash."""
    set_lines(port, dtr=PIN_HIGH)
    set_lines(port, rts=PIN_LOW)
    _sleep(hold, sleep)
    set_lines(port, rts=PIN_HIGH)


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
        set_lines(port, rts=PIN_HIGH, dtr=PIN_HIGH)
        _sleep(0.1, sleep)
        set_lines(port, dtr=PIN_LOW, rts=PIN_HIGH)
        _sleep(0.1, sleep)
        set_lines(port, rts=PIN_LOW)
        set_lines(port, dtr=PIN_HIGH)
        set_lines(port, rts=PIN_LOW)
        _sleep(0.1, sleep)
        set_lines(port, dtr=PIN_HIGH, rts=PIN_HIGH)
        return
    set_lines(port, dtr=PIN_HIGH)
    set_lines(port, rts=PIN_LOW)  # EN low: in reset
    _sleep(hold, sleep)
    set_lines(port, dtr=PIN_LOW)  # GPIO0 low
    set_lines(port, rts=PIN_HIGH)  # EN high: the ROM samples GPIO0 low -> download mode
    _sleep(release, sleep)
    set_lines(port, dtr=PIN_HIGH)

