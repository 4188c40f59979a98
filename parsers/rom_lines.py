"""The first-stage (ROM) bootloader's lines: banner, reset reason, segments, its errors.

Pure functions of one cleaned line. Reset lines are decoded by number with the chip's own
table (``parsers.chips``) and keep the name the ROM printed, which differs by family.
"""

from __future__ import annotations

import re

from parsers.chips import CHIPS, Chip, find_chip
from parsers.device_events import (
    ChecksumError, DeviceEvent, Esp8266Reset, FlashReadError, InvalidHeader, ResetInfo, RomBanner, RomBuild,
    RomEntry, RomFlashMode, RomHalt, RomHashMismatch, RomLoad, SavedPC, WaitingForDownload,
)

__all__ = ["rom_line", "ets_banner", "rom_banner", "reset_line", "chip_from_build"]

_HEX = r"0x([0-9a-fA-F]{1,8})"
# ets Jun  8 2016 00:22:57          ets Jan  8 2013,rst cause:2, boot mode:(3,6)
_ETS = re.compile(r"ets\s+(\w{3}\s+\d{1,2}\s+\d{4}(?:\s+\d\d:\d\d:\d\d)?)"
                  r"(?:\s*,\s*rst cause:\s*(\d+)(?:\s*,\s*boot mode:\s*\((\d+)\s*,\s*(\d+)\))?)?")
_RST_CAUSE = re.compile(r"rst cause:\s*(\d+)(?:\s*,\s*boot mode:\s*\((\d+)\s*,\s*(\d+)\))?")
# rst:0x1 (POWERON_RESET),boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))   (also cut, or **bold**)
_RST = re.compile(r"rst:\s*0x([0-9a-fA-F]+)\s*(?:\(([^)]*)\)?)?[\s,*]*"
                  r"(?:boot:\s*0x([0-9a-fA-F]+)[\s*]*(?:\(((?:[^()]|\([^()]*\)?)*)\)?)?)?")
# ESP-ROM:esp32c3-api1-20210207    (the E is often lost to reset garbage)
_ROM_ID = re.compile(r"SP-ROM:\s*(\S+)")
# Saved PC:0x40381006        Core0 Saved PC:0x4fc05348 (ESP32-P4)
_SAVED_PC = re.compile(r"(?:Core(\d)\s*)?Saved PC:\s*" + _HEX)
# mode:DIO, clock div:1      SPI mode:DIO, clock div:1 (ESP32-P4)
_MODE = re.compile(r"(?:SPI )?mode:\s*(\w+)(?:\s*,\s*clock div:\s*(\d+))?")
# load:0x3fff0030,len:1184 (ESP32, decimal)   load:0x3fcd5820,len:0xf28   load 0x4010f000, len 3424, room 16
_LOAD = re.compile(r"load[: ]\s*" + _HEX + r"\s*,\s*len[: ]\s*(0x[0-9a-fA-F]+|-?\d+)")
_ENTRY = re.compile(r"entry\s+" + _HEX)
_INVALID_HEADER = re.compile(r"invalid header:\s*" + _HEX)
_FLASH_READ = re.compile(r"flash read err,?\s*([0-9a-fA-F]+)?")
_CSUM = re.compile(r"csum err:?\s*(?:0x([0-9a-fA-F]+)\s*!=\s*0x([0-9a-fA-F]+))?")
# ets_main.c 371      ets_loader.c 78
_HALT = re.compile(r"(ets_\w+\.c)\s+(\d+)")


def rom_line(text: str, n: int) -> list[DeviceEvent] | None:
    """The one-line ROM messages, by their first word; None when ``text`` is none of them."""
    if text.startswith("Build:"):
        return [RomBuild(n, text[6:].strip())]
    if text.startswith(("Saved PC", "Core")):
        m = _SAVED_PC.match(text)
        return [SavedPC(n, int(m[2], 16), int(m[1]) if m[1] else None)] if m else None
    if text.startswith(("mode:", "SPI mode:")):
        m = _MODE.match(text)
        return [RomFlashMode(n, m[1], int(m[2]) if m[2] else None)] if m else None
    if text.startswith("load"):
        m = _LOAD.match(text)
        if m is None:
            return None
        length = int(m[2], 16) if m[2].startswith("0x") else int(m[2])
        return [RomLoad(n, int(m[1], 16), length)]
    if text.startswith("entry"):
        m = _ENTRY.match(text)
        return [RomEntry(n, int(m[1], 16))] if m else None
    if text.startswith("invalid header"):
        m = _INVALID_HEADER.match(text)
        return [InvalidHeader(n, int(m[1], 16))] if m else None
    if text.startswith("flash read err"):
        m = _FLASH_READ.match(text)
        return [FlashReadError(n, int(m[1], 16) if m and m[1] else None)]
    if text.startswith("csum err"):
        m = _CSUM.match(text)
        return [ChecksumError(n, *(int(g, 16) if g else None for g in (m[1], m[2])))]
    if text.startswith("waiting for"):
        return [WaitingForDownload(n, text.strip())]
    if text.startswith("SHA-256 comparison failed"):
        return [RomHashMismatch(n)]
    if text.startswith("ets_"):
        m = _HALT.match(text)
        return [RomHalt(n, m[1], int(m[2]))] if m else None
    return None


def chip_from_build(build: str) -> Chip | None:
    """``Build:Oct 25 2019`` names the ESP32-S2 when its ``ESP-ROM:`` line was lost."""
    words = build.split()
    return next((c for c in CHIPS.values() if c.rom_build and c.rom_build.split() == words), None)


def ets_banner(text: str, n: int) -> tuple[list[DeviceEvent], Chip] | None:
    """The ESP32 ``ets <date> <time>`` banner, or the ESP8266 one with its reset cause."""
    m = _ETS.match(text)
    if m is None:
        return None
    chip = CHIPS["esp8266" if m[2] is not None or m[1].endswith("2013") else "esp32"]
    events: list[DeviceEvent] = [RomBanner(n, chip.name, m[1])]
    if m[2] is not None:
        events.append(_esp8266_reset(int(m[2]), m[3], m[4], n))
    return events, chip


def rom_banner(text: str, n: int) -> tuple[RomBanner, Chip | None] | None:
    m = _ROM_ID.search(text)
    if m is None:
        return None
    chip = find_chip(m[1])
    return RomBanner(n, chip.name if chip else None, m[1]), chip


def _esp8266_reset(cause: int, x: str | None, y: str | None, n: int) -> Esp8266Reset:
    mode = (int(x), int(y)) if x is not None and y is not None else None
    entry = CHIPS["esp8266"].reset_reasons.get(cause)
    return Esp8266Reset(n, cause, mode, entry[0] if entry else None)


def reset_line(text: str, n: int, chip: Chip | None) -> tuple[DeviceEvent, Chip | None] | None:
    """``rst:0x…,boot:0x…`` (or ESP8266 ``rst cause:…``) and the chip it shows, if any."""
    if text.startswith("rst cause"):
        m = _RST_CAUSE.match(text)
        if m is None:
            return None
        return _esp8266_reset(int(m[1]), m[2], m[3], n), chip or CHIPS["esp8266"]
    m = _RST.match(text)
    if m is None:
        return None
    code, printed = int(m[1], 16), (m[2] or "").strip() or None
    chip = chip or _chip_from_reset_name(code, printed)
    known = chip.reset_reason(code) if chip else None
    boot = int(m[3], 16) if m[3] else None
    boot_text = m[4].strip() if m[4] else None
    if boot_text:
        download = "DOWNLOAD" in boot_text.upper()
    else:
        download = boot is not None and chip is not None and chip.is_download_strap(boot)
    name = printed or (known[0] if known else None)
    return ResetInfo(n, code, name, boot, boot_text, download, chip.name if chip else None), chip


def _chip_from_reset_name(code: int, name: str | None) -> Chip | None:
    """Only ESP32 names are unique to one chip (S2/S3/C3 and C6/H2/P4 share their tables)."""
    if name:
        known = CHIPS["esp32"].reset_reason(code)
        if known and known[0] == name:
            return CHIPS["esp32"]
    return None
