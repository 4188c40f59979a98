"""The console's loader commands (``:flash``, ``:flash-app``, ``:erase-region``, ``:read``,
``:chip``, ``:mac``, ``:flash-id``): each one a job of :class:`espmon.flash.jobs.FlashJobs`,
run off the UI thread; esptool's words come back as notes, its progress in the status bar."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from espmon.console.app import Console

__all__ = ["cmd_flash", "cmd_flash_app", "cmd_erase", "cmd_erase_region", "cmd_read", "cmd_verify", "cmd_chip",
           "cmd_mac", "cmd_flash_id"]


class ConsoleReport:
    """A loader job's report, handed to the event loop (the job runs on its own thread)."""

    def __init__(self, con: "Console") -> None:
        self.con = con
        self._tenth = -1

    def message(self, level: str, text: str) -> None:
        if level == "error" or text.endswith("the chip was reset on the same port"):
            self.con._call_soon(self.con.set_progress, None)  # a job that ended takes its bar along
        prefix = {"warning": "warning: ", "error": "error: "}.get(level, "")
        self.con._call_soon(self._show, f"{prefix}{text}", level == "error")

    def _show(self, text: str, error: bool) -> None:
        self.con.note(text)
        if error:
            self.con.message(text, error=True)

    def progress(self, done: int, total: int, what: str) -> None:
        # the status bar's bar; redrawn when the percentage moves, cleared at 100 %
        percent = 100 * done // total if total else 100
        if percent != self._tenth or done >= total:
            self._tenth = -1 if done >= total else percent
            self.con._call_soon(self.con.set_progress, None if done >= total else (what, percent))


def _jobs(con: "Console") -> Any:
    if con.flash_jobs is None:
        from espmon.flash.jobs import FlashJobs

        con.flash_jobs = FlashJobs(con.session, ConsoleReport(con),
                                   before_reset=lambda: con._call_soon(con.engine.host_reset, time.time()))
        con.flash_jobs.flash_set = con.flash_set
    return con.flash_jobs


def _words(con: "Console", arg: str, count: int, usage: str) -> list[str] | None:
    words = arg.split()
    if len(words) != count:
        con.message(f"usage: {usage}", error=True)
        return None
    return words


def _numbers(con: "Console", words: list[str]) -> list[int] | None:
    from espmon.errors import UserError
    from espmon.flash.flash_set import parse_address

    try:
        return [parse_address(word) for word in words]
    except UserError as exc:
        con.message(str(exc), error=True)
        return None


def cmd_flash(con: "Console", arg: str) -> None:
    from espmon.errors import UserError
    from espmon.flash.flash_set import FlashSet, parse_pairs

    flash_set = None
    if arg.strip():
        try:
            flash_set = FlashSet(parse_pairs(arg.split()))
        except UserError as exc:
            con.message(f"flash: {exc}", error=True)
            return
    _jobs(con).flash(flash_set)


def cmd_flash_app(con: "Console", arg: str) -> None:
    from espmon.errors import UserError

    jobs = _jobs(con)
    if jobs.flash_set is None:
        con.message("flash-app: no project (start with espmon flash --project BUILD --monitor)", error=True)
        return
    try:
        jobs.flash(jobs.flash_set.app_only())
    except UserError as exc:
        con.message(f"flash-app: {exc}", error=True)


def cmd_erase(con: "Console", arg: str) -> None:
    """The whole flash: asked first (y/N), as the CLI needs --erase-all."""
    def erase() -> None:
        _jobs(con).start("erase", lambda loader: loader.erase_all())

    con.ask("erase the WHOLE flash (bootloader, partition table, app, data)?", erase)


def cmd_verify(con: "Console", arg: str) -> None:
    """Read back the last flash set (or ADDR FILE ...) and compare, with esptool's verify_flash."""
    from espmon.errors import UserError
    from espmon.flash.flash_set import FlashSet, parse_pairs

    jobs = _jobs(con)
    try:
        flash_set = FlashSet(parse_pairs(arg.split())) if arg.strip() else jobs.flash_set
        if flash_set is None:
            con.message("verify: nothing to verify yet (flash first, or give ADDR FILE pairs)", error=True)
            return
        pairs = [(f.offset, f.read()) for f in flash_set.files]
    except UserError as exc:
        con.message(f"verify: {exc}", error=True)
        return
    jobs.start("verify", lambda loader: loader.verify(pairs, flash_mode=flash_set.flash_mode,
                                                      flash_size=flash_set.flash_size,
                                                      flash_freq=flash_set.flash_freq))


def cmd_erase_region(con: "Console", arg: str) -> None:
    words = _words(con, arg, 2, "erase-region ADDR SIZE")
    numbers = words and _numbers(con, words)
    if numbers:
        _jobs(con).start("erase-region", lambda loader: loader.erase_region(*numbers))


def cmd_read(con: "Console", arg: str) -> None:
    words = _words(con, arg, 3, "read ADDR SIZE FILE")
    numbers = words and _numbers(con, words[:2])
    if not numbers:
        return
    path = Path(words[2])

    def read(loader: Any) -> None:
        data = loader.read(*numbers)
        try:
            path.write_bytes(data)
        except OSError as exc:
            loader.report.message("error", f"read: cannot write {path}: {exc.strerror or exc}")
            return
        loader.report.message("note", f"read {len(data):,} bytes from 0x{numbers[0]:x} into {path}")

    _jobs(con).start("read", read)


def _describe(what: str) -> Any:
    def handler(con: "Console", arg: str) -> None:
        _jobs(con).start(what, lambda loader: loader.describe(what))

    return handler


cmd_chip = _describe("chip")
cmd_mac = _describe("mac")
cmd_flash_id = _describe("flash-id")
