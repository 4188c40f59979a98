"""The output pane: a UIControl that draws only the visible rows of the scrollback.

Each redraw walks back from the bottom line of the view, turns records into style
fragments (device SGR colours through prompt_toolkit's ANSI parser, our own kinds by
class), wraps them to the pane width, and stops when the pane is full. Nothing is
rebuilt per appended line, so the cost of a redraw does not grow with the scrollback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from prompt_toolkit.formatted_text import ANSI
from prompt_toolkit.layout.controls import UIContent, UIControl
from prompt_toolkit.mouse_events import MouseEvent, MouseEventType
from prompt_toolkit.utils import get_cwidth

from espmon.monitor import records as R

if TYPE_CHECKING:  # pragma: no cover
    from espmon.console.scrollback import Scrollback
    from espmon.console.view import View

__all__ = ["OutputControl", "record_fragments", "wrap_fragments", "highlight"]

Fragments = list[tuple[str, str]]

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


def record_fragments(record: str) -> Fragments:
    """One record -> style fragments (no newline), tabs expanded."""
    marker = R.kind(record)
    if marker != R.DEVICE:
        return [(_KIND_STYLE[marker], _KIND_PREFIX[marker] + record[1:])]
    if "\t" in record:
        record = record.expandtabs(8)
    if "\x1b" not in record:
        return [("class:device", record)]
    parsed = ANSI(record).__pt_formatted_text__()
    return _merge([("class:device " + frag[0] if frag[0] else "class:device", frag[1]) for frag in parsed])


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
            if spans:
                frags = highlight(frags, spans, "class:search.match")
        if self.show_timestamps() and self.timestamp is not None:
            frags = [("class:timestamp", self.timestamp(self.store.time_of(index)) + " ")] + frags
        return frags

    def reset_cache(self) -> None:
        self._cache.clear()

    def create_content(self, width: int, height: int | None) -> UIContent:
        height = height or 1
        self.view.height = height
        rows: list[Fragments] = []
        if not self.view.paused:
            partial = self.partial()
            if partial:
                rows = wrap_fragments(record_fragments(partial), width)
        index = self.view.last_line()
        first = self.store.first
        while len(rows) < height and index >= first:
            rows = wrap_fragments(self._line(index), width) + rows
            index -= 1
        rows = rows[-height:]

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
