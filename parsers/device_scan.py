"""The device-log parser's block pre-filter: which lines of a block may be more than an
ordinary log line.

At a few MB/s the per-line parser call is the monitor's biggest cost, yet nearly every line
is an ordinary ``I (123) tag: message`` (or plain ``printf`` text) that yields nothing but a
``LogLine``. While the parser is idle (not inside a panic or a task-watchdog list), a line
can be anything else only if it

- holds an ESC or a CR (``clean_line`` rewrites those lines in the middle),
- starts with a prefix of a recogniser (``_BY_FIRST`` of ``device_log``) or with something
  ``clean_line`` may cut away (``CHANGED_START``: indentation, timestamps, junk bytes),
- is an ESP-IDF log line of a tag with its own knowledge (``_BY_TAG``, ``boot.*``), or
- holds a glued marker (``_GLUE``: "Guru Meditation", "rst:0x", ...) anywhere.

``LineScan`` finds those lines in a whole block with one anchored regex pass (a literal
``\\n`` prefix, so the regex engine jumps from line to line) and, per marker, a search for
its rarest character checked in place; the parser runs only on the lines found. It is built
from the parser's own tables, so the two cannot drift apart (a new way of recognising a line
must show in those tables); ``tests/test_device_log_block.py`` checks the equivalence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from parsers.device_text import CHANGED_START

__all__ = ["LineScan"]


class LineScan:
    """Offsets of the lines of a block that need the full parser (a superset is fine)."""

    def __init__(self, prefixes: Iterable[str], tags: Iterable[str], markers: Iterable[str]) -> None:
        tag_rx = "|".join(re.escape(t) for t in sorted(set(tags), key=len, reverse=True))
        # By first character, so the regex engine rejects most alternatives with one compare.
        by_first: dict[str, set[str]] = {}
        for prefix in prefixes:
            by_first.setdefault(prefix[:1], set()).add(prefix[1:])
        starts = []
        for first, rests in sorted(by_first.items()):
            if "" in rests:  # the first character alone is enough
                starts.append(re.escape(first))
            else:
                rest = "|".join(re.escape(r) for r in sorted(rests, key=len, reverse=True))
                starts.append(f"{re.escape(first)}(?:{rest})")
        idf = f"\\([0-9:.]+\\) (?:{tag_rx})"
        # log levels no recogniser prefix starts with ("I (12) wifi: ...", most lines): settled
        # by the tag check alone, before the long alternation is tried
        quick = "".join(c for c in "EWIDV" if c not in by_first)
        line_start = f"[EWIDV] {idf}|{'|'.join(starts)}|{CHANGED_START}"
        if quick:
            line_start = f"[{quick}] {idf}|(?![{quick}] )(?:{line_start})"
        self._first = re.compile(f"(?:{line_start})")
        self._next = re.compile(f"\n(?:{line_start})")
        # ESC and CR: clean_line rewrites such lines anywhere, not only at their start
        self._markers = tuple((m, *_anchor(m)) for m in sorted(set(markers) | {"\x1b", "\r"}))

    def line_starts(self, text: str, pos: int = 0) -> list[int]:
        """Sorted offsets (at or after ``pos``, itself a line start) of the lines to parse."""
        found: set[int] = set()
        if self._first.match(text, pos):
            found.add(pos)
        for m in self._next.finditer(text, pos):
            found.add(m.start() + 1)
        for marker, anchor, offset in self._markers:
            _find_marker(text, pos, marker, anchor, offset, found)
        return sorted(found)


# How common a character is in console text, most common first. A marker is looked for by
# its rarest character (a memchr-speed search) and checked in place; a character that turns
# out to be common in this text hands over to a search for the whole marker.
_COMMON = " etaoinsrhldcu:0123456789().mfpgwybvkx,=_-/'\"ESTAIRONLCDMHBUWKVYXQZjqz"
_MISSES = 16


def _anchor(marker: str) -> tuple[str, int]:
    rank = {c: i for i, c in enumerate(_COMMON)}
    anchor = max(marker, key=lambda c: rank.get(c, len(_COMMON)))
    return anchor, marker.index(anchor)


def _find_marker(text: str, pos: int, marker: str, anchor: str, offset: int, found: set[int]) -> None:
    """Add the start of each line (at or after ``pos``) that holds ``marker``."""
    find, rfind = text.find, text.rfind
    misses = 0
    i = find(anchor, pos + offset)
    while i >= 0:
        start = i - offset
        if text.startswith(marker, start):
            nl = rfind("\n", pos, start)
            found.add(nl + 1 if nl >= 0 else pos)
            eol = find("\n", i)
            if eol < 0:
                return
            i = find(anchor, eol + 1 + offset)
        elif misses < _MISSES:
            misses += 1
            i = find(anchor, i + 1)
        else:  # every occurrence before this one was checked: the whole marker from here
            i = find(marker, start + 1)
            anchor, offset = marker, 0
