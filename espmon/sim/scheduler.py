"""One timer thread for every virtual board in the process.

Boards schedule their timed behaviour (boot steps, heartbeat, watchdog resets) here
instead of starting a thread each; the thread sleeps on a condition until the next
deadline, so an idle board costs nothing between events.
"""

from __future__ import annotations

import heapq
import itertools
import sys
import threading
import time
import traceback
from typing import Callable

__all__ = ["Timer", "call_later", "SCHEDULER"]


class Timer:
    __slots__ = ("when", "fn", "cancelled")

    def __init__(self, when: float, fn: Callable[[], None]):
        self.when = when
        self.fn = fn
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Scheduler:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def call_later(self, delay: float, fn: Callable[[], None]) -> Timer:
        timer = Timer(time.monotonic() + max(0.0, delay), fn)
        with self._cond:
            heapq.heappush(self._heap, (timer.when, next(self._seq), timer))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="espmon-sim-timers", daemon=True)
                self._thread.start()
            self._cond.notify()
        return timer

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    while self._heap and self._heap[0][2].cancelled:
                        heapq.heappop(self._heap)
                    if not self._heap:
                        self._cond.wait()
                        continue
                    delay = self._heap[0][0] - time.monotonic()
                    if delay <= 0:
                        timer = heapq.heappop(self._heap)[2]
                        break
                    self._cond.wait(delay)
            if timer.cancelled:
                continue
            try:
                timer.fn()
            except Exception:  # a board bug must not stop every other board's timers
                traceback.print_exc(file=sys.stderr)


SCHEDULER = Scheduler()


def call_later(delay: float, fn: Callable[[], None]) -> Timer:
    return SCHEDULER.call_later(delay, fn)
