"""A capture shown as it is written: each record through the decoder's pipeline (the same
records ``espmon decode`` prints for the finished file), rendered as it arrives."""

from __future__ import annotations

import threading
from typing import TextIO

from espmon.conversation.analyzer import Analyzer
from espmon.conversation.render import TextRenderer
from parsers.capture_trace import CaptureTraceParser
from parsers.trace_frames import FrameAssembler

__all__ = ["LiveView"]


class LiveView:
    """Feed capture lines (``CaptureWriter``'s echo); packet lines go to ``out`` at once,
    or with ``quiet`` only the session story at the end."""

    def __init__(self, out: TextIO, *, quiet: bool = False, color: bool = False) -> None:
        self.out = out
        self.quiet = quiet
        self.parser = CaptureTraceParser()
        self.frames = FrameAssembler()
        self.analyzer = Analyzer()
        self.renderer = TextRenderer(color=color, unicode="utf" in (getattr(out, "encoding", "") or "").lower())
        self._lock = threading.Lock()  # the capture proxy's two directions come from two threads

    def feed(self, line: str) -> None:
        with self._lock:
            self._show(self.parser.feed(line + "\n"))

    def end(self) -> None:
        with self._lock:
            self._show(self.parser.end())
            self._show_frames(self.frames.end())
            self._render(self.analyzer.end(self.parser.lines), story=True)
            for text in self.renderer.flush():
                self.out.write(text + "\n")
            self.out.flush()

    def _show(self, events: list) -> None:
        for ev in events:
            self._show_frames(self.frames.feed(ev))

    def _show_frames(self, frames: list) -> None:
        for fe in frames:
            self._render(self.analyzer.feed(fe))

    def _render(self, records: list, story: bool = False) -> None:
        if self.quiet and not story:
            return
        for rec in records:
            for text in self.renderer.render(rec):
                self.out.write(text + "\n")
        self.out.flush()
