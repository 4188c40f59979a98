"""The loader on a borrowed port: connect, run esptool's commands, give the port back as found.

A :class:`Loader` wraps the open port in a :class:`~espmon.port.proxy.PortProxy` (esptool
cannot close it; a tap may record every byte), connects with esptool's ``detect_chip``,
uploads the stub, and runs esptool's own commands (``write_flash`` with ``skip_flashed``,
``verify_flash``, ``read_flash``, ``erase_*``, ``chip_id``/``read_mac``/``flash_id``).
:meth:`Loader.finish` undoes what esptool changed (baud after CHANGE_BAUDRATE, timeouts,
DTR/RTS), then resets the chip on the same port, so the boot log that follows is read by
whoever holds the port next. Nothing here re-implements what esptool does.

esptool's failures become :class:`FlashError`: esptool's own words, plus the troubleshooting
guide's advice where one fits.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import serial
from esptool import cmds
from esptool.loader import ESPLoader
from esptool.targets import CHIP_LIST
from esptool.util import FatalError, NotImplementedInROMError

from espmon.diagnose.advice import advice_for
from espmon.errors import UserError
from espmon.flash.esptool_log import Report, routed_to
from espmon.port.lines import LineControlError, bootloader_reset, hard_reset
from espmon.port.proxy import PortProxy, Tap

__all__ = ["CHIPS", "FlashError", "LoaderOptions", "Loader", "loader_on"]

CHIPS = ("auto", *CHIP_LIST)
ROM_BAUD = 115200


class FlashError(UserError):
    """A loader job that failed: esptool's words, and the guide's advice for them."""

    def __init__(self, what: str, cause: BaseException | str, evidence: str | None = None) -> None:
        words = str(cause).strip() or type(cause).__name__
        words = " ".join(words.split())  # esptool's multi-line errors, on one line
        super().__init__(f"{what} failed: {words}" + (f" ({evidence})" if evidence else ""))
        self.words = words
        self.evidence = evidence
        self.advice = advice_for(evidence, words)

    def advice_lines(self) -> list[str]:
        """The guide's advice, a line per section, as the CLI and the console show it."""
        return [f"esptool's troubleshooting guide, \u201c{a['section']}\u201d: {a['text']}" for a in self.advice]


# What the chip may print in the middle of the loader's conversation, and what it means.
_EVIDENCE = ((b"Brownout detector was triggered", "the chip printed 'Brownout detector was triggered': a brownout"),)


class _Evidence:
    """A tap that watches what the chip sends for words that explain a failure, and passes
    everything on to the caller's tap."""

    def __init__(self, tap: Tap | None) -> None:
        self.tap = tap
        self.found: str | None = None
        self._tail = b""

    def data(self, direction: str, data: bytes, t: float) -> None:
        if direction == "rx" and self.found is None:
            window = self._tail + data
            for needle, meaning in _EVIDENCE:
                if needle in window:
                    self.found = meaning
            self._tail = window[-64:]
        if self.tap is not None:
            self.tap.data(direction, data, t)

    def change(self, kind: str, value: Any, t: float) -> None:
        if self.tap is not None:
            self.tap.change(kind, value, t)


@dataclass(frozen=True)
class LoaderOptions:
    chip: str = "auto"
    stub: bool = True
    baud: int | None = None  # the flashing baud (CHANGE_BAUDRATE); None: stay at 115200
    before: str = "default-reset"  # esptool's --before: default-reset, usb-reset, no-reset
    connect_attempts: int = 7

    def __post_init__(self) -> None:
        if self.chip not in CHIPS:
            raise UserError(f"--chip {self.chip}: unknown chip (one of {', '.join(CHIPS)})")


def _has_fd(port: Any) -> bool:
    """A local tty, whose lines esptool's tight POSIX reset sets with one ioctl."""
    try:
        return isinstance(port.fileno(), int)
    except Exception:  # noqa: BLE001 - URL ports (sim://, socket://) have none
        return False


@contextlib.contextmanager
def _failure(what: str, evidence: _Evidence | None = None) -> Iterator[None]:
    try:
        yield
    except (FatalError, serial.SerialException, OSError, struct.error) as exc:
        raise FlashError(what, exc, evidence.found if evidence else None) from None


class Loader:
    """esptool's loader on a borrowed port, for one job (connect ... finish)."""

    def __init__(self, port: Any, report: Report, options: LoaderOptions = LoaderOptions(), *,
                 tap: Tap | None = None, usb_jtag: bool = False) -> None:
        self.port = port
        self.report = report
        self.options = options
        self.evidence = _Evidence(tap)
        self.proxy = PortProxy(port, self.evidence)
        self.usb_jtag = usb_jtag
        self.esp: ESPLoader | None = None
        # what esptool will change, put back by finish()
        self._saved = {name: getattr(port, name, None) for name in ("baudrate", "timeout", "write_timeout")}
        self._saved_lines = (getattr(port, "dtr", None), getattr(port, "rts", None))

    @property
    def chip_name(self) -> str:
        return self.esp.CHIP_NAME if self.esp is not None else "?"

    # -- connecting -----------------------------------------------------------------
    def connect(self) -> ESPLoader:
        """Connect, start the stub, change the baud, attach the flash: ready for any job."""
        opts = self.options
        esp = self.detect()
        with _failure("starting the stub flasher" if opts.stub else "connecting to the chip", self.evidence):
            if opts.stub:
                esp = self.esp = cmds.run_stub(esp)
            if opts.baud and opts.baud != ROM_BAUD:
                try:
                    esp.change_baud(opts.baud)
                except NotImplementedInROMError:
                    self.report.message("warning", f"{esp.CHIP_NAME}'s ROM cannot change baud: staying at {ROM_BAUD}")
            cmds.attach_flash(esp)
        return esp

    def detect(self) -> ESPLoader:
        """Reset into the ROM loader and connect: the chip as esptool's ``detect_chip`` finds it."""
        opts = self.options
        before = opts.before.replace("_", "-")
        if before == "default-reset" and not _has_fd(self.port) and not str(self.port.port).startswith("rfc2217:"):
            # esptool's tight reset needs a tty's ioctl; on other URLs it fails once per
            # attempt (~1.3 s lost). espmon's own line reset is esptool's classic one.
            with contextlib.suppress(LineControlError, serial.SerialException, OSError):
                bootloader_reset(self.proxy, usb_jtag=self.usb_jtag)  # through the proxy: a capture sees it
            before = "no-reset"
        with _failure("connecting to the chip", self.evidence):
            esp = cmds.detect_chip(self.proxy, ROM_BAUD, before, connect_attempts=opts.connect_attempts)
        self.esp = esp
        if opts.chip != "auto" and esp.CHIP_NAME.lower().replace("-", "") != opts.chip:
            raise FlashError("connecting to the chip",
                             f"this chip is {esp.CHIP_NAME}, not {opts.chip} (--chip {opts.chip})")
        return esp

    # -- esptool's commands ---------------------------------------------------------
    def write(self, pairs: list[tuple[int, bytes]], *, flash_mode: str = "keep", flash_size: str = "keep",
              flash_freq: str = "keep", skip_unchanged: bool = False, erase_all: bool = False,
              encrypt_files: list[tuple[int, bytes]] | None = None) -> None:
        with _failure("writing the flash", self.evidence):
            cmds.write_flash(self._esp(), pairs, flash_freq=flash_freq, flash_mode=flash_mode,
                             flash_size=flash_size, erase_all=erase_all, skip_flashed=skip_unchanged,
                             encrypt_files=encrypt_files)

    def verify(self, pairs: list[tuple[int, bytes]], *, flash_mode: str = "keep", flash_size: str = "keep",
               flash_freq: str = "keep") -> None:
        with _failure("verifying the flash", self.evidence):
            cmds.verify_flash(self._esp(), pairs, flash_freq=flash_freq, flash_mode=flash_mode,
                              flash_size=flash_size)

    def read(self, address: int, size: int) -> bytes:
        with _failure("reading the flash", self.evidence):
            return cmds.read_flash(self._esp(), address, size)

    def erase_all(self) -> None:
        with _failure("erasing the flash", self.evidence):
            cmds.erase_flash(self._esp())

    def erase_region(self, address: int, size: int) -> None:
        with _failure("erasing a flash region", self.evidence):
            cmds.erase_region(self._esp(), address, size)

    def describe(self, what: str) -> None:
        """esptool's own report (``chip-id``, ``read-mac``, ``flash-id``), as its CLI prints it."""
        command = {"chip": cmds.chip_id, "mac": cmds.read_mac, "flash-id": cmds.flash_id}[what]
        with _failure(f"reading the {what}", self.evidence):
            command(self._esp())

    def _esp(self) -> ESPLoader:
        if self.esp is None:
            raise FlashError("the loader", "not connected")
        return self.esp

    # -- handing the port back ------------------------------------------------------
    def finish(self, reset: str = "hard-reset") -> None:
        """Put back the port's settings, then reset the chip (esptool's ``--after``).

        The baud goes back *before* the reset, so the ROM's first boot line arrives at the
        rate the monitor reads at."""
        port = self.port
        for name, value in self._saved.items():
            if value is not None:
                with contextlib.suppress(Exception):
                    setattr(port, name, value)
        esp = self.esp
        reset = reset.replace("_", "-")
        if esp is not None and reset != "no-reset-stub":
            with contextlib.suppress(FatalError, serial.SerialException, OSError):
                cmds.reset_chip(esp, reset)
        elif esp is None and reset == "hard-reset":
            with contextlib.suppress(LineControlError, serial.SerialException, OSError):
                hard_reset(port)  # a failed connect leaves the chip in the ROM loader
        dtr, rts = self._saved_lines
        with contextlib.suppress(Exception):
            if rts is not None and port.rts != rts:
                port.rts = rts
            if dtr is not None and port.dtr != dtr:
                port.dtr = dtr


@contextlib.contextmanager
def loader_on(port: Any, report: Report, options: LoaderOptions = LoaderOptions(), *, tap: Tap | None = None,
              usb_jtag: bool = False, after: str = "hard-reset") -> Iterator[Loader]:
    """Connect, yield the loader, and always finish: the port goes back as it was lent."""
    loader = Loader(port, report, options, tap=tap, usb_jtag=usb_jtag)
    # on a URL port espmon does the connect reset itself, and there is no USB identity
    hide = () if _has_fd(port) else ('Pre-connection option "no-reset"', "Failed to get VID/PID")
    with routed_to(report, hide):
        try:
            loader.connect()
            yield loader
        finally:
            loader.finish(after)
