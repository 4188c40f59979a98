"""What esptool prints on its console (without ``--trace``) -> typed events, a line at a time.

Pure: text lines in, events out; no I/O, never raises. Covers esptool 2.x-5.x wording
(``esptool.py v2.8`` ... ``esptool v5.6.0``, ``Chip is ESP32-D0WD`` / ``Chip type:``,
``write_flash`` / ``write-flash``), and the host tools that wrap it (PlatformIO, Arduino,
idf.py). Lines pasted into an issue keep their prompts, quoting and timestamps: ``unpaste``
takes those off first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "error_in",
    "EsptoolEvent", "EsptoolBanner", "EsptoolCommand", "SerialPort", "Connecting", "ChipName",
    "FlashWrite", "BaudChange", "HardReset", "EsptoolError", "EsptoolOutputParser", "unpaste",
    "ERROR_KINDS", "LINE_START",
]


@dataclass(frozen=True, slots=True)
class EsptoolEvent:
    line: int


@dataclass(frozen=True, slots=True)
class EsptoolBanner(EsptoolEvent):
    """``esptool.py v4.7.0`` / ``esptool v5.6.0``."""
    version: str


@dataclass(frozen=True, slots=True)
class EsptoolCommand(EsptoolEvent):
    """An esptool command line as the user typed it (or a build tool echoed it)."""
    chip: str | None
    flash_mode: str | None
    baud: int | None
    writes: tuple[tuple[int, str], ...]  # (offset, file) pairs of write_flash


@dataclass(frozen=True, slots=True)
class SerialPort(EsptoolEvent):
    """``Serial port /dev/ttyUSB0`` (``Serial port COM3:`` in 5.x)."""
    port: str


@dataclass(frozen=True, slots=True)
class Connecting(EsptoolEvent):
    """``Connecting........_____....`` (dots: a reset tried; underscores: waited)."""
    attempts: int


@dataclass(frozen=True, slots=True)
class ChipName(EsptoolEvent):
    """``Chip is ESP32-C3 (QFN32) (revision v0.3)``, ``Chip type: ESP32-S3``, ``Detecting chip type... ESP32``."""
    name: str


@dataclass(frozen=True, slots=True)
class FlashWrite(EsptoolEvent):
    """``Writing at 0x00010000... (10 %)`` (``percent``), or ``Wrote 1234 bytes ... at 0x00001000`` (``done``)."""
    address: int
    percent: int | None
    done: bool = False


@dataclass(frozen=True, slots=True)
class BaudChange(EsptoolEvent):
    """``Changing baud rate to 921600``."""
    baud: int


@dataclass(frozen=True, slots=True)
class HardReset(EsptoolEvent):
    """``Hard resetting via RTS pin...``: esptool finished and reset the chip into its app."""


@dataclass(frozen=True, slots=True)
class EsptoolError(EsptoolEvent):
    """An error esptool (or pySerial under it) printed; ``kind`` is one of ``ERROR_KINDS``;
    ``byte`` the value in ``Invalid head of packet (0x45)`` / ``Wrong boot mode detected (0x13)``."""
    kind: str
    text: str
    byte: int | None = None


# (kind, pattern) in the order they are tried: the most specific words first, since one
# line often holds several ("Failed to connect to ESP32: No serial data received.").
_ERRORS: tuple[tuple[str, re.Pattern[str]], ...] = tuple((k, re.compile(p, re.I)) for k, p in (
    ("wrong_boot_mode", r"Wrong boot mode detected \((0x[0-9a-f]+)\)"),
    ("no_sync_reply", r"getting no sync reply|serial TX path seems to be down"),
    ("no_serial_data", r"No serial data received"),
    ("invalid_head", r"Invalid head of packet \((?:b'\\x)?(?:0x)?([0-9a-f]{1,2})'?\)"),
    ("timeout_header", r"Timed out waiting for packet header"),
    ("usb_protocol", r"\[Errno 71\]|Protocol error|\[Errno 5\] Input/output error|device reports readiness to read "
                     r"but returned no data|Device not configured|\[Errno 6\]|ClearCommError failed|"
                     # Windows' ERROR_NO_SUCH_DEVICE: the USB device left (re-enumerating after a reset)
                     r"Error\(\d+, '[^']*', None, 433\)"),
    ("port_busy", r"\[Errno 16\]|Device or resource busy|port is busy|Resource temporarily unavailable|"
                  r"Access is denied|could not exclusively lock port|"
                  # Windows' ERROR_ACCESS_DENIED (5) only: PermissionError(13, ..., 31) is a driver's failure
                  r"PermissionError\(13, '[^']*', None, 5\)"),
    ("port_permission", r"\[Errno 13\]|Permission denied"),
    ("port_missing", r"\[Errno 2\] (?:No such file|could not open port)|No such file or directory|"
                     r"FileNotFoundError|The system cannot find the file specified|could not open port|"
                     r"Could not open \S+, the port|the port doesn'?t exist|does not exist"),
    ("serial_exception", r"A serial exception error occurred"),
    ("secure", r"Secure Boot (?:is )?(?:detected|enabled)|flash encryption (?:is )?enabled|"
               r"Secure Download Mode|ROM does not support function|download mode is disabled|"
               r"refus\w* to (?:write|flash)|writing to flash regions < 0x8000 is disabled|"
               r"Active security features|is write.protected|Use --force to override"),
    ("stopped", r"chip stopped responding|No more data to read from the serial port"),
    ("write_part_way", r"Packet content transfer stopped|Timed out waiting for packet content|"
                       r"MD5 of file does not match|"
                       r"does not match data in flash|Failed to write to target (?:RAM|Flash)|"
                       r"Unexpected end of file|Corrupt data|Invalid SLIP escape"),
    ("failed_to_connect", r"Failed to connect to (?:ESP|Espressif)|^Exception: Failed to connect$"),  # < 1.0
    ("fatal", r"A fatal error occurred: (.*)"),
))
ERROR_KINDS = tuple(kind for kind, _ in _ERRORS)

# lines that can hold an esptool error or fact: for a quick look at a block of text
LINE_START = re.compile(
    r"^(?:esptool(?:\.py)? v\d|Serial port |Connecting\.|Chip is |Chip type:|Detecting chip type|"
    r"Writing (?:'[^']*' )?at 0x|Wrote \d+ bytes|Changing baud|Hard resetting|A fatal error|A serial exception|"
    r"(?:\S*/)?esptool(?:\.py|\.exe)?\b.*(?:write[-_]flash|--chip|--port|-p )|Failed to connect|"
    r"ERROR: |Error: |serial\.serialutil|OSError|could not open port|Traceback|Warning: )", re.M)

_VERSION = re.compile(r"esptool(?:\.py)?(?: version)? v?(\d+\.\d+(?:\.\d+)?(?:[.-]?dev\d*)?)\b")
_PORT = re.compile(r"Serial port (\S+?):?$")
_CONNECTING = re.compile(r"Connecting([._]*)")
_CHIP = re.compile(r"(?:Chip is|Chip type:|Detecting chip type\.\.\.)\s*(ESP\d+(?:-[A-Z0-9]+)?)", re.I)
_WRITING = re.compile(r"Writing (?:'[^']*' )?at (0x[0-9a-fA-F]+)(?:\.\.\.|\s)*(?:\(\s*(\d+)\s*%\))?")
_WROTE = re.compile(r"Wrote \d+ bytes.*? at (0x[0-9a-fA-F]+)")
_BAUD = re.compile(r"Changing baud rate to (\d+)")
_COMMAND = re.compile(r"(?:^|[\s/\\])esptool(?:\.py|\.exe)?(?:\s|$)|-m esptool\b")
_ARG_CHIP = re.compile(r"(?:--chip|-c)[ =]+(\w+)")
_ARG_MODE = re.compile(r"(?:--flash[_-]mode|-fm)[ =]+(\w+)")
_ARG_BAUD = re.compile(r"(?:--baud|-b)[ =]+(\d+)")
_PAIR = re.compile(r"(0x[0-9a-fA-F]+)\s+(\S+\.bin)\b")

# what a paste adds before the text: a shell prompt, e-mail / markdown quoting, a terminal
# timestamp ("12:34:56.789 -> ", "[12:34:56]"), a CI log's ISO time, a list bullet
_PASTE = re.compile(
    r"^(?:\s*>)*\s*(?:(?:\$|#|PS [^>]*>|C:\\[^>]*>)\s+)?"
    r"(?:\[?\d{4}-\d\d-\d\d[T ][\d:.]+Z?\]?\s+)?(?:\[?\d\d:\d\d:\d\d(?:[.:]\d+)?\]?\s*(?:->|>)?\s*)?")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def unpaste(line: str) -> str:
    """``line`` without what pasting added: CR, colours, prompts, quoting, timestamps, indentation."""
    if "\x1b" in line:
        line = _ANSI.sub("", line)
    line = line.rstrip("\r\n ")
    m = _PASTE.match(line)
    return line[m.end():] if m else line.lstrip()


class EsptoolOutputParser:
    """Feed esptool's console output a line at a time; get ``EsptoolEvent``s back."""

    def __init__(self) -> None:
        self._n = 0

    def feed(self, line: str) -> list[EsptoolEvent]:
        n = self._n = self._n + 1
        try:
            return self.parse(unpaste(line), n)
        except Exception:  # a recogniser bug must not end the read of a long file
            return []

    def skip(self, count: int) -> None:
        """Count ``count`` lines that are not esptool's (their numbers stay right)."""
        self._n += count

    @staticmethod
    def parse(text: str, n: int) -> list[EsptoolEvent]:
        if not text:
            return []
        out: list[EsptoolEvent] = []
        if text.startswith(("esptool", "Serial port", "Connecting", "Chip", "Detecting", "Writing", "Wrote",
                            "Changing", "Hard reset")):
            m = _VERSION.match(text)
            if m and " " not in text[m.end():].strip():
                return [EsptoolBanner(n, m.group(1))]
            m = _PORT.match(text)
            if m:
                return [SerialPort(n, m.group(1))]
            m = _CONNECTING.match(text)
            if m:
                out.append(Connecting(n, text.count(".") + text.count("_")))
            m = _CHIP.search(text)
            if m:
                return [ChipName(n, m.group(1).upper())]
            m = _WRITING.match(text)
            if m:
                return [FlashWrite(n, int(m.group(1), 16), int(m.group(2)) if m.group(2) else None)]
            m = _WROTE.match(text)
            if m:
                return [FlashWrite(n, int(m.group(1), 16), 100, True)]
            m = _BAUD.match(text)
            if m:
                return [BaudChange(n, int(m.group(1)))]
            if text.startswith("Hard resetting"):
                return [HardReset(n)]
        if _COMMAND.search(text) and ("--" in text or "write" in text or "flash" in text):
            return out + [_command(text, n)]
        error = _error(text, n)
        if error is not None:
            out.append(error)
        return out


def error_in(text: str, n: int) -> EsptoolError | None:
    """The esptool error said in ``text`` (any line that holds one), or None."""
    return _error(text, n)


def _error(text: str, n: int) -> EsptoolError | None:
    for kind, pattern in _ERRORS:
        m = pattern.search(text)
        if m is None:
            continue
        byte = None
        if kind in ("wrong_boot_mode", "invalid_head"):
            byte = int(m.group(1), 16)
        return EsptoolError(n, kind, text.strip(), byte)
    return None


def _command(text: str, n: int) -> EsptoolCommand:
    chip = _ARG_CHIP.search(text)
    mode = _ARG_MODE.search(text)
    baud = _ARG_BAUD.search(text)
    writes = tuple((int(off, 16), name) for off, name in _PAIR.findall(text))
    return EsptoolCommand(n, chip.group(1).lower() if chip else None, mode.group(1).lower() if mode else None,
                          int(baud.group(1)) if baud else None, writes)
