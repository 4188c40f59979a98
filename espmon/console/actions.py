"""Handlers of the console commands: ``handler(console, arg)``. Each one is small; the
state they change lives on the ``Console`` (app.py), the port work on the ``Session``."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

from espmon.monitor.settings import EOLS

if TYPE_CHECKING:  # pragma: no cover
    from espmon.console.app import Console

def cmd_exit(con: "Console", arg: str) -> None:
    con.exit()


def cmd_help(con: "Console", arg: str) -> None:
    con.help_visible = not con.help_visible
    con.help_scroll = 0


def cmd_reset(con: "Console", arg: str) -> None:
    if getattr(con.session, "modem_lines", None) is not False:  # else the session says why it cannot
        con.note("resetting the chip")
        con.engine.host_reset(time.time())
    con.session.reset()


def cmd_bootloader(con: "Console", arg: str) -> None:
    if getattr(con.session, "modem_lines", None) is not False:
        con.note("resetting into the bootloader (download mode)")
        con.engine.host_reset(time.time())
    con.session.bootloader()


def cmd_send_menu_key(con: "Console", arg: str) -> None:
    con.send_key(con.keymap.menu)


def cmd_send_exit_key(con: "Console", arg: str) -> None:
    con.send_key("c-]")


def cmd_send(con: "Console", arg: str) -> None:
    con.send_line(arg)


def cmd_baud(con: "Console", arg: str) -> None:
    if not arg:
        con.open_prompt("baud ")
        return
    try:
        baud = int(arg)
        if baud <= 0:
            raise ValueError
    except ValueError:
        con.message(f"baud: {arg!r} is not a positive number", error=True)
        return
    con.session.set_baud(baud)


def cmd_toggle_dtr(con: "Console", arg: str) -> None:
    con.session.set_dtr(not con.session.dtr)


def cmd_toggle_rts(con: "Console", arg: str) -> None:
    con.session.set_rts(not con.session.rts)


def cmd_send_break(con: "Console", arg: str) -> None:
    con.session.send_break()


def cmd_eol(con: "Console", arg: str) -> None:
    names = list(EOLS)
    if arg:
        if arg.upper() not in EOLS:
            con.message(f"eol: {arg!r} is not one of {', '.join(names)}", error=True)
            return
        con.settings.eol = arg.upper()
    else:
        con.settings.eol = names[(names.index(con.settings.eol) + 1) % len(names)]
    con.message(f"end of line sent: {con.settings.eol}")


def cmd_toggle_echo(con: "Console", arg: str) -> None:
    con.echo = not con.echo
    con.message(f"local echo {'on' if con.echo else 'off'}")


def cmd_raw_keys(con: "Console", arg: str) -> None:
    con.set_raw_mode(not con.raw_mode)


def cmd_toggle_output(con: "Console", arg: str) -> None:
    con.show_output = not con.show_output
    shows = con.menu_key_text("c-y")
    con.message("output shown" if con.show_output else f"output hidden (still logged): {shows} shows it")


def cmd_toggle_log(con: "Console", arg: str) -> None:
    con.toggle_log(arg or None)


def cmd_toggle_timestamps(con: "Console", arg: str) -> None:
    con.timestamps = not con.timestamps


def cmd_toggle_hex(con: "Console", arg: str) -> None:
    con.engine.hex_view = not con.engine.hex_view
    con.message(f"hex view {'on' if con.engine.hex_view else 'off'}")


def cmd_pause(con: "Console", arg: str) -> None:
    con.view.toggle_pause()


def cmd_follow(con: "Console", arg: str) -> None:
    con.view.follow()


def cmd_page_up(con: "Console", arg: str) -> None:
    con.view.page(-1)


def cmd_page_down(con: "Console", arg: str) -> None:
    con.view.page(1)


def cmd_scroll_up(con: "Console", arg: str) -> None:
    con.view.scroll(-1)


def cmd_scroll_down(con: "Console", arg: str) -> None:
    con.view.scroll(1)


def cmd_top(con: "Console", arg: str) -> None:
    con.view.top()


def cmd_search(con: "Console", arg: str) -> None:
    if not arg:
        con.open_prompt("/")
        return
    try:
        pattern = re.compile(arg, re.IGNORECASE if arg.islower() else 0)
    except re.error as exc:
        con.message(f"search: bad regular expression {arg!r}: {exc}", error=True)
        return
    con.view.hit = None
    if not con.view.find(pattern):
        con.message(f"/{arg}/: not found")


def _search_again(con: "Console", backwards: bool) -> None:
    if con.view.search is None:
        con.message(f"no search yet: {con.menu_key_text('/')} REGEX, or :/REGEX", error=True)
    elif not con.view.find(con.view.search, backwards=backwards):
        con.message(f"/{con.view.search.pattern}/: no {'older' if backwards else 'newer'} match")


def cmd_search_next(con: "Console", arg: str) -> None:
    _search_again(con, True)


def cmd_search_prev(con: "Console", arg: str) -> None:
    _search_again(con, False)


def cmd_freeze_on_crash(con: "Console", arg: str) -> None:
    con.freeze_on_crash = not con.freeze_on_crash
    con.message(f"freeze on the first crash of a boot loop: {'on' if con.freeze_on_crash else 'off'}")


def cmd_clear(con: "Console", arg: str) -> None:
    con.store.clear()
    con.view.follow()
    con.view.clear_search()


def cmd_mouse(con: "Console", arg: str) -> None:
    con.mouse = not con.mouse
    con.message("mouse wheel scrolls" if con.mouse else "mouse off: the terminal selects text")


def cmd_info(con: "Console", arg: str) -> None:
    s = con.session
    con.note(f"{s.url} {s.baud} baud, DTR {'on' if s.dtr else 'off'}, RTS {'on' if s.rts else 'off'}, "
             f"EOL {con.settings.eol}, encoding {con.settings.encoding}, rx {s.rx_bytes} B, tx {s.tx_bytes} B")


def cmd_command_line(con: "Console", arg: str) -> None:
    con.open_prompt("")


__all__ = sorted(name for name in dir() if name.startswith("cmd_"))
