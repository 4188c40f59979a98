"""What the console leaves on the normal screen when it ends.

The full-screen console gives the terminal back as it was, so without ``--log`` the
backtrace a user wanted to paste would be gone (esp-idf-monitor's output stays in the
terminal). On exit the last screenful of the session is printed, and before it the last
crash with its explanation and decoded frames when it has scrolled out of that screenful.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from espmon.monitor import records as R

if TYPE_CHECKING:  # pragma: no cover
    from espmon.console.scrollback import Scrollback

__all__ = ["exit_tail"]

CRASH_LINES = 80  # at most this much of the last crash (it ends at the next reset)
_LOOK_BACK = 20_000  # lines searched back for the last crash


def _last_crash(store: "Scrollback", before: int) -> int | None:
    """The line a crash explanation explains (the line before the last CRASH record)."""
    stop = max(store.first, before - _LOOK_BACK)
    for index in range(before - 1, stop - 1, -1):
        if store[index][:1] == R.CRASH:
            return max(store.first, index - 1)
    return None


def exit_tail(store: "Scrollback", rows: int) -> str:
    """The text to print (each line ending in a newline; "" for an empty session)."""
    total = store.total
    if total == store.first:
        return ""
    start = max(store.first, total - max(1, rows))
    lines: list[str] = []
    crash = _last_crash(store, total)
    if crash is not None and crash < start:
        end = crash + 1
        while end < min(start, crash + CRASH_LINES) and store[end][:1] != R.RESET:
            end += 1
        lines.append(R.plain_text(R.NOTE + f"the last crash (line {crash + 1} of the session):"))
        lines += [R.plain_text(store[i]) for i in range(crash, end)]
        lines.append(R.plain_text(R.NOTE + f"... the last {total - start} lines:"))
    lines += [R.plain_text(store[i]) for i in range(start, total)]
    text = "\n".join(lines) + "\n"
    return text + "\x1b[0m" if "\x1b" in text else text
