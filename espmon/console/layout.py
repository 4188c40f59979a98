"""The console's containers: output pane, status bar, input line, help overlay.

Everything here reads the ``Console`` at render time (fragment functions and Conditions);
no widget holds state of its own.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from prompt_toolkit.filters import Condition
from prompt_toolkit.layout import (
    ConditionalContainer, Float, FloatContainer, FormattedTextControl, HSplit, Layout, Window,
)
from prompt_toolkit.layout.controls import BufferControl
from prompt_toolkit.layout.processors import BeforeInput
from prompt_toolkit.widgets import Frame

from espmon.console.help_view import help_fragments
from espmon.console.keys import describe
from espmon.console.output_window import OutputWindow

if TYPE_CHECKING:  # pragma: no cover
    from espmon.console.app import Console

__all__ = ["build_layout", "status_fragments", "help_fragments"]

Fragments = list[tuple[str, str]]


def _size(n: int) -> str:
    if n < 10_000:
        return f"{n} B"
    if n < 10_000_000:
        return f"{n / 1000:.1f} kB"
    return f"{n / 1_000_000:.1f} MB"


def _state(con: "Console") -> tuple[str, str]:
    link = con.session.link_state
    if link == "disconnected":
        return "class:status.state.disconnected", " reconnecting "
    if link == "closed":
        return "class:status.state.disconnected", " closed "
    if link == "connected" and getattr(con.session, "modem_lines", None) and con.session.rts and not con.session.dtr:
        # the DevKit circuit: RTS asserted with DTR released pulls EN low
        return "class:status.state.crashed", " held in reset (RTS) "
    state = con.engine.state_at(time.time())
    style = {"crashed": "crashed", "boot loop": "crashed", "download mode": "download"}.get(state, "running")
    return f"class:status.state.{style}", f" {state} "


def _lines(con: "Console") -> str:
    s = con.session
    if getattr(s, "modem_lines", None) is False:
        return "| no DTR/RTS: cannot reset "
    if not hasattr(s, "dtr"):
        return ""
    if not s.dtr and not s.rts:
        return "| DTR/RTS off "
    return f"| DTR {'on' if s.dtr else 'off'} RTS {'on' if s.rts else 'off'} "


def _short(url: str, width: int = 36) -> str:
    return url if len(url) <= width else url[: width // 2 - 1] + "\u2026" + url[-(width // 2):]


def status_fragments(con: "Console") -> Fragments:
    """State first (it matters most), then the port, counters, log and flags."""
    s = con.session
    frags: Fragments = [_state(con)]
    if con.question is not None:
        frags.append(("class:status.error", f" {con.question[0]} [y/N] "))
    if con.progress is not None:
        what, percent = con.progress
        filled = percent * 20 // 100
        frags.append(("class:status.message", f" {what} [{'#' * filled}{'.' * (20 - filled)}] {percent:3d}% "))
    if con.view.paused:
        frags.append(("class:status.paused", f" {con.view.reason or 'paused'} +{con.view.new_lines()} "))
    if con.menu_pending():
        frags.append(("class:status.message", f" {describe((con.keymap.menu,))} \u2026 (then Ctrl+H: help) "))
    text, error, until = con.status_message
    if text and time.monotonic() < until:
        frags.append(("class:status.error" if error else "class:status.message", f" {text} "))
    frags += [
        ("class:status.port", f" {_short(s.url)} "),
        ("class:status", f"{s.baud} | {con.engine.chip or 'chip ?'} | rx {_size(s.rx_bytes)} tx {_size(s.tx_bytes)} "),
    ]
    log = con.engine.log
    if log is not None and log.failure:
        frags.append(("class:status.error", f"| log {log.raw_path.name} FAILED "))
    else:
        frags.append(("class:status", f"| log {log.raw_path.name} " if log is not None else "| no log "))
    flags = ["RAW" if con.raw_mode else "LINE", con.settings.eol]
    for on, name in ((con.echo, "echo"), (con.engine.hex_view, "hex"), (con.timestamps, "time"),
                     (not con.show_output, "HIDDEN"), (con.freeze_on_crash, "freeze")):
        if on:
            flags.append(name)
    frags.append(("class:status.flag", "| " + " ".join(flags) + " "))
    flt = con.engine.print_filter
    if flt is not None:
        frags.append(("class:status.flag", f"| filter {_short(flt.spec, 24)} "))
    frags.append(("class:status", _lines(con)))  # last: the least needed, cut first on a narrow screen
    return frags


def build_layout(con: "Console") -> Layout:
    output = OutputWindow(con.output_control, covered=lambda: con.help_visible)
    status = Window(FormattedTextControl(lambda: status_fragments(con)), height=1, style="class:status")
    input_line = Window(
        BufferControl(buffer=con.input, input_processors=[BeforeInput(lambda: con.prompt_text(), style="class:input.prompt")]),
        height=1,
    )
    show_input = Condition(lambda: not con.raw_mode or con.prompt_open)
    raw_hint = Window(
        FormattedTextControl(lambda: [("class:input.raw", con.raw_hint())]), height=1,
    )
    body = HSplit([
        output,
        status,
        ConditionalContainer(input_line, filter=show_input),
        ConditionalContainer(raw_hint, filter=~show_input),
    ])
    help_box = Frame(Window(FormattedTextControl(lambda: help_fragments(con)), style="class:help"),
                     style="class:help.border")
    root = FloatContainer(
        content=body,
        floats=[Float(ConditionalContainer(help_box, filter=Condition(lambda: con.help_visible)), top=1, bottom=3,
                     left=1, right=1)],
    )
    con.output_window = output
    con.input_window = input_line
    return Layout(root, focused_element=input_line)
