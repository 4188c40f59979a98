"""What an Espressif chip prints on its console -> typed events, one line at a time.

Pure: text lines in, ``parsers.device_events`` out; no I/O, no clock, never raises.
Tolerant of what real captures do (research note esp-console-messages.md section 8):
ANSI colours (or their remains once ESC is lost), CR/LF debris, garbage after a reset,
timestamps that terminal programs prepend, lines glued together, collapsed whitespace.

Fast on the common case: an ordinary log line costs one anchored regex and one event;
ROM and panic lines are found by their first character before any regex runs. Faster
still in blocks (``feed_text``/``iter_text``, what the monitor uses): a scan of the whole
block (``parsers/device_scan.py``) picks the few lines that can be more than an ordinary
log line, and only those are parsed; the others are counted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from parsers.chips import CHIPS, Chip, find_chip
from parsers.device_scan import LineScan
from parsers.device_text import clean_line
from parsers import device_events
from parsers.device_events import (  # noqa: F401  (every event is re-exported: this module is the API)
    Abort, AppLoaded, AssertFailed, Backtrace, BootLoop, BootloaderError, BootloaderStart, Brownout,
    ChecksumError, CoreDump, CpuHalted, DeviceEvent, ElfSha256, Esp8266Exception, Esp8266Reset,
    FlashReadError, GuruMeditation, HeapCorruption, InvalidHeader, LogLine, Panic, Rebooting, ResetInfo,
    RomBanner, RomBuild, RomEntry, RomFlashMode, RomHalt, RomHashMismatch, RomLoad, SavedPC, SoftWatchdog,
    StackOverflow, StackSmashing, TaskWatchdog, WaitingForDownload,
)
from parsers.rom_lines import chip_from_build, ets_banner, reset_line, rom_banner, rom_line
from parsers.panic import IdfPanic, PostMortem, TaskWatchdogList, match_fatal, match_post_mortem, parse_backtrace

__all__ = ["DeviceLogParser", "clean_line", *device_events.__all__]

_HEX = r"0x([0-9a-fA-F]{1,8})"

# ESC[0;32mI (29) boot: ESP-IDF v4.4 2nd stage bootloaderESC[0m   (colours removed first)
# I (12:34:56.789) tag: message      (CONFIG_LOG_TIMESTAMP_SOURCE_SYSTEM)
# I (588) wifi:wifi firmware version: 3ce09e5   (the wifi blob puts no space after the colon)
_IDF = re.compile(r"([EWIDV]) \(([0-9:.]+)\) ([^:]*): ?(.*)")
# [    25][I][main.cpp:38] setup(): message     (Arduino-ESP32 2.x; 1.0.x has no time field)
_ARDUINO = re.compile(r"(?:\[\s*(\d+)\])?\[([EWIDV])\]\[([^\]]+)\]\s?(.*)")
# [D][sensor:093]: message                       (ESPHome, after its [HH:MM:SS] prefix)
_ESPHOME = re.compile(r"\[([EWIDV])\]\[([^\]]+)\]:\s?(.*)")

# The common case in one anchored match: colour, log line, colour reset, CR (nothing else odd).
# (only the prefix is matched: sre walks a character class at ~8 ns a character, and the
# message is most of the line; its end is trimmed with endswith)
_FAST_IDF = re.compile(r"(?:\x1b\[[0-9;]*m)?([EWIDV]) \(([0-9:.]+)\) ([^:\x1b\r]*): ?")
_REBOOT_DELAY = re.compile(r"Rebooting in (\d+)")
_SHA = re.compile(r"ELF file SHA256:\s*([0-9a-fA-F]+)")
_OFFSET = re.compile(r"(?:at|offset) " + _HEX)

# Markers that may follow unfinished text on the same line ("phy_init: phGuru Meditation...").
_GLUE = ("Guru Meditation", "SP-ROM:", "***ERROR", "ets J", "rst:0x", "Task watchdog got", "abort() was called",
         "Brownout detector", "A stack overflow in task", "[0;3", "Fatal exception")
# the same search on other lines, in one pass (twice as fast as a find per marker); a glued
# "***ERROR***" is found by its "A stack overflow", a glued reset line by its banner
_GLUE_RX = re.compile("|".join(re.escape(g) for g in _GLUE if g not in ("***ERROR", "rst:0x")))
_IDF_TAIL = re.compile(r"[EWIDV] \([0-9:.]+\) [^:\s]*: ?$")

_LOG_FIELDS = tuple(getattr(LogLine, name).__set__ for name in ("line", "level", "timestamp", "tag", "message", "framework"))


def _log_event(n: int, level: str, ts: str, tag: str, msg: str, fw: str) -> LogLine:
    """``LogLine(...)`` at half the cost: a frozen dataclass's __init__ goes through
    object.__setattr__ per field, this sets the slots directly (the hot path of the monitor)."""
    event = _new(LogLine)
    s_line, s_level, s_ts, s_tag, s_msg, s_fw = _LOG_FIELDS
    s_line(event, n)
    s_level(event, level)
    s_ts(event, ts)
    s_tag(event, tag)
    s_msg(event, msg)
    s_fw(event, fw)
    return event


_new = object.__new__


def _glue_start(text: str, i: int, marker: str) -> int:
    """Where the glued message really starts: its lost-and-found first letters included."""
    if marker == "SP-ROM:" and text[i - 1:i] == "E":
        return i - 1
    if marker == "Task watchdog got":
        m = _IDF_TAIL.search(text, max(0, i - 40), i)
        if m:
            return m.start()
    return i


_Handler = Callable[["DeviceLogParser", str, int], "list[DeviceEvent] | None"]


class DeviceLogParser:
    """Feed device output one line at a time (without its newline); get events back."""

    def __init__(self, chip: str | None = None) -> None:
        self.chip: Chip | None = find_chip(chip) if chip else None
        self._n = 0
        self._panic: IdfPanic | PostMortem | None = None
        self._twdt: TaskWatchdogList | None = None

    def feed(self, line: str) -> list[DeviceEvent]:
        n = self._n = self._n + 1
        try:
            if self._panic is None and self._twdt is None:
                m = _FAST_IDF.match(line)
                if m is not None:
                    msg = line[m.end():]
                    if msg[-1:] == "\r":
                        msg = msg[:-1]
                    if msg[-4:] == "\x1b[0m":
                        msg = msg[:-4]
                    if "\x1b" not in msg and "\r" not in msg and msg[-1:] != "␊":
                        level, ts, tag = m.groups()
                        if ("Guru M" in msg or "SP-ROM" in msg or "***ERR" in msg or "ets J" in msg
                                or tag in _BY_TAG or tag[:5] == "boot."):
                            return self._log_line(level, ts, tag, msg, n, "esp-idf", True)
                        # the hot path, inlined: an ordinary log line (see _log_event)
                        event = _new(LogLine)
                        s_line, s_level, s_ts, s_tag, s_msg, s_fw = _LOG_FIELDS
                        s_line(event, n)
                        s_level(event, level)
                        s_ts(event, ts)
                        s_tag(event, tag)
                        s_msg(event, msg)
                        s_fw(event, "esp-idf")
                        return [event]
            return self._feed(clean_line(line), n)
        except Exception:  # a recogniser bug must never take the monitor down: drop the state
            self._panic = self._twdt = None
            return []

    def feed_text(self, text: str) -> list[tuple[int, int, list[DeviceEvent]]]:
        """A block of lines at once (``"\\n"``-separated; a final newline ends the last line).

        Returns ``(start, end, events)`` for each line, in order, whose events are more than
        ordinary ``LogLine``s (``text[start:end]`` is the line): exactly what ``feed`` on each
        line would return for it. The other lines are only counted: while the parser is idle,
        one scan of the whole block (``device_scan``) finds the few that need a closer look.
        """
        return list(self.iter_text(text))

    def iter_text(self, text: str) -> Iterator[tuple[int, int, list[DeviceEvent]]]:
        """``feed_text`` one line at a time: when a line is yielded, the parser's state (its
        ``chip``) is the one right after that line, as with ``feed``. Consume it whole."""
        size = len(text)
        pos = 0
        starts: list[int] | None = None
        k = 0
        feed, count, find = self.feed, text.count, text.find
        while pos < size:
            if self._panic is None and self._twdt is None:
                if starts is None:
                    starts, k = _SCAN.line_starts(text, pos), 0
                while k < len(starts) and starts[k] < pos:
                    k += 1
                if k == len(starts):  # nothing else to look at: count the remaining lines
                    self._n += count("\n", pos) + (text[-1] != "\n")
                    break
                nxt = starts[k]
                self._n += count("\n", pos, nxt)
                pos = nxt
            end = find("\n", pos)
            if end < 0:
                end = size
            events = feed(text[pos:end])
            for event in events:
                if type(event) is not LogLine:
                    yield pos, end, events
                    break
            pos = end + 1

    def feed_lines(self, lines: list[str]) -> list[tuple[int, list[DeviceEvent]]]:
        """``feed_text`` for a list of lines: ``(index in lines, events)``."""
        if not lines:
            return []
        text = "\n".join(lines)
        if text == "" or text[-1] == "\n":  # an empty last line is still a line
            text += "\n"
        result, index, last = [], 0, 0
        for start, _end, events in self.feed_text(text):
            index += text.count("\n", last, start)
            last = start
            result.append((index, events))
        return result

    def end(self) -> list[DeviceEvent]:
        """At EOF: report an unfinished panic or task-watchdog list."""
        out: list[DeviceEvent] = []
        try:
            self._close(out)
        except Exception:
            self._panic = self._twdt = None
        return out

    # --- dispatch -----------------------------------------------------------------

    def _feed(self, text: str, n: int) -> list[DeviceEvent]:
        out: list[DeviceEvent] = []
        if self._panic is not None:
            consumed, events = self._panic.take(text, n)
            if consumed:
                if getattr(self._panic, "complete", False):
                    self._close_panic(events)
                return events
            self._close_panic(out)
        if self._twdt is not None:
            m = _IDF.match(text)
            state = self._twdt.take(m[4] if m else text)
            if state != "more":
                report, self._twdt = self._twdt.finish(), None
                if state == "no":
                    out.append(report)
                else:  # "Aborting.": report after that line's own LogLine
                    return out + self._classify(text, n, True) + [report]
        if out:
            return out + self._classify(text, n, True)
        return self._classify(text, n, True)

    # In blocks (iter_text) a line reaches _classify only if device_scan picked it: what
    # makes a line more than a LogLine must be one of _BY_FIRST's prefixes, _BY_TAG's tags
    # or a _GLUE marker (the scan is built from those three).
    def _classify(self, text: str, n: int, glue: bool) -> list[DeviceEvent]:
        c = text[:1]
        if c in "EWIDV" and text[1:3] == " (":
            m = _IDF.match(text)
            if m:
                return self._log_line(m[1], m[2], m[3], m[4], n, "esp-idf", glue)
        handlers = _BY_FIRST.get(c)
        if handlers is not None:
            for prefix, handler in handlers:
                if text.startswith(prefix):
                    events = handler(self, text, n)
                    if events is not None:
                        return events
        if glue:
            m = _GLUE_RX.search(text, 1)
            if m is not None:
                return self._unglue(text, m.start(), m[0], n)
        return []

    def _unglue(self, text: str, i: int, marker: str, n: int) -> list[DeviceEvent]:
        i = _glue_start(text, i, marker)
        head = text[:i].rstrip()
        return (self._classify(head, n, False) if head else []) + self._classify(clean_line(text[i:]), n, True)

    def _log_line(self, level: str, ts: str, tag: str, msg: str, n: int, fw: str, glue: bool) -> list[DeviceEvent]:
        if glue and ("Guru M" in msg or "SP-ROM" in msg or "***ERR" in msg or "ets J" in msg
                     or (fw != "esp-idf" and ("Task watchdog got" in msg or "abort() was" in msg))):
            for marker in _GLUE:
                i = msg.find(marker)
                if i >= 0:
                    i = _glue_start(msg, i, marker)
                    if marker == "Task watchdog got" and i == msg.find(marker):
                        break  # an ordinary task_wdt line, not a glued one
                    return [_log_event(n, level, ts, tag, msg[:i], fw), *self._classify(msg[i:], n, True)]
        special = _BY_TAG.get(tag)
        if special is None:
            if not tag.startswith("boot."):
                return [_log_event(n, level, ts, tag, msg, fw)]
            special = _boot_tag
        events: list[DeviceEvent] = [_log_event(n, level, ts, tag, msg, fw)]
        extra = special(self, level, tag, msg, n)
        if extra:
            events += extra
        return events

    def _close_panic(self, out: list[DeviceEvent]) -> None:
        panic, self._panic = self._panic, None
        if isinstance(panic, PostMortem):
            out += panic.finish()
        else:
            out.append(panic.finish())

    def _close(self, out: list[DeviceEvent]) -> None:
        if self._panic is not None:
            self._close_panic(out)
        if self._twdt is not None:
            out.append(self._twdt.finish())
            self._twdt = None

    # --- recognisers (each returns None when the line is not what it looked like) ---

    def _fatal(self, text: str, n: int) -> list[DeviceEvent] | None:
        fatal = match_fatal(text, n)
        if fatal is None:
            return None
        kind, cause, core, event = fatal
        self._panic = IdfPanic(n, kind, cause, core, self._arch())
        return [event]

    def _post_mortem(self, text: str, n: int) -> list[DeviceEvent] | None:
        head = match_post_mortem(text, n)
        if head is None:
            return None
        kind, cause, events = head
        self._panic = PostMortem(n, kind, cause, text)
        self.chip = self.chip or CHIPS["esp8266"]
        return events

    def _arch(self) -> str | None:
        if self.chip is None:
            return None
        return "esp8266" if self.chip.arch == "lx106" else self.chip.arch

    def _ets(self, text: str, n: int) -> list[DeviceEvent] | None:
        banner = ets_banner(text, n)
        if banner is None:
            return rom_line(text, n)  # "ets_main.c 371"
        events, self.chip = banner
        return events

    def _rst(self, text: str, n: int) -> list[DeviceEvent] | None:
        reset = reset_line(text, n, self.chip)
        if reset is None:
            return None
        event, self.chip = reset
        return [event]

    def _rom_id(self, text: str, n: int) -> list[DeviceEvent] | None:
        banner = rom_banner(text, n)
        if banner is None:
            return None
        event, chip = banner
        self.chip = chip or self.chip
        return [event]

    def _rom(self, text: str, n: int) -> list[DeviceEvent] | None:
        events = rom_line(text, n)
        if events and self.chip is None and isinstance(events[0], RomBuild):
            self.chip = chip_from_build(events[0].build)  # the ESP-ROM line was lost to reset garbage
        return events

    def _simple(self, text: str, n: int) -> list[DeviceEvent] | None:
        """One-line messages of the app and the panic handler, by their first word."""
        if text.startswith("Rebooting"):
            m = _REBOOT_DELAY.match(text)
            return [Rebooting(n, int(m[1]) if m else None)]
        if text.startswith("CPU halted"):
            return [CpuHalted(n)]
        if text.startswith("Brownout detector"):
            return [Brownout(n)]
        if text.startswith("ELF file SHA256"):
            m = _SHA.match(text)
            return [ElfSha256(n, m[1])] if m else None
        if text.startswith("Task watchdog got"):
            self._twdt = TaskWatchdogList(n)
            return []
        return None

    def _backtrace(self, text: str, n: int) -> list[DeviceEvent] | None:
        frames, corrupted, continues = parse_backtrace(text[9:])
        return [Backtrace(n, frames, corrupted, continues)] if frames or corrupted else None

    def _core_dump(self, text: str, n: int) -> list[DeviceEvent] | None:
        """A register dump with no header before it (a paste that starts mid-panic)."""
        if "register dump" not in text:
            return None
        self._panic = IdfPanic(n, "guru", "", None, self._arch())
        self._panic.take(text, n)
        return []

    def _bracket(self, text: str, n: int) -> list[DeviceEvent] | None:
        m = _ESPHOME.match(text)
        if m:
            return self._log_line(m[1], "", m[2], m[3], n, "esphome", True)
        m = _ARDUINO.match(text)
        if m and (m[1] is not None or text[3:4] == "["):
            return self._log_line(m[2], m[1] or "", m[3], m[4], n, "arduino", True)
        return None


# --- per-tag knowledge of ESP-IDF log lines ------------------------------------------

_BOOT_ERRORS = (  # (message substring, kind) for E-level lines of the 2nd-stage bootloader
    ("invalid magic byte", "invalid_magic"),
    ("No bootable app partitions", "no_bootable_app"),
    ("is not bootable", "partition_not_bootable"),
    ("partition table", "partition_table"),
    ("invalid magic number", "partition_table"),
    ("doesn't fit in partition", "image_too_big"),
    ("segment", "segment"),
    ("ota data", "ota_data"),
    ("QIE", "flash_mode"),
    ("QIO", "flash_mode"),
)


def _boot_error(level: str, msg: str, n: int) -> list[DeviceEvent]:
    if level != "E":
        return []
    kind = next((k for needle, k in _BOOT_ERRORS if needle in msg), "other")
    m = _OFFSET.search(msg)
    return [BootloaderError(n, msg.strip(), kind, int(m[1], 16) if m else None)]


def _boot_tag(p: DeviceLogParser, level: str, tag: str, msg: str, n: int) -> list[DeviceEvent]:
    if tag != "boot" and p.chip is None:
        p.chip = find_chip(tag[5:])  # "boot.esp32c3: SPI Speed ..." names the chip
    if "2nd stage bootloader" in msg:
        version = msg.split(" 2nd stage")[0].removeprefix("ESP-IDF").strip()
        return [BootloaderStart(n, version)]
    if msg.startswith("Loaded app from partition"):
        m = _OFFSET.search(msg)
        return [AppLoaded(n, int(m[1], 16))] if m else []
    return _boot_error(level, msg, n)


def _error_tag(p: DeviceLogParser, level: str, tag: str, msg: str, n: int) -> list[DeviceEvent]:
    return _boot_error(level, msg, n)


def _app_tag(p: DeviceLogParser, level: str, tag: str, msg: str, n: int) -> list[DeviceEvent]:
    if msg.startswith("ELF file SHA256"):
        m = re.search(r"([0-9a-fA-F]{8,})", msg)
        return [ElfSha256(n, m[1])] if m else []
    return []


def _tagless(p: DeviceLogParser, level: str, tag: str, msg: str, n: int) -> list[DeviceEvent]:
    if "Brownout detector" in msg:
        return [Brownout(n)]
    if "Task watchdog got" in msg:
        p._twdt = TaskWatchdogList(n)
    return []


_BY_TAG: dict[str, Callable[..., list]] = {
    "boot": _boot_tag, "esp_image": _error_tag, "flash_parts": _error_tag, "qio_mode": _error_tag,
    "bootloader_flash": _error_tag, "cpu_start": _app_tag, "app_init": _app_tag,
    "task_wdt": _tagless, "BOD": _tagless,
}


_P = DeviceLogParser
_BY_FIRST: dict[str, tuple[tuple[str, _Handler], ...]] = {
    "e": (("ets", _P._ets), ("entry", _P._rom)),
    "r": (("rst", _P._rst),),
    "E": (("ESP-ROM", _P._rom_id), ("ELF file", _P._simple), ("Exception", _P._post_mortem)),
    "S": (("SP-ROM", _P._rom_id), ("Saved PC", _P._rom), ("SHA-256 comparison", _P._rom), ("SPI mode:", _P._rom), ("Soft WDT", _P._post_mortem),
          ("Stack smashing", _P._fatal), ("Stack overflow", _P._post_mortem)),
    "B": (("Build:", _P._rom), ("Brownout", _P._simple), ("Backtrace", _P._backtrace)),
    "m": (("mode:", _P._rom),),
    "l": (("load", _P._rom), ("last failed alloc", _P._post_mortem)),
    "i": (("invalid header", _P._rom),),
    "f": (("flash read err", _P._rom),),
    "c": (("csum err", _P._rom),),
    "w": (("waiting for", _P._rom),),
    "R": (("Rebooting", _P._simple),),
    "C": (("CPU halted", _P._simple), ("Core", _P._core_dump), ("Core", _P._rom), ("CORRUPT HEAP", _P._fatal)),
    "G": (("Guru", _P._fatal), ("Generic Reset", _P._post_mortem)),
    "a": (("abort()", _P._fatal), ("assert", _P._fatal)),
    "*": (("***", _P._fatal),),
    "T": (("Task watchdog got", _P._simple),),
    "F": (("Fatal exception", _P._post_mortem),),
    "-": (("--------------- CUT HERE", _P._post_mortem),),
    ">": ((">>>stack>>>", _P._post_mortem),),
    "P": (("Panic ", _P._post_mortem),),
    "U": (("Unhandled C++", _P._post_mortem), ("User exception", _P._post_mortem)),
    "A": (("Abort called", _P._post_mortem), ("A stack overflow", _P._fatal)),
    "[": (("[", _P._bracket),),
    "/": (("/", _P._fatal),),
    ".": (("..", _P._fatal),),
}

# The block pre-filter, from the same tables the recognisers use (see parsers/device_scan.py).
_SCAN = LineScan(
    prefixes=[prefix for handlers in _BY_FIRST.values() for prefix, _ in handlers],
    tags=[*_BY_TAG, "boot."],
    markers=_GLUE,
)
