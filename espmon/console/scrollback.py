"""The bounded scrollback: a ring of records (``espmon.monitor.records``) with host times.

Lines are addressed by absolute number (0 = the first line of the session), so a view
pinned while data keeps arriving stays on the same lines. Only the newest ``capacity``
lines are kept; memory is one list slot and one double per line plus the strings.
"""

from __future__ import annotations

import re
from array import array
from typing import Iterable

__all__ = ["Scrollback"]


class Scrollback:
    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._lines: list[str] = [""] * capacity
        self._times = array("d", bytes(8 * capacity))
        self.total = 0  # lines ever appended
        self._cleared = 0  # lines below this number were cleared by the user

    @property
    def first(self) -> int:
        """Absolute number of the oldest line still kept."""
        return max(self._cleared, self.total - self.capacity)

    def __len__(self) -> int:
        return self.total - self.first

    def extend(self, records: Iterable[str], t: float) -> int:
        lines, times, cap = self._lines, self._times, self.capacity
        n = self.total
        for record in records:
            i = n % cap
            lines[i] = record
            times[i] = t
            n += 1
        added = n - self.total
        self.total = n
        return added

    def __getitem__(self, index: int) -> str:
        if not self.first <= index < self.total:
            raise IndexError(index)
        return self._lines[index % self.capacity]

    def time_of(self, index: int) -> float:
        if not self.first <= index < self.total:
            raise IndexError(index)
        return self._times[index % self.capacity]

    def clear(self) -> None:
        self._cleared = self.total

    def search(self, pattern: re.Pattern[str], start: int, backwards: bool = True, limit: int | None = None) -> int | None:
        """The absolute number of the nearest line matching pattern, from start (inclusive)."""
        first, total = self.first, self.total
        if total == first:
            return None
        start = min(max(start, first), total - 1)
        step = -1 if backwards else 1
        stop = first - 1 if backwards else total
        lines, cap = self._lines, self.capacity
        count = 0
        for index in range(start, stop, step):
            if pattern.search(lines[index % cap]):
                return index
            count += 1
            if limit is not None and count >= limit:
                break
        return None

    def find_kind(self, marker: str, since: float, before: int) -> int | None:
        """The oldest line of kind ``marker`` with time >= since, scanning back from before."""
        found = None
        cap = self.capacity
        for index in range(before - 1, self.first - 1, -1):
            if self._times[index % cap] < since:
                break
            line = self._lines[index % cap]
            if line[:1] == marker:
                found = index
        return found
