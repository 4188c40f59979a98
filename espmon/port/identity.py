"""Which port is the board: USB bridges by VID:PID, ESP-looking ports first, $ESPPORT, and
the identity (USB serial number) that finds a re-enumerated board again."""

from __future__ import annotations

import os
from dataclasses import dataclass

from espmon.errors import UserError

__all__ = ["BRIDGES", "PortCandidate", "PortIdentity", "find_candidates", "guess_port", "identify", "is_usb_jtag"]

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
    location: str | None = None  # the USB port it is plugged into (sysfs path)

    @property
    def known(self) -> bool:
        """Does anything tell this device from another at the same path?"""
        return self.vid is not None or self.serial_number is not None

    def describe(self) -> str:
        parts = [f"VID:PID {self.vid:04x}:{self.pid or 0:04x}"] if self.vid is not None else []
        if self.serial_number:
            parts.append(f"serial {self.serial_number}")
        if self.location:
            parts.append(f"at USB {self.location}")
        return ", ".join(parts) or "no USB identity"

    def differs(self, now: "PortIdentity") -> bool:
        """Is ``now`` (what is at the path now) another device than this one? Only when both
        are known: the serial numbers when both have one, else VID:PID and the USB location."""
        if not (self.known and now.known):
            return False
        if self.serial_number and now.serial_number:
            return self.serial_number != now.serial_number or (self.vid, self.pid) != (now.vid, now.pid)
        return (self.vid, self.pid) != (now.vid, now.pid) or bool(
            self.location and now.location and self.location != now.location)


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


def identify(url: str) -> PortIdentity:
    """Remember the USB identity of a local port (no-op for URLs and ptys)."""
    if "://" in url:
        return PortIdentity(url)
    try:
        from serial.tools import list_ports

        real = os.path.realpath(url)
        for info in list_ports.comports():
            if info.device in (url, real) and (info.serial_number or info.vid is not None):
                return PortIdentity(url, info.serial_number, info.vid, info.pid, getattr(info, "location", None))
    except Exception:  # noqa: BLE001 - identity is a nicety; never fail opening for it
        pass
    return PortIdentity(url)


def is_usb_jtag(url: str) -> bool:
    ident = identify(url)
    return (ident.vid, ident.pid) == (0x303A, 0x1001)
