"""What one monitor session was asked to do (the command line, resolved)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = ["EOLS", "MonitorSettings", "Stamper"]

EOLS = {"CR": b"\r", "LF": b"\n", "CRLF": b"\r\n"}


@dataclass
class MonitorSettings:
    url: str
    baud: int = 115200
    elf: list[str] = field(default_factory=list)
    reset: bool = True
    timestamps: bool = False
    timestamp_format: str = "%Y-%m-%d %H:%M:%S"
    print_filter: str | None = None
    log_path: str | None = None
    eol: str = "CR"
    encoding: str = "utf-8"
    color: str = "auto"  # auto | always | never (plain mode: keep the device's SGR colours?)
    freeze_on_crash: bool = False
    scrollback: int = 100_000
    keys_file: str | None = None
    chip: str | None = None

    @property
    def eol_bytes(self) -> bytes:
        return EOLS[self.eol]


class Stamper:
    """Host timestamps for shown lines; the strftime part is cached per second."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self._second = -1
        self._text = ""

    def __call__(self, t: float) -> str:
        sec = int(t)
        if sec != self._second:
            self._second = sec
            self._text = time.strftime(self.fmt, time.localtime(sec))
        if "%f" in self.fmt:  # strftime has no sub-seconds: offer %f as milliseconds
            return self._text.replace("%f", f"{int((t - sec) * 1000):03d}")
        return self._text
