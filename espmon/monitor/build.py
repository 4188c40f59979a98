"""Wiring shared by the console and the plain monitor: the engine and the log of a session."""

from __future__ import annotations

from espmon.errors import UserError
from espmon.logfile import SessionLog
from espmon.monitor.elf_check import ElfCheck
from espmon.monitor.engine import MonitorEngine
from espmon.monitor.knowledge import load_knowledge, load_symbolizer
from espmon.monitor.print_filter import PrintFilter
from espmon.monitor.settings import MonitorSettings

__all__ = ["build_engine", "open_log"]


def open_log(path: str | None) -> SessionLog | None:
    if not path:
        return None
    try:
        return SessionLog(path)
    except OSError as exc:
        raise UserError(f"--log {path}: cannot write it: {exc.strerror or exc}") from None


def build_engine(settings: MonitorSettings, log: SessionLog | None = None) -> MonitorEngine:
    return MonitorEngine(
        load_knowledge(settings.chip),
        symbolizer=load_symbolizer(settings.elf),
        encoding=settings.encoding,
        print_filter=PrintFilter(settings.print_filter) if settings.print_filter else None,
        log=log,
        elf_check=ElfCheck(settings.elf) if settings.elf else None,
    )
