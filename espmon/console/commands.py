"""The one command table. Keys map to these names (keys.py), ``:name ARG`` runs them from the
input line, and the help screen is generated from it. Handlers live in actions.py.

Default keys follow esp-idf-monitor (Ctrl+] exit; Ctrl+T menu then Ctrl+R reset, Ctrl+P
bootloader, Ctrl+Y output, Ctrl+L log, Ctrl+I timestamps, Ctrl+H help, Ctrl+X exit), plus
miniterm's runtime changes under lowercase letters, and ``x``/``q`` exits for keyboards
where Ctrl+] needs AltGr. ``MENU`` stands for the menu key (Ctrl+T unless remapped).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from espmon.console import actions as A
from espmon.console import capture_actions as C
from espmon.console import flash_actions as F

__all__ = ["Command", "COMMANDS", "BY_NAME", "lookup"]


@dataclass(frozen=True)
class Command:
    name: str
    keys: tuple[str, ...]
    help: str
    handler: Callable[..., None]
    arg: str = ""  # what ``:name ARG`` takes ("" = nothing)
    aliases: tuple[str, ...] = ()
    group: str = "device"


COMMANDS: tuple[Command, ...] = (
    Command("exit", ("c-]", "MENU c-x", "MENU x", "MENU X", "MENU q", "MENU Q"), "leave the monitor",
            A.cmd_exit, aliases=("quit", "q", "x"), group="console"),
    Command("help", ("MENU c-h", "MENU h", "MENU H", "MENU ?"), "this help",
            A.cmd_help, group="console"),
    Command("reset", ("MENU c-r",), "reset the chip (boots the app)", A.cmd_reset),
    Command("bootloader", ("MENU c-p",), "reset into download mode",
            A.cmd_bootloader),
    Command("send-menu-key", ("MENU MENU",), "send the menu key itself", A.cmd_send_menu_key),
    Command("send-exit-key", ("MENU c-]",), "send Ctrl+] itself", A.cmd_send_exit_key),
    Command("send", (), "send TEXT + end of line", A.cmd_send, arg="TEXT"),
    Command("baud", ("MENU b",), "change the baud rate", A.cmd_baud, arg="BAUD"),
    Command("toggle-dtr", ("MENU d",), "toggle DTR (GPIO0)", A.cmd_toggle_dtr),
    Command("toggle-rts", ("MENU r",), "toggle RTS (EN; on = in reset)",
            A.cmd_toggle_rts),
    Command("send-break", ("MENU c-b",), "send a BREAK", A.cmd_send_break),
    Command("eol", ("MENU l",), "end of line: CR, LF or CRLF", A.cmd_eol,
            arg="[CR|LF|CRLF]"),
    Command("toggle-echo", ("MENU e",), "echo what is sent", A.cmd_toggle_echo),
    Command("raw-keys", ("MENU k",), "line input / raw keys",
            A.cmd_raw_keys, group="console"),
    Command("toggle-output", ("MENU c-y",), "hide/show output (still logged)", A.cmd_toggle_output,
            group="console"),
    Command("toggle-log", ("MENU c-l",), "start/stop the log file", A.cmd_toggle_log,
            arg="[FILE]", aliases=("log",), group="console"),
    Command("toggle-timestamps", ("MENU c-i", "MENU i", "MENU I"), "host timestamps", A.cmd_toggle_timestamps,
            aliases=("timestamps",), group="console"),
    Command("toggle-hex", ("MENU v",), "hex view", A.cmd_toggle_hex, group="console"),
    Command("pause", ("MENU s", "MENU space"), "pause/resume scrolling", A.cmd_pause,
            group="view"),
    Command("follow", ("c-end", "MENU end"), "follow the newest line", A.cmd_follow, group="view"),
    Command("page-up", ("pageup",), "scroll back a page", A.cmd_page_up, group="view"),
    Command("page-down", ("pagedown",), "scroll forward a page", A.cmd_page_down, group="view"),
    Command("scroll-up", ("s-up", "c-up"), "scroll back a line", A.cmd_scroll_up, group="view"),
    Command("scroll-down", ("s-down", "c-down"), "scroll forward a line", A.cmd_scroll_down, group="view"),
    Command("top", ("c-home", "MENU home"), "oldest line kept", A.cmd_top, group="view"),
    Command("search", ("MENU /",), "search back for REGEX", A.cmd_search, arg="REGEX",
            group="view"),
    Command("search-next", ("f3", "MENU n"), "next (older) match", A.cmd_search_next, group="view"),
    Command("search-prev", ("MENU N",), "previous (newer) match", A.cmd_search_prev, group="view"),
    Command("freeze-on-crash", ("MENU f",), "stop at a loop's 1st crash", A.cmd_freeze_on_crash,
            group="view"),
    Command("clear", (), "clear the scrollback", A.cmd_clear, group="view"),
    Command("mouse", ("MENU m",), "mouse wheel scrolls", A.cmd_mouse,
            group="console"),
    Command("flash", ("MENU c-f",), "flash ADDR FILE ... (default: the last set / the project)", F.cmd_flash,
            arg="[ADDR FILE ...]", group="loader"),
    Command("flash-app", ("MENU c-a",), "flash the project's app only", F.cmd_flash_app, group="loader"),
    Command("erase", (), "erase the whole flash (asks first)", F.cmd_erase, group="loader"),
    Command("erase-region", (), "erase SIZE bytes of flash at ADDR", F.cmd_erase_region, arg="ADDR SIZE",
            group="loader"),
    Command("verify", (), "read back the last set (or ADDR FILE ...) and compare", F.cmd_verify,
            arg="[ADDR FILE ...]", group="loader"),
    Command("read", (), "read flash into FILE", F.cmd_read, arg="ADDR SIZE FILE", group="loader"),
    Command("chip", (), "chip type, features, MAC (esptool chip-id)", F.cmd_chip, group="loader"),
    Command("mac", (), "the chip's MAC (esptool read-mac)", F.cmd_mac, group="loader"),
    Command("flash-id", (), "flash maker, device, size (esptool flash-id)", F.cmd_flash_id, group="loader"),
    Command("capture", (), "record every byte on the port: on [FILE] | off", C.cmd_capture, arg="on [FILE]|off",
            group="loader"),
    Command("trace", (), "show the loader's packets while it runs: on | off", C.cmd_trace, arg="on|off",
            group="loader"),
    Command("info", ("MENU c-n",), "port and line states", A.cmd_info, group="console"),
    Command("command", ("MENU :",), "type a :command", A.cmd_command_line, group="console"),
)

BY_NAME: dict[str, Command] = {}
for _cmd in COMMANDS:
    BY_NAME[_cmd.name] = _cmd
    for _alias in _cmd.aliases:
        BY_NAME[_alias] = _cmd


def lookup(name: str) -> Command | None:
    return BY_NAME.get(name.lower())
