"""The output pane: a UIControl that draws only the visible rows of the scrollback.

Each redraw walks back from the bottom line of the view and stops when the pane is full,
so its cost does not grow with the scrollback. A line becomes style fragments once
(device SGR colours through prompt_toolkit's ANSI parser, cached per sequence of SGR
codes; our own kinds by class) and its wrapped rows are cached, each under a key that
names its content: ``OutputWindow`` compares the keys to redraw only rows that changed.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Callable, Hashable

from prompt_toolkit.formatted_text import ANSI
from prompt_toolkit.layout.controls import UIContent, UIControl
from prompt_toolkit.layout.screen import Char
from prompt_toolkit.mouse_events import MouseEvent, MouseEventType
from prompt_toolkit.utils import get_cwidth

from espmon.monitor import records as R

if TYPE_CHECKING:  # pragma: no cover
    from espmon.console.scrollback import Scrollback
    from espmon.console.view import View

__all__ = ["OutputControl", "record_fragments", "wrap_fragments", "highlight"]

Fragments = list[tuple[str, str]]
Row = tuple[Hashable, Fragments]  # (what the row shows, its fragments)

_KIND_STYLE = {
    R.ANNOTATION: "class:annotation", R.DECODED: "class:decoded", R.ALERT: "class:alert", R.NOTE: "class:note",
    R.SENT: "class:sent", R.HEX: "class:hex", R.CRASH: "class:crash", R.RESET: "class:reset",
}
_KIND_PREFIX = {
    R.ANNOTATION: "  \u2514 ", R.DECODED: "  \u2192 ", R.ALERT: " !! ", R.NOTE: "--- ", R.SENT: "--> ", R.HEX: "",
    R.CRASH: "  \u2514 ", R.RESET: "  \u2514 ",
}


def _merge(fragments: list[tuple[Any, ...]]) -> Fragments:
    out: Fragments = []
    for frag in fragments:
        style, text = frag[0], frag[1]
        if out and out[-1][0] == style:
            out[-1] = (style, out[-1][1] + text)
        else:
            out.append((style, text))
    return out


_SGR_SPLIT = re.compile(r"(\x1b\[[0-9;]*m)")
# what the ANSI parser would not pass through as text, and what a terminal would execute
_ANSI_SPECIAL = re.compile(r"[\x01\x1b\x9b]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SGR_STYLES: dict[tuple[str, ...], list[str]] = {}


def _sgr_styles(codes: tuple[str, ...]) -> list[str]:
    """Style of the text before, between and after a line's SGR codes. The ANSI parser
    runs once per sequence of codes (a log has few), on one placeholder per text piece."""
    styles = _SGR_STYLES.get(codes)
    if styles is None:
        if len(_SGR_STYLES) > 1024:
            _SGR_STYLES.clear()
        probe = ANSI("x" + "".join(code + "x" for code in codes)).__pt_formatted_text__()
        styles = [frag[0] for frag in probe]
        _SGR_STYLES[codes] = styles
    return styles


def _device_fragments(record: str) -> Fragments:
    parts = _SGR_SPLIT.split(record)
    if _ANSI_SPECIAL.search("".join(parts[::2])):  # something only the full parser handles
        parsed = ANSI(record).__pt_formatted_text__()
        # (a "[ZeroWidthEscape]" piece would go to the terminal unescaped: never pass one on)
        return _merge([("class:device " + frag[0] if frag[0] else "class:device", frag[1])
                       for frag in parsed if frag[0] != "[ZeroWidthEscape]"])
    out: Fragments = []
    last = None
    for text, style in zip(parts[::2], _sgr_styles(tuple(parts[1::2]))):
        if not text:
            continue
        if style == last:
            out[-1] = (out[-1][0], out[-1][1] + text)
        else:
            out.append(("class:device " + style if style else "class:device", text))
            last = style
    return out


def _visible_controls(fragments: Fragments) -> Fragments:
    """Control characters as prompt_toolkit shows them (^G, <85>), never sent raw."""
    out: Fragments = []
    for style, text in fragments:
        pos = 0
        for m in _CONTROL.finditer(text):
            if m.start() > pos:
                out.append((style, text[pos : m.start()]))
            out.append((style + " class:control-character", Char.display_mappings[m.group()]))
            pos = m.end()
        if pos < len(text):
            out.append((style, text[pos:]))
    return out


def record_fragments(record: str) -> Fragments:
    """One record -> style fragments (no newline), tabs expanded, control characters visible."""
    marker = R.kind(record)
    if marker != R.DEVICE:
        frags = [(_KIND_STYLE[marker], _KIND_PREFIX[marker] + record[1:].expandtabs(8))]
    else:
        if "\t" in record:
            record = record.expandtabs(8)
        if "\x1b" not in record:
            frags = [("class:device", record)]
        else:
            frags = _device_fragments(record)
    if any(_CONTROL.search(text) for _, text in frags):
        frags = _visible_controls(frags)
    return frags


def highlight(fragments: Fragments, spans: list[tuple[int, int]], style: str) -> Fragments:
    """Add ``style`` to the character ranges ``spans`` (offsets into the joined text)."""
    if not spans:
        return fragments
    out: Fragments = []
    pos = 0
    for frag_style, text in fragments:
        end = pos + len(text)
        cut = pos
        for start, stop in spans:
            if stop <= cut or start >= end:
                continue
            a, b = max(start, cut), min(stop, end)
            if a > cut:
                out.append((frag_style, text[cut - pos : a - pos]))
            out.append((f"{frag_style} {style}", text[a - pos : b - pos]))
            cut = b
        if cut < end:
            out.append((frag_style, text[cut - pos :]))
        pos = end
    return out


def wrap_fragments(fragments: Fragments, width: int) -> list[Fragments]:
    """Split fragments into rows of at most ``width`` columns (wide characters count 2)."""
    width = max(1, width)
    rows: list[Fragments] = [[]]
    used = 0
    for style, text in fragments:
        if text.isascii():
            while text:
                room = width - used
                if room <= 0:
                    rows.append([])
                    used, room = 0, width
                piece, text = text[:room], text[room:]
                rows[-1].append((style, piece))
                used += len(piece)
            continue
        piece = ""
        for ch in text:
            w = get_cwidth(ch)
            if used + w > width:
                if piece:
                    rows[-1].append((style, piece))
                rows.append([])
                used, piece = 0, ""
            piece += ch
            used += w
        if piece:
            rows[-1].append((style, piece))
    return rows


class OutputControl(UIControl):
    def __init__(
        self,
        store: "Scrollback",
        view: "View",
        *,
        partial: Callable[[], str],
        timestamp: Callable[[float], str] | None = None,
        show_timestamps: Callable[[], bool] = lambda: False,
        on_scroll: Callable[[int], None] | None = None,
    ) -> None:
        self.store = store
        self.view = view
        self.partial = partial
        self.timestamp = timestamp
        self.show_timestamps = show_timestamps
        self.on_scroll = on_scroll
        self._cache: dict[int, Fragments] = {}
        self._rows: dict[tuple[Any, ...], list[Row]] = {}

    def is_focusable(self) -> bool:
        return True  # raw key mode focuses the pane itself

    def _line(self, index: int) -> Fragments:
        frags = self._cache.get(index)
        if frags is None:
            if len(self._cache) > 2048:
                self._cache.clear()
            frags = record_fragments(self.store[index])
            self._cache[index] = frags
        view = self.view
        if view.search is not None:
            text = "".join(t for _, t in frags)
            spans = [m.span() for m in view.search.finditer(text) if m.end() > m.start()]
            if spans:  # the current hit stands out from the other matches
                current = index == view.hit
                frags = highlight(frags, spans, "class:search.current" if current else "class:search.match")
        if self.show_timestamps() and self.timestamp is not None:
            frags = [("class:timestamp", self.timestamp(self.store.time_of(index)) + " ")] + frags
        return frags

    def _line_rows(self, index: int, width: int, variant: tuple[Any, ...]) -> list[Row]:
        """The wrapped rows of one scrollback line, each with its key (cached)."""
        key = (index, width, variant)
        rows = self._rows.get(key)
        if rows is None:
            if len(self._rows) > 512:
                self._rows.clear()
            rows = [((key, n), frags) for n, frags in enumerate(wrap_fragments(self._line(index), width))]
            self._rows[key] = rows
        return rows

    def reset_cache(self) -> None:
        self._cache.clear()
        self._rows.clear()

    def visible_rows(self, width: int, height: int) -> list[Row]:
        """The rows on screen, top to bottom (fewer than ``height`` if the scrollback is
        short). A row's key changes whenever what the row shows changes."""
        self.view.height = height
        rows: list[Row] = []
        if not self.view.paused:
            partial = self.partial()
            if partial:
                rows = [(("partial", partial, width, n), frags)
                        for n, frags in enumerate(wrap_fragments(record_fragments(partial), width))]
        view = self.view
        variant = (self.show_timestamps(), view.search)
        index = view.last_line()
        first = self.store.first
        while len(rows) < height and index >= first:
            rows = self._line_rows(index, width, variant + (index == view.hit,)) + rows
            index -= 1
        return rows[-height:] if len(rows) > height else rows

    def create_content(self, width: int, height: int | None) -> UIContent:
        rows = [frags for _, frags in self.visible_rows(width, height or 1)]

        def get_line(i: int) -> Fragments:
            return rows[i] if i < len(rows) else []

        return UIContent(get_line=get_line, line_count=len(rows), show_cursor=False)

    def mouse_handler(self, mouse_event: MouseEvent) -> Any:
        if self.on_scroll is not None:
            if mouse_event.event_type == MouseEventType.SCROLL_UP:
                self.on_scroll(-3)
                return None
            if mouse_event.event_type == MouseEventType.SCROLL_DOWN:
                self.on_scroll(3)
                return None
        return NotImplemented
