"""A recorded session as a timeline: what ``espmon decode`` prints, item by item, each at its
recorded time, for ``espmon replay`` (piped, or in the console).

A trace dump or a capture is decoded once into :class:`Item` s (the rendered lines of one
record, its time, whether it is an error or a retry). The chip's own output in a capture
(a boot log, a panic) goes through the monitor's engine, annotated as it would be live.
:class:`Pacer` says when each item is due at a speed, on an injected clock.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from espmon.conversation.analyzer import analyze_lines
from espmon.conversation.records import (
    CommandRecord,
    InvalidRecord,
    ResponseRecord,
    Summary,
    TimeoutRecord,
    WarningRecord,
)
from espmon.conversation.render import TextRenderer
from parsers.capture import looks_like_capture
from parsers.capture_trace import CaptureTraceParser

__all__ = ["Item", "Pacer", "timeline"]


@dataclass(frozen=True, slots=True)
class Item:
    t: float  # seconds from the start of the recording
    lines: tuple[str, ...]
    mark: str | None = None  # "error", "retry" (the jump keys stop there), None
    packet: bool = False  # a request or a reply (the step key advances by these)
    story: bool = False  # the summary at the end


def _mark(rec: object) -> str | None:
    if isinstance(rec, (TimeoutRecord, InvalidRecord, WarningRecord)):
        return "error"
    if isinstance(rec, ResponseRecord) and (rec.error or (rec.status not in (None, 0))):
        return "error"
    if isinstance(rec, CommandRecord) and rec.retry:
        return "retry"
    return None


class _Device:
    """The chip's own output of a capture, through the monitor's engine (annotated as live)."""

    def __init__(self, elf: list[str], chip: str | None) -> None:
        from espmon.monitor import records
        from espmon.monitor.build import build_engine
        from espmon.monitor.settings import MonitorSettings

        self.engine = build_engine(MonitorSettings(url="replay", baud=115200, elf=elf, chip=chip))
        self.pending: list[tuple[float, bytes]] = []
        self.plain = records.plain_text

    def __call__(self, line: int, t: float, data: bytes) -> None:
        self.pending.append((t, data))

    def items(self) -> Iterator[Item]:
        for t, data in self.pending:
            lines = self.engine.feed(data, t)
            if lines:
                yield Item(t, tuple(self.plain(r) for r in lines))
        self.pending.clear()

    def end(self, t: float) -> Iterator[Item]:
        yield from self.items()
        lines = self.engine.end(t)
        if lines:
            yield Item(t, tuple(self.plain(r) for r in lines))


def timeline(chunks: Iterable[str], *, elf: list[str] | None = None, chip: str | None = None,
             renderer: TextRenderer | None = None) -> Iterator[Item]:
    """Text of a trace dump or a capture (any chunking) in, items in recorded order out."""
    chunks = iter(chunks)
    first = next(chunks, "")
    chunks = itertools.chain([first], chunks)
    renderer = renderer or TextRenderer(color=False, unicode=True)
    device = _Device(elf or [], chip) if looks_like_capture(first) else None
    parser = None
    if device is not None:
        parser = CaptureTraceParser(device)
        # one record at a time: the chip's output comes out just before the packets that
        # followed it in the capture
        chunks = (piece for chunk in chunks for piece in chunk.splitlines(keepends=True))
    t = 0.0
    for rec in analyze_lines(chunks, parser):
        if device is not None:
            for item in device.end(t) if isinstance(rec, Summary) else device.items():
                t = max(t, item.t)  # one clock for the chip's output and the packets
                yield Item(t, item.lines)
        if isinstance(rec, Summary):
            rest = renderer.flush()
            if rest:
                yield Item(t, tuple(rest))
            yield Item(t, tuple(renderer.render(rec)) + tuple(renderer.flush()), story=True)
            continue
        t = max(t, getattr(rec, "t", None) or t)
        lines = renderer.render(rec)
        if lines:
            yield Item(t, tuple(lines), _mark(rec), isinstance(rec, (CommandRecord, ResponseRecord)))


class Pacer:
    """When each item is due: ``start + (t - origin) / speed`` on ``clock``; speed 0 is at once.
    Pausing stops the recorded time; changing the speed keeps the current position."""

    def __init__(self, clock: Callable[[], float], speed: float = 1.0, origin: float = 0.0) -> None:
        self.clock = clock
        self.speed = speed
        self._origin = origin  # recorded time at the anchor
        self._anchor = clock()  # wall time at the anchor
        self.paused_at: float | None = None  # recorded time when paused

    def now(self) -> float:
        """The recorded time the replay has reached."""
        if self.paused_at is not None:
            return self.paused_at
        if self.speed <= 0:
            return float("inf")
        return self._origin + (self.clock() - self._anchor) * self.speed

    def due(self, t: float) -> float:
        """Wall-clock seconds until recorded time ``t`` (0 if due; inf while paused)."""
        if self.paused_at is not None:
            return float("inf")
        if self.speed <= 0:
            return 0.0
        return max(0.0, (t - self._origin) / self.speed - (self.clock() - self._anchor))

    def _rebase(self, t: float) -> None:
        self._origin, self._anchor = t, self.clock()

    def set_speed(self, speed: float) -> None:
        if self.paused_at is None and self.speed > 0:
            self._rebase(self.now())
        self.speed = speed

    def pause(self) -> None:
        if self.paused_at is None:
            self.paused_at = self.now() if self.speed > 0 else self._origin

    def resume(self) -> None:
        if self.paused_at is not None:
            self._rebase(self.paused_at)
            self.paused_at = None

    def seek(self, t: float) -> None:
        """Continue from recorded time ``t`` (a jump or a step)."""
        if self.paused_at is not None:
            self.paused_at = t
        else:
            self._rebase(t)
