"""The output pane's Window: only rows that changed reach the terminal, each as one string.

prompt_toolkit draws a frame by filling a Screen cell by cell and diffing it against the
previous one in Python; while output scrolls every cell changes, and that costs ~10 ms per
frame at 120x40. Here a frame compares row keys (``OutputControl.visible_rows``) with the
rows the terminal shows and writes each changed row as one cached string (cursor position,
SGR codes, text, erase to the end). The pane's rows stay empty in both the new and the
previous Screen, so prompt_toolkit's diff finds nothing to do there.

This needs a VT100 terminal and a frame that diffs against the one we drew into last;
anything else (first frame, resize, the help overlay on top, Windows console, the final
frame) goes through the ordinary Window, and the next fast frame redraws every row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Hashable

from prompt_toolkit.application.current import get_app
from prompt_toolkit.data_structures import Point, Size
from prompt_toolkit.layout.containers import Window
from prompt_toolkit.layout.screen import Char, Screen, WritePosition
from prompt_toolkit.mouse_events import MouseEvent
from prompt_toolkit.output.vt100 import Vt100_Output
from prompt_toolkit.utils import get_cwidth, to_str

if TYPE_CHECKING:  # pragma: no cover
    from prompt_toolkit.layout.mouse_handlers import MouseHandlers

    from espmon.console.output_control import Fragments, OutputControl

__all__ = ["OutputWindow"]

_UNKNOWN = object()  # a row whose content on the terminal we do not know
# fills the previous Screen's rows when we fall back: differs from every real cell, and is
# not blank, so prompt_toolkit rewrites each row in full and erases what is left of it
_STALE = Char("~", "class:espmon-stale")


class _Capture:
    def __init__(self) -> None:
        self.data: list[str] = []

    def write(self, text: str) -> None:
        self.data.append(text)

    def flush(self) -> None:
        pass


class _Sgr:
    """Style string -> the SGR sequence prompt_toolkit's VT100 output would send for it."""

    def __init__(self) -> None:
        self._sink = _Capture()
        self._out = Vt100_Output(self._sink, lambda: Size(rows=24, columns=80), term="xterm")  # type: ignore[arg-type]
        self._codes: dict[str, str] = {}
        self.stamp: Any = None

    def refresh(self, app: Any) -> bool:
        """Forget the codes when the style or colour depth changed; True if they were."""
        stamp = (app.renderer.style.invalidation_hash(), app.style_transformation.invalidation_hash(),
                 app.color_depth)
        if stamp == self.stamp:
            return False
        self.stamp = stamp
        self._style, self._transform, self._depth = app.renderer.style, app.style_transformation, app.color_depth
        self._codes.clear()
        return True

    def __call__(self, style: str) -> str:
        code = self._codes.get(style)
        if code is None:
            attrs = self._transform.transform_attrs(self._style.get_attrs_for_style_str(style))
            self._out.set_attributes(attrs, self._depth)
            self._out.flush()
            code = "".join(self._sink.data)
            self._sink.data.clear()
            self._codes[style] = code
        return code


class OutputWindow(Window):
    def __init__(self, control: "OutputControl", covered: Callable[[], bool]) -> None:
        super().__init__(content=control, wrap_lines=False, always_hide_cursor=True)
        self.control = control
        self.covered = covered  # True while something (the help overlay) is drawn over us
        self.direct = True  # False: always draw through the ordinary Window (tests compare both)
        self._sgr = _Sgr()
        self._strings: dict[Hashable, str] = {}  # row key -> its text with SGR codes
        self._shown: list[Any] = []  # row keys the terminal shows, top to bottom
        self._screen: Screen | None = None  # the Screen we drew into last
        self._where: tuple[int, int, int, int] | None = None
        self._fast = False  # the last frame was drawn by us, not by the ordinary Window
        self._right_edge = True  # the pane reaches the terminal's right edge (row strings depend on it)

    def write_to_screen(self, screen: Screen, mouse_handlers: "MouseHandlers", write_position: WritePosition,
                        parent_style: str, erase_bg: bool, z_index: int | None) -> None:
        app = get_app()
        wp = write_position
        where = (wp.xpos, wp.ypos, wp.width, wp.height)
        previous = app.renderer.last_rendered_screen
        fast = (
            self.direct and isinstance(app.output, Vt100_Output) and app.renderer.full_screen
            and previous is not None and previous is self._screen and where == self._where
            and not app.is_done and not self.covered() and not (parent_style + " " + to_str(self.style)).strip()
            and (z_index is None or z_index <= 0) and wp.width > 0 and wp.height > 0
        )
        if fast:
            self._draw_fast(app, screen, mouse_handlers, wp, previous)
        else:
            if self._fast and previous is not None and previous is self._screen:
                # the previous Screen has our rows empty while the terminal shows them
                stale = dict.fromkeys(range(wp.xpos, wp.xpos + wp.width), _STALE)
                for y in range(wp.ypos, wp.ypos + wp.height):
                    previous.data_buffer[y].update(stale)
            super().write_to_screen(screen, mouse_handlers, wp, parent_style, erase_bg, z_index)
            keys = [key for key, _ in self.control.visible_rows(wp.width, wp.height)] if wp.height > 0 else []
            covered = self.covered()
            self._shown = [_UNKNOWN if covered else None] * wp.height
            if not covered:
                self._shown[: len(keys)] = keys
        self._fast = fast
        self._screen = screen
        self._where = where

    def _draw_fast(self, app: Any, screen: Screen, mouse_handlers: "MouseHandlers", wp: WritePosition,
                   previous: Screen) -> None:
        right_edge = wp.xpos + wp.width >= app.output.get_size().columns  # then ESC[K ends a row
        if self._sgr.refresh(app) or right_edge != self._right_edge:
            self._strings.clear()
            self._right_edge = right_edge
        if not self._fast:  # the ordinary Window drew the last frame: its cells are on the terminal
            for y in range(wp.ypos, wp.ypos + wp.height):
                previous.data_buffer[y].clear()
        rows = self.control.visible_rows(wp.width, wp.height)
        shown = self._shown
        out: list[str] = []
        for y in range(wp.height):
            key, frags = rows[y] if y < len(rows) else (None, None)
            if shown[y] == key:
                continue
            shown[y] = key
            if key is None:  # below the last line
                text = "\x1b[0m\x1b[K" if right_edge else "\x1b[0m" + " " * wp.width
            else:
                text = self._strings.get(key)
                if text is None:
                    if len(self._strings) > 1024:  # a few screens; rebuilt cheaply
                        self._strings.clear()
                    text = self._strings[key] = self._row_text(frags, wp.width, right_edge)
            out.append(f"\x1b[{wp.ypos + y + 1};{wp.xpos + 1}H{text}")
        if out:
            output = app.output
            output.hide_cursor()
            # save and restore cursor and attributes: prompt_toolkit's diff moves relative to
            # where it left the cursor
            output.write_raw("\x1b7" + "".join(out) + "\x1b8")

        screen.height = max(screen.height, wp.ypos + wp.height)
        screen.visible_windows_to_write_positions[self] = wp
        if app.layout.current_control == self.control:  # raw key mode: the pane has the focus
            screen.set_cursor_position(self, Point(x=wp.xpos, y=wp.ypos))
            screen.show_cursor = False
        if app.renderer.mouse_support():
            mouse_handlers.set_mouse_handler_for_range(
                x_min=wp.xpos, x_max=wp.xpos + wp.width, y_min=wp.ypos, y_max=wp.ypos + wp.height,
                handler=lambda event: self._mouse(event, wp),
            )

    def _row_text(self, frags: "Fragments", width: int, right_edge: bool) -> str:
        sgr = self._sgr
        parts = [sgr(style) + text for style, text in frags]
        used = sum(len(text) if text.isascii() else get_cwidth(text) for _, text in frags)
        if used >= width:
            return "".join(parts) + "\x1b[0m"
        return "".join(parts) + ("\x1b[0m\x1b[K" if right_edge else "\x1b[0m" + " " * (width - used))

    def _mouse(self, event: MouseEvent, wp: WritePosition) -> Any:
        result = self.control.mouse_handler(MouseEvent(
            position=Point(x=event.position.x - wp.xpos, y=event.position.y - wp.ypos),
            event_type=event.event_type, button=event.button, modifiers=event.modifiers,
        ))
        return None if result is NotImplemented else result
