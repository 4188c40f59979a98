"""``espmon replay`` on a terminal: the recording plays in a full-screen view with a time
cursor in the status bar.

Keys: Space pause/resume, ``+``/``-`` faster/slower, ``n`` (or Right) the next packet,
``e`` jump to the next error or retry, ``/`` search (Enter jumps to the next match), ``q``
quit. A jump shows everything up to its target at once and pauses there.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from prompt_toolkit.application import Application
from prompt_toolkit.buffer import Buffer
from prompt_toolkit.filters import Condition
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.layout import ConditionalContainer, HSplit, Layout, VSplit, Window
from prompt_toolkit.layout.controls import BufferControl, FormattedTextControl

from espmon.capture.replay import Item, Pacer

__all__ = ["ReplayState", "run_replay"]

_SPEEDS = (0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 25.0, 100.0, 1000.0)


class ReplayState:
    """Where the replay is and what it has shown; the keys act on it (no terminal needed)."""

    def __init__(self, items: list[Item], *, speed: float, start: float, clock: Callable[[], float]) -> None:
        self.items = items
        self.pacer = Pacer(clock, speed, origin=start)
        self.next = 0  # index of the next item to show
        self.shown: list[str] = []
        self.end_t = max((item.t for item in items), default=0.0)
        self.note = ""
        while self.next < len(items) and items[self.next].t < start and not items[self.next].story:
            self._show_next()

    @property
    def done(self) -> bool:
        return self.next >= len(self.items)

    def _show_next(self) -> Item:
        item = self.items[self.next]
        self.shown.extend(item.lines)
        self.next += 1
        return item

    def advance(self) -> float | None:
        """Show every item that is due; seconds until the next one (None when done)."""
        while not self.done:
            item = self.items[self.next]
            wait = self.pacer.due(item.t) if not item.story else 0.0
            if wait > 0:
                return wait
            self._show_next()
        return None

    def toggle_pause(self) -> None:
        if self.pacer.paused_at is None:
            self.pacer.pause()
        else:
            self.pacer.resume()

    def faster(self, step: int) -> None:
        now = self.pacer.speed
        bigger = [s for s in _SPEEDS if s > now]
        smaller = [s for s in _SPEEDS if s < now]
        new = (bigger[0] if bigger else now) if step > 0 else (smaller[-1] if smaller else now)
        self.pacer.set_speed(new)

    def jump(self, want: Callable[[Item], bool], what: str) -> bool:
        """Show everything up to the next item ``want`` accepts, then pause there."""
        for index in range(self.next, len(self.items)):
            if want(self.items[index]):
                while self.next <= index:
                    item = self._show_next()
                self.pacer.pause()
                self.pacer.seek(item.t)
                self.note = ""
                return True
        self.note = f"no {what} after this point"
        return False

    def step(self) -> bool:
        return self.jump(lambda item: item.packet, "packet")

    def next_error(self) -> bool:
        return self.jump(lambda item: item.mark is not None, "error or retry")

    def search(self, text: str) -> bool:
        needle = text.lower()
        return self.jump(lambda item: any(needle in line.lower() for line in item.lines), f"match for {text!r}")

    def status(self, name: str) -> str:
        now = min(self.pacer.now(), self.end_t)
        state = "ended" if self.done else ("paused" if self.pacer.paused_at is not None else "playing")
        speed = f"x{self.pacer.speed:g}"
        note = f"  {self.note}" if self.note else ""
        return (f" replay {name}  {now:8.3f} s / {self.end_t:.3f} s  {speed}  {state}{note}"
                "  | Space pause  +/- speed  n step  e next error  / search  q quit")


def run_replay(items: list[Item], name: str, *, speed: float, step: bool, start: float) -> int:
    state = ReplayState(items, speed=speed, start=start, clock=time.monotonic)
    if step:
        state.pacer.pause()
    wake = asyncio.Event()
    searching = [False]
    query = Buffer(multiline=False)

    def output_text():
        rows = max(1, app.output.get_size().rows - 2)
        return "\n".join(state.shown[-rows:])

    kb = KeyBindings()
    not_searching = Condition(lambda: not searching[0])

    def act(fn):
        def handler(event):
            fn()
            wake.set()
            app.invalidate()
        return handler

    kb.add(" ", filter=not_searching)(act(state.toggle_pause))
    kb.add("+", filter=not_searching)(act(lambda: state.faster(+1)))
    kb.add("=", filter=not_searching)(act(lambda: state.faster(+1)))
    kb.add("-", filter=not_searching)(act(lambda: state.faster(-1)))
    kb.add("n", filter=not_searching)(act(state.step))
    kb.add("right", filter=not_searching)(act(state.step))
    kb.add("e", filter=not_searching)(act(state.next_error))

    @kb.add("/", filter=not_searching)
    def _search(event):
        searching[0] = True
        query.reset()
        event.app.layout.focus(search_window)

    @kb.add("enter", filter=~not_searching)
    def _find(event):
        searching[0] = False
        event.app.layout.focus(output_window)
        if query.text:
            state.search(query.text)
        wake.set()

    @kb.add("escape", filter=~not_searching)
    def _cancel(event):
        searching[0] = False
        event.app.layout.focus(output_window)

    @kb.add("q", filter=not_searching)
    @kb.add("c-c")
    def _quit(event):
        event.app.exit(result=0)

    output_window = Window(FormattedTextControl(output_text, focusable=True), wrap_lines=False)
    search_window = Window(BufferControl(query), height=1, style="reverse")
    status = Window(FormattedTextControl(lambda: state.status(name)), height=1, style="reverse")
    search_row = VSplit([Window(FormattedTextControl("search: "), height=1, width=8), search_window])
    layout = Layout(HSplit([output_window, ConditionalContainer(search_row, filter=~not_searching), status]),
                    focused_element=output_window)
    app: Application = Application(layout=layout, key_bindings=kb, full_screen=True)

    async def player():
        while True:
            wait = state.advance()
            app.invalidate()
            wake.clear()
            timeout = 0.5 if wait is None or wait == float("inf") else min(wait, 0.1)
            try:
                await asyncio.wait_for(wake.wait(), timeout)
            except asyncio.TimeoutError:
                pass

    async def main() -> int:
        task = asyncio.ensure_future(player())
        try:
            return await app.run_async()
        finally:
            task.cancel()

    return asyncio.run(main()) or 0
