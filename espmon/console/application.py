"""prompt_toolkit's Application, with the menu key waiting for its second key forever.

prompt_toolkit gives up on a key sequence after ``timeoutlen`` (1 s) and then handles the
keys one by one: Ctrl+T, a pause, Ctrl+R did not reset, and Ctrl+T, a pause, ``x`` typed an
``x``. esp-idf-monitor waits for the key after the menu key as long as the user takes, so
while the key buffer starts with the menu key the timeout is "forever" (a very long one, not
None: None would leave running a 1 s timer started by an earlier key press). Every key press also
redraws, so the pending-menu hint in the status bar shows at once (no handler runs for the
menu key alone, and prompt_toolkit redraws only after a handler).
"""

from __future__ import annotations

from typing import Any

from prompt_toolkit.application import Application

__all__ = ["ConsoleApplication"]

_FOREVER = 10.0 ** 9  # seconds (~30 years)


class ConsoleApplication(Application[int]):
    def __init__(self, *, menu_key: str, **kwargs: Any) -> None:
        self.menu_key = menu_key
        super().__init__(**kwargs)
        self.key_processor.after_key_press += lambda _processor: self.invalidate()

    def menu_pending(self) -> bool:
        processor = getattr(self, "key_processor", None)  # None while Application.__init__ runs
        buffer = processor.key_buffer if processor is not None else ()
        return bool(buffer) and buffer[0].key == self.menu_key

    @property  # type: ignore[override]
    def timeoutlen(self) -> float | None:  # read by the key processor after each key press
        return _FOREVER if self.menu_pending() else self._timeoutlen

    @timeoutlen.setter
    def timeoutlen(self, value: float | None) -> None:
        self._timeoutlen = value
