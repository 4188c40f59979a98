"""``--print-filter "tag:L ..."``: esp-idf-monitor's syntax and semantics.

Each item is ``tag:level`` (levels N E W I D V, ``*`` = V; a bare ``tag`` means V); the
tag ``*`` sets the level for every other tag. A line that is not an ESP-IDF log line is
shown unless the filter says ``*:N`` (or lists tags without ``*``, which means "only these").
Matching runs on the text with colours removed, and accepts any timestamp in the
parentheses (tick counts or ``HH:MM:SS.mmm`` system time).
"""

from __future__ import annotations

import re

from espmon.errors import UserError

__all__ = ["PrintFilter"]

_LEVELS = {"N": 0, "E": 1, "W": 2, "I": 3, "D": 4, "V": 5, "*": 5, "": 5}
_LINE = re.compile(r"([EWIDV]) (?:\([^)]*\) )?([^:]+): ")


class PrintFilter:
    def __init__(self, spec: str) -> None:
        self.spec = spec
        self._tags: dict[str, int] = {}
        items = spec.split()
        if not items:
            self._tags["*"] = 5
        for item in items:
            tag, sep, level = item.partition(":")
            if not tag:
                raise UserError(f"--print-filter: no tag before ':' in {item!r}")
            if ":" in level:
                raise UserError(f"--print-filter: too many ':' in {item!r} (expected tag:level)")
            lev = _LEVELS.get(level.upper()) if sep else 5
            if lev is None:
                raise UserError(f"--print-filter: unknown level {level!r} in {item!r} (expected N, E, W, I, D, V or *)")
            self._tags[tag] = lev
        self._default = self._tags.get("*", 0)
        self.passes_all = self._tags == {"*": 5}

    def describe(self) -> str:
        """The filter in words, for the note at start."""
        def level(lev: int) -> str:
            return "hidden" if lev == 0 else "EWIDV"[:lev] if lev < 5 else "every level"
        tags = [f"{tag} {level(lev)}" for tag, lev in self._tags.items() if tag != "*"]
        tags.append(f"{'other tags' if tags else 'every tag'} {level(self._default)}")
        other = "shown" if self._default > 0 else "hidden"
        return (f"print filter {self.spec!r}: " + ", ".join(tags) + f", lines that are not ESP-IDF log lines {other}"
                " (the log keeps every line)")

    def match(self, plain_line: str) -> bool:
        m = _LINE.match(plain_line)
        if m is None:
            return self._default > 0
        level = _LEVELS[m.group(1)]
        return self._tags.get(m.group(2), self._default) >= level
