"""The running app: its own output lines, a heartbeat, a few typed commands, and the
crash path.

Commands (a line typed on the console): ``help``, ``version``, ``echo TEXT``, ``panic``
(crash now, even without the ``panic`` fault) and ``restart`` (esp_restart()).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from espmon.sim.banner import NL
from espmon.sim.boot import AppInfo
from espmon.sim.bootlog import mapped
from espmon.sim.panic import Crash, panic_dump

if TYPE_CHECKING:
    from espmon.sim.board import Board

__all__ = ["AppRuntime", "COMMANDS"]

COMMANDS = ("help", "version", "echo TEXT", "panic", "restart")
HEARTBEAT = 1.0
PANIC_AFTER = 0.4  # seconds from app_main() to the crash with the panic fault


class AppRuntime:
    def __init__(self, board: Board, info: AppInfo, *, crash_on_start: bool = False,
                 heartbeat: float = HEARTBEAT):
        self.board = board
        self.info = info
        self.crash_on_start = crash_on_start
        self.heartbeat = heartbeat
        self.ticks = 0
        self._started = time.monotonic()
        self._line = bytearray()

    # --- timeline -------------------------------------------------------------------------

    def start(self) -> None:
        self._started = time.monotonic()
        self.board.send_text("".join(line + NL for line in self.info.lines))
        if self.crash_on_start:
            self.board.schedule(PANIC_AFTER, self.crash)
        elif self.heartbeat > 0:
            self.board.schedule(self.heartbeat, self._tick)

    def now_ms(self) -> int:
        return self.info.clock_ms + int((time.monotonic() - self._started) * 1000)

    def log(self, level: str, message: str, tag: str = "app") -> None:
        text = f"{level} ({self.now_ms()}) {tag}: {message}"
        colors = {"I": "\x1b[0;32m", "W": "\x1b[0;33m", "E": "\x1b[0;31m"}
        if self.board.colors and level in colors:
            text = f"{colors[level]}{text}\x1b[0m"
        self.board.send_text(text + NL)

    def _tick(self) -> None:
        self.ticks += 1
        self.log("I", f"tick {self.ticks}")
        self.board.schedule(self.heartbeat, self._tick)

    # --- console input --------------------------------------------------------------------

    def on_input(self, data: bytes) -> None:
        for byte in data:
            if byte in (0x0A, 0x0D):
                if self._line:
                    line = self._line.decode("utf-8", "replace").strip()
                    self._line.clear()
                    self.command(line)
            elif len(self._line) < 256:
                self._line.append(byte)

    def command(self, line: str) -> None:
        word, _, rest = line.partition(" ")
        if word == "panic":
            self.crash()
        elif word in ("restart", "reboot"):
            self.log("I", "Restarting now.")
            self.board.schedule(0.05, lambda: self.board.software_reset("restart"))
        elif word == "version":
            desc = self.info.desc
            name = desc.project_name if desc else "app"
            version = desc.version if desc else "1"
            self.log("I", f"{name} {version}")
        elif word == "echo":
            self.log("I", rest)
        elif word == "help":
            self.log("I", "commands: " + ", ".join(COMMANDS))
        else:
            self.log("W", f"unknown command '{line}' (try 'help')")

    # --- crash ----------------------------------------------------------------------------

    def crash(self) -> None:
        board = self.board
        board.cancel_app_timers()
        desc = self.info.desc
        sha = desc.elf_sha256.hex()[:16] if desc else "0000000000000000"
        board.send_text(panic_dump(board.facts, Crash(self._frames(), self._fault_addr(), sha)))
        board.schedule(board.next_loop_delay(0.05), lambda: board.software_reset("panic"))

    def _fault_addr(self) -> int:
        record = self.info.info
        return record.fault_addr if record else 0

    def _frames(self) -> list[tuple[int, int]]:
        record = self.info.info
        if record and record.frames:
            return list(record.frames)
        # No record: point into the app's first code segment, a few calls deep.
        code = [s for s in self.info.image.segments if mapped(self.board.facts, s.addr)
                and s.addr >= 0x40000000]
        base = code[0].addr if code else self.info.image.entry
        sp = 0x3FFB4F00 if self.board.facts.chip.arch != "riscv" else 0x3FC94F00
        return [(base + 0x120 + 0x40 * n, sp + 0x20 * n) for n in range(3)]
