"""What part of the scrollback is on screen: follow the newest line, or stay pinned
(paused, scrolled back, a search hit, frozen on a crash) while data keeps arriving."""

from __future__ import annotations

import re

from espmon.console.scrollback import Scrollback

__all__ = ["View"]


class View:
    def __init__(self, store: Scrollback) -> None:
        self.store = store
        self.bottom: int | None = None  # None: follow the newest line
        self.reason = ""
        self.search: re.Pattern[str] | None = None
        self.hit: int | None = None
        self.height = 20  # rows of the output pane at the last render

    @property
    def paused(self) -> bool:
        return self.bottom is not None

    def last_line(self) -> int:
        """Absolute number of the line drawn at the bottom."""
        if self.bottom is None:
            return self.store.total - 1
        return max(self.store.first, min(self.bottom, self.store.total - 1))

    def new_lines(self) -> int:
        return 0 if self.bottom is None else max(0, self.store.total - 1 - self.last_line())

    def follow(self) -> None:
        self.bottom = None
        self.reason = ""

    def pause(self, reason: str = "paused") -> None:
        self.bottom = self.last_line()
        self.reason = reason

    def toggle_pause(self) -> None:
        if self.paused:
            self.follow()
        else:
            self.pause()

    def scroll(self, lines: int) -> None:
        """Negative: back in time. Scrolling past the newest line follows again."""
        target = self.last_line() + lines
        if target >= self.store.total - 1:
            self.follow()
            return
        self.bottom = max(self.store.first + min(self.height, len(self.store)) - 1, target)
        self.reason = self.reason or "scrolled back"

    def page(self, pages: int) -> None:
        self.scroll(pages * max(1, self.height - 2))

    def top(self) -> None:
        self.bottom = min(self.store.total - 1, self.store.first + self.height - 1)
        self.reason = "scrolled back"

    def show_from(self, index: int, reason: str) -> None:
        """Pin the view so that line ``index`` is near the top of the pane."""
        self.bottom = min(self.store.total - 1, index + max(0, self.height - 3))
        self.reason = reason

    def find(self, pattern: re.Pattern[str], backwards: bool = True) -> bool:
        """Search from the line after/before the last hit (or the bottom line)."""
        self.search = pattern
        if self.hit is None:
            start = self.last_line()
        else:
            start = self.hit - 1 if backwards else self.hit + 1
        if start >= self.store.total and not backwards:
            return False
        hit = self.store.search(pattern, start, backwards)
        if hit is None:
            return False
        self.hit = hit
        self.bottom = min(self.store.total - 1, hit + self.height // 2)
        self.reason = f"search /{pattern.pattern}/"
        return True

    def clear_search(self) -> None:
        self.search = None
        self.hit = None
