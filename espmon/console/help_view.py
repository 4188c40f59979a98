"""The help overlay: keys and :commands from the command table, in one or two columns,
scrolled by ``Console.help_scroll`` (Up/Down/PageUp/PageDown/Home/End while it is open).

Key lists are shown whole: a key list wider than its column gets a row of its own, with
the description on the next row. At 80x24 the text is longer than the box: it scrolls,
and the last row says where you are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from espmon.console.commands import COMMANDS
from espmon.console.keys import describe

if TYPE_CHECKING:  # pragma: no cover
    from espmon.console.app import Console

__all__ = ["help_fragments", "help_lines", "help_height", "scroll_help"]

Fragments = list[tuple[str, str]]
_KEY_COLUMN = 22  # wider key lists get their own row
_GROUPS = (("device", "Device"), ("console", "Console"), ("view", "Scrollback"), ("loader", "Loader (esptool)"))


def keys_text(con: "Console", name: str) -> str:
    """Compact key list: "Ctrl+], Ctrl+T Ctrl+X/x/q" (menu sequences grouped)."""
    menu = con.keymap.menu
    direct, after_menu = [], []
    for seq in con.keymap.bindings.get(name, []):
        if len(seq) == 2 and seq[0] == menu:
            after_menu.append(describe(seq[1:]))
        else:
            direct.append(describe(seq))
    if after_menu:
        direct.append(describe((menu,)) + " " + "/".join(after_menu))
    return ", ".join(direct)


def _group_rows(con: "Console", group: str, title: str, width: int) -> list[Fragments]:
    rows: list[Fragments] = [[("class:help.title", title)]]
    for cmd in COMMANDS:
        if cmd.group != group:
            continue
        keys = keys_text(con, cmd.name)
        text = f"{cmd.name}{' ' + cmd.arg if cmd.arg else ''}: {cmd.help}"
        if len(keys) > _KEY_COLUMN:
            rows.append([("class:help.key", " " + keys)])
            keys = ""
        rows.append([("class:help.key", f" {keys:<{_KEY_COLUMN}} "), ("class:help", text)])
    return [_clip(row, width) for row in rows]


def help_lines(con: "Console", width: int) -> list[Fragments]:
    """Every row of the help (without the scroll position), for a box ``width`` wide."""
    two = width >= 2 * (_KEY_COLUMN + 40)
    col = width // 2 - 1 if two else width
    groups = [_group_rows(con, g, title, col) for g, title in _GROUPS]
    def stacked(parts: list[list[Fragments]]) -> list[Fragments]:
        rows: list[Fragments] = []
        for part in parts:
            rows += ([[]] if rows else []) + part
        return rows

    left = stacked(groups[:2] if two else groups)
    right = stacked(groups[2:]) if two else []
    lines: list[Fragments] = []
    for i in range(max(len(left), len(right))):
        row = list(left[i]) if i < len(left) else []
        if i < len(right):
            used = sum(len(t) for _, t in row)
            row.append(("class:help", " " * (col - used + 1)))
            row.extend(right[i])
        lines.append(row)
    lines.append([])
    for text in (" Line mode: Enter sends the line, ':cmd' runs a command, '::x' sends ':x'.",
                 " Remap keys: --keys FILE."):
        lines.append([("class:help", _clip_text(text, width))])
    return lines


def help_height(con: "Console") -> int:
    """Rows of text inside the box (the float leaves 1 row above, 3 below, 2 for the frame),
    less the title and the position row."""
    return max(3, con.app.output.get_size().rows - 4 - 2 - 2)


def scroll_help(con: "Console", delta: int | None) -> None:
    """Scroll by delta rows; None = to the end."""
    width = con.app.output.get_size().columns - 4
    last = max(0, len(help_lines(con, width)) - help_height(con))
    con.help_scroll = last if delta is None else min(last, max(0, con.help_scroll + delta))


def help_fragments(con: "Console") -> Fragments:
    width = con.app.output.get_size().columns - 4
    lines = help_lines(con, width)
    height = help_height(con)
    top = min(con.help_scroll, max(0, len(lines) - height))
    frags: Fragments = [("class:help.title", " espmon monitor: keys and :commands (Esc closes)\n")]
    for row in lines[top:top + height]:
        frags.extend(row)
        frags.append(("class:help", "\n"))
    if len(lines) > height:
        end = min(len(lines), top + height)
        frags.append(("class:help.title", f" rows {top + 1}-{end} of {len(lines)}: Up/Down/PageUp/PageDown scroll"))
    return frags


def _clip_text(text: str, width: int) -> str:
    return text[:max(0, width)]


def _clip(frags: Fragments, width: int) -> Fragments:
    out: Fragments = []
    for style, text in frags:
        if width <= 0:
            break
        out.append((style, text[:width]))
        width -= len(text)
    return out
