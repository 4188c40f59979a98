"""What the boot timeline draws, reduced from device-log events (no matplotlib here).

A boot starts at a reset (the ROM banner or its ``rst:`` line); inside it, each ESP-IDF log
line ``I (1234) tag: ...`` is a point at its timestamp (ms since that reset), in a stage:
the ROM before the first timestamp, the second-stage bootloader (tags ``boot``,
``boot.<chip>``, ``esp_image`` until the app's first line), then the app. What ended a
boot (panic, abort, watchdog, brownout, a ROM or bootloader load error) is its crash.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from parsers import device_events as ev

__all__ = ["LogPoint", "Crash", "Boot", "BootData", "BootCollector", "STAGES"]

STAGES = ("ROM", "bootloader", "app")
_BOOTLOADER_TAGS = ("boot", "esp_image", "qio_mode", "flash_encrypt", "secure_boot", "bootloader_flash")
_SOURCE_LINE = re.compile(r":\d+$")
_TIME = re.compile(r"(?:(\d+):(\d+):)?(\d+)(?:\.(\d+))?$")  # 1234, or 12:34:56.789 (system time)

# Events that end a boot, and how the mark is labelled. A Panic is the whole dump of a
# GuruMeditation/Abort/... already marked, so it only counts when nothing else did.
_CRASHES: dict[type, Any] = {
    ev.GuruMeditation: lambda e: f"Guru Meditation ({e.cause})",
    ev.Abort: lambda e: "abort()",
    ev.AssertFailed: lambda e: "assert failed",
    ev.StackOverflow: lambda e: "stack overflow",
    ev.StackSmashing: lambda e: "stack smashing",
    ev.HeapCorruption: lambda e: "heap corruption",
    ev.TaskWatchdog: lambda e: "task watchdog",
    ev.Brownout: lambda e: "brownout",
    ev.Esp8266Exception: lambda e: f"exception ({e.cause})",
    ev.SoftWatchdog: lambda e: "soft WDT reset",
    ev.InvalidHeader: lambda e: f"invalid header 0x{e.value:08x}",
    ev.FlashReadError: lambda e: "flash read err",
    ev.ChecksumError: lambda e: "csum err",
    ev.RomHalt: lambda e: f"{e.file} {e.source_line}",
    ev.BootloaderError: lambda e: f"bootloader: {e.kind}",
    ev.Panic: lambda e: e.cause[:40],
}


@dataclass(frozen=True)
class LogPoint:
    ms: float
    tag: str
    level: str
    stage: str
    line: int


@dataclass(frozen=True)
class Crash:
    ms: float | None  # the last timestamp seen before it (None: no log time in that boot yet)
    label: str
    line: int


@dataclass
class Boot:
    line: int  # where the reset (or the log) starts
    reset: str | None = None  # the ROM's reset name, e.g. POWERON_RESET
    download: bool = False
    banner: bool = False  # began with a ROM banner (a restart even when its rst: line is cut)
    points: list[LogPoint] = field(default_factory=list)
    crashes: list[Crash] = field(default_factory=list)
    app_line: int | None = None  # first app log line

    @property
    def seen_start(self) -> bool:
        """Whether the log shows the reset, so the timestamps count from 0 at its left edge."""
        return self.reset is not None or self.banner

    @property
    def origin_ms(self) -> float:
        """Where the boot's axis starts: 0 at a reset, else (a log cut at its start) its first time."""
        return 0.0 if self.seen_start or not self.points else min(p.ms for p in self.points)

    @property
    def end_ms(self) -> float:
        return max((p.ms for p in self.points), default=0.0)

    def first_ms(self, stage: str) -> float | None:
        return next((p.ms for p in self.points if p.stage == stage), None)

    def last_ms(self, stage: str) -> float | None:
        return max((p.ms for p in self.points if p.stage == stage), default=None)


@dataclass
class BootData:
    boots: list[Boot] = field(default_factory=list)
    chip: str | None = None
    lines: int = 0  # lines read
    event_lines: int = 0  # lines the device events stand for (a panic: its whole dump)

    @property
    def points(self) -> int:
        return sum(len(b.points) for b in self.boots)

    def tags(self) -> list[str]:
        """Tags in order of first appearance, bootloader tags first (the order of a boot)."""
        order = {s: i for i, s in enumerate(STAGES)}
        seen: dict[str, tuple[int, int]] = {}
        for boot in self.boots:
            for p in boot.points:
                seen.setdefault(p.tag, (order[p.stage], len(seen)))
        return sorted(seen, key=seen.__getitem__)


def parse_ms(text: str) -> float | None:
    m = _TIME.match(text.strip())
    if m is None:
        return None
    h, mnt, s, frac = m.groups()
    if h is None:
        return float(s)  # ESP-IDF's default: ms since boot
    return ((int(h) * 60 + int(mnt)) * 60 + int(s) + float(f"0.{frac or 0}")) * 1000.0


class BootCollector:
    """Feed device events in order (``feed``), then read ``data``."""

    def __init__(self) -> None:
        self.data = BootData()
        self._boot: Boot | None = None
        self._app = False  # the current boot reached its app
        self._panic_marked = False

    def _new_boot(self, line: int) -> Boot:
        self._boot = Boot(line)
        self._app = self._panic_marked = False
        self.data.boots.append(self._boot)
        return self._boot

    def _current(self, line: int) -> Boot:
        return self._boot if self._boot is not None else self._new_boot(line)

    def feed(self, events: Iterable[Any]) -> None:
        for e in events:
            t = type(e)
            if t is ev.LogLine:
                self._log(e)
            elif t is ev.RomBanner or t is ev.ResetInfo or t is ev.Esp8266Reset:
                self._reset(e)
            elif t in _CRASHES:
                self._crash(e)
            elif t is ev.WaitingForDownload:
                self._current(e.line).download = True

    def _log(self, e: ev.LogLine) -> None:
        ms = parse_ms(e.timestamp) if e.timestamp else None
        if ms is None:
            return
        boot = self._current(e.line)
        tag = e.tag
        if e.framework != "esp-idf":  # Arduino's main.cpp:38, ESPHome's sensor:093: one row per file
            tag = _SOURCE_LINE.sub("", tag)
        if not self._app and not (tag in _BOOTLOADER_TAGS or tag.startswith("boot.")):
            self._app = True
            boot.app_line = e.line
        boot.points.append(LogPoint(ms, tag, e.level, "app" if self._app else "bootloader", e.line))

    def _reset(self, e: Any) -> None:
        boot = self._boot
        if boot is None or boot.reset is not None or boot.points or boot.crashes:
            boot = self._new_boot(e.line)  # else: the rst: line after its ROM banner, same boot
        chip = getattr(e, "chip", None)
        if chip and not self.data.chip:
            self.data.chip = chip
        if type(e) is ev.RomBanner:
            boot.banner = True
        elif type(e) is ev.ResetInfo:
            boot.reset = e.name or f"rst:0x{e.code:x}"
            boot.download = boot.download or e.download
        elif type(e) is ev.Esp8266Reset:
            boot.reset = e.name or f"rst cause:{e.cause}"

    def _crash(self, e: Any) -> None:
        boot = self._current(e.line)
        if type(e) is ev.Panic:
            if self._panic_marked:
                return
        else:
            self._panic_marked = True
        ms = boot.end_ms if boot.points else None
        boot.crashes.append(Crash(ms, _CRASHES[type(e)](e), e.line))
