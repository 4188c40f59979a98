"""What a diagnosis can stand on: the events of the device-log, esptool-output and trace
parsers, reduced to evidence keys with their line numbers, and the boots of a device log.

Bounded: a 100 MB log keeps counts and the first lines of each kind of evidence, not every
event (``KEEP``), so memory does not grow with the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from parsers import device_events as D
from parsers import esptool_output as E
from parsers.chips import Chip, chip_by_name, find_chip

__all__ = ["Boot", "Facts", "KEEP"]

KEEP = 200  # lines kept per evidence key, resets and panics kept (the counts go on)

_LINE = re.compile(r"\(line (\d+)\)")
_BANNER_BYTES = {0x65: "'e' of the ROM banner 'ets ...'", 0x45: "'E' of the ROM banner 'ESP-ROM:...'",
                 0x0D: "a CR, the start of the ROM's boot log", 0x0A: "a LF, the start of the ROM's boot log",
                 0x72: "'r' of the ROM's 'rst:0x..' line"}


@dataclass
class Boot:
    """One boot of the chip, from its reset line to the next."""
    line: int
    name: str
    download: bool
    flash_mode: str | None = None
    entry_line: int | None = None
    output_after_entry: bool = False
    ended_by: str | None = None  # what stopped it: a panic cause, "brownout", "invalid header", ...
    ended_line: int | None = None


@dataclass
class Facts:
    chip: Chip | None = None
    chip_line: int | None = None
    evidence: dict[str, list[int]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)  # first value seen per key (a byte, a cause)
    resets: list[dict[str, Any]] = field(default_factory=list)
    reset_count: int = 0
    panics: list[D.Panic] = field(default_factory=list)
    panic_count: int = 0
    boots_ended: dict[str, int] = field(default_factory=dict)  # boot end -> how many boots it ended
    boot: Boot | None = None
    summary: dict[str, Any] | None = None  # the trace analyzer's summary record
    esptool_lines: int = 0
    device_events: int = 0
    command: E.EsptoolCommand | None = None
    _last_reset_line: int = 0

    # --- evidence ------------------------------------------------------------------

    def note(self, key: str, line: int, detail: Any = None) -> None:
        lines = self.evidence.setdefault(key, [])
        if len(lines) < KEEP:
            lines.append(line)
        self.counts[key] = self.counts.get(key, 0) + 1
        if detail is not None:
            self.details.setdefault(key, detail)

    def has(self, *keys: str) -> bool:
        return any(k in self.evidence for k in keys)

    def lines(self, *keys: str) -> list[int]:
        return sorted({n for k in keys for n in self.evidence.get(k, ())})

    def set_chip(self, chip: Chip | None, line: int | None) -> None:
        if chip is not None and self.chip is None:
            self.chip, self.chip_line = chip, line

    # --- boots ---------------------------------------------------------------------

    def _end_boot(self, why: str, line: int) -> None:
        if self.boot is not None and self.boot.ended_by is None:
            self.boot.ended_by, self.boot.ended_line = why, line

    def _close_boot(self, next_reset: str | None) -> None:
        boot = self.boot
        watchdog = bool(next_reset) and any(w in next_reset.upper().replace("_", "") for w in ("WDT", "WATCHDOG")) \
            and "BROWN" not in next_reset.upper()
        if boot is None:
            if watchdog:  # the boot before the log began was ended by a watchdog
                self.note("wdt_reset", self._last_reset_line, next_reset)
            return
        # (at the end of the file a silent boot may just be where the capture stopped)
        if (next_reset is not None and boot.entry_line is not None and not boot.output_after_entry
                and boot.ended_by is None):
            key = "stuck_qio" if (boot.flash_mode or "").upper() in ("QIO", "QOUT") else "stuck_after_entry"
            self.note(key, boot.entry_line, boot.flash_mode)
            boot.ended_by, boot.ended_line = "silent after entry", boot.entry_line
        if boot.ended_by is None and watchdog:
            boot.ended_by = f"watchdog ({next_reset})"
            self.note("wdt_reset", self._last_reset_line, next_reset)
        if boot.ended_by is None and next_reset:
            boot.ended_by = f"reset ({next_reset})"
        if boot.ended_by:
            self.boots_ended[boot.ended_by] = self.boots_ended.get(boot.ended_by, 0) + 1

    def saw_output(self) -> None:
        """Text came after the ROM's ``entry`` line (the bootloader or app ran)."""
        if self.boot is not None and self.boot.entry_line is not None:
            self.boot.output_after_entry = True

    def finish(self) -> None:
        self._close_boot(None)
        self.boot = None

    # --- the device log ------------------------------------------------------------

    def add_device(self, event: D.DeviceEvent, parser_chip: Chip | None) -> None:
        self.device_events += 1
        t = type(event)
        n = event.line
        if t is D.ResetInfo or t is D.Esp8266Reset:
            self._reset(event, parser_chip)
            return
        if self.boot is not None and t not in (D.RomFlashMode, D.RomLoad, D.RomEntry, D.RomBanner, D.RomBuild,
                                                D.SavedPC):
            self.saw_output()
        if t is D.RomBanner:
            self.set_chip(find_chip(event.chip) if event.chip else None, n)
        elif t is D.RomFlashMode:
            if self.boot is not None:
                self.boot.flash_mode = event.mode
        elif t is D.RomEntry:
            if self.boot is not None:
                self.boot.entry_line, self.boot.output_after_entry = n, False
        elif t is D.WaitingForDownload:
            self.note("download", n, "waiting for download")
        elif t is D.InvalidHeader:
            self.note("invalid_header_erased" if event.value == 0xFFFFFFFF else "invalid_header", n, event.value)
            self._end_boot(f"invalid header: 0x{event.value:08x}", n)
        elif t is D.FlashReadError:
            self.note("flash_read_err", n, event.address)
            self._end_boot("flash read err", n)
        elif t is D.ChecksumError:
            self.note("csum_err", n)
            self._end_boot("csum err", n)
        elif t is D.RomHalt:
            qio = self.boot is not None and (self.boot.flash_mode or "").upper() in ("QIO", "QOUT")
            self.note("rom_halt_qio" if qio else "rom_halt", n, f"{event.file} {event.source_line}")
            self._end_boot(f"{event.file} {event.source_line}", n)
        elif t is D.RomHashMismatch:
            self.note("rom_hash", n)
        elif t is D.BootloaderError:
            self.note("bootloader_error", n, event.message)
            self._end_boot(f"bootloader: {event.message}", n)
        elif t is D.Brownout:
            self.note("brownout", n, "Brownout detector was triggered")
            self._end_boot("brownout", n)
        elif t is D.TaskWatchdog:
            self.note("task_wdt", n, ", ".join(event.tasks))
        elif t is D.SoftWatchdog:
            self.note("soft_wdt", n)
            self._end_boot("Soft WDT reset", n)
        elif t is D.Panic:
            self._panic(event)
        elif t is D.BootLoop:
            self.note("boot_loop", n)

    def _reset(self, event: Any, parser_chip: Chip | None) -> None:
        n = event.line
        self.set_chip(parser_chip, n)
        chip = self.chip or parser_chip
        if isinstance(event, D.ResetInfo):
            code, name, boot, boot_name = event.code, event.name, event.boot, event.boot_text
            download = event.download
            self.set_chip(find_chip(event.chip) if event.chip else None, n)
        else:
            code, name = event.cause, event.name
            boot = event.boot_mode[0] if event.boot_mode else None
            boot_name = f"({event.boot_mode[0]},{event.boot_mode[1]})" if event.boot_mode else None
            download = boot is not None and (boot & 0x7) == 1
        known = chip.reset_reason(code) if chip else None
        name = name or (known[0] if known else "")
        meaning = known[1] if known and (not name or known[0] == name) else ""
        mode = "download" if download else ("flash" if boot_name and "FLASH" in boot_name.upper()
                                            or (boot_name or "").startswith("(3,") else "other")
        self.reset_count += 1
        self.note("boots", n)
        self._last_reset_line = n
        if len(self.resets) < KEEP:
            self.resets.append({"line": n, "rst": code, "name": name, "meaning": meaning,
                                "boot": boot if boot is not None else -1, "boot_name": boot_name or "", "mode": mode})
        if "BROWN" in name.upper() or "BOD" in name.upper():
            self.note("brownout", n, name)
            self._end_boot("brownout", n)
        self._close_boot(name)
        if download:
            self.note("download", n, f"boot:0x{boot:x} ({boot_name})" if boot is not None else boot_name)
        self.boot = Boot(n, name, download)

    def _panic(self, p: D.Panic) -> None:
        self.panic_count += 1
        if len(self.panics) < KEEP:
            self.panics.append(p)
        cause = p.cause or ""
        low = cause.lower()
        if p.kind == "stack_overflow":
            key = "stack_overflow"
        elif p.kind == "stack_smashing":
            key = "stack_smashing"
        elif p.kind == "heap":
            key = "heap"
        elif p.kind in ("assert", "abort"):
            key = "assert_abort"
        elif p.kind == "soft_wdt":
            key = "soft_wdt"
        elif "wdt" in low or "watchdog" in low:
            key = "int_wdt"
        else:
            key = "panic"
        self.note(key, p.line, cause)
        self._end_boot(cause or p.kind, p.line)

    # --- esptool's console output --------------------------------------------------

    def add_esptool(self, event: E.EsptoolEvent) -> None:
        self.esptool_lines += 1
        t = type(event)
        n = event.line
        if t is E.EsptoolError:
            self.note(f"err:{event.kind}", n, event)
        elif t is E.ChipName:
            self.set_chip(chip_by_name(event.name) or find_chip(event.name), n)
            self.note("connected", n, event.name)
        elif t is E.EsptoolCommand:
            self.command = self.command or event
            if event.chip and event.chip != "auto":
                self.set_chip(chip_by_name(event.chip), n)
            if event.flash_mode in ("qio", "qout"):
                self.note("cmd_qio", n, event.flash_mode)
            for offset, name in event.writes:
                if "bootloader" in name.lower():
                    self.note("cmd_bootloader", n, offset)
        elif t is E.FlashWrite:
            if not event.done:
                self.note("writing", n, event.address)
            else:
                self.note("wrote", n, event.address)
        elif t is E.HardReset:
            self.note("hard_reset", n)

    # --- the trace analyzer's summary ----------------------------------------------

    def add_summary(self, summary: dict[str, Any]) -> None:
        self.summary = summary
        self.set_chip(chip_by_name(summary["chip"]) if summary.get("chip") else None, summary.get("line"))
        evidence = summary.get("evidence") or ""
        m = _LINE.search(evidence)
        line = int(m.group(1)) if m else summary.get("error_line") or summary.get("line") or 0
        if "brownout" in evidence.lower():
            self.note("trace_brownout", line, evidence)
        elif "boot log instead of answering" in evidence:
            self.note("trace_boot_log", line, evidence)
        elif "requests coming back" in evidence:
            self.note("trace_echo", summary.get("line") or 0, evidence)
        for text in summary.get("errors") or ():  # what the trace's records showed (a bad byte), in esptool's words
            err = E.error_in(text, summary.get("error_line") or summary.get("line") or 0)
            if err is not None and f"err:{err.kind}" not in self.evidence:
                self.note(f"err:{err.kind}", err.line, err)
        for region in summary.get("regions") or ():
            if not region.get("complete") and summary.get("outcome") != "ok":
                self.note("write_incomplete", region.get("line") or 0, region.get("offset"))

    def banner_byte(self) -> str | None:
        """What the byte of ``Invalid head of packet`` is, when it is the start of the ROM's boot log."""
        err = self.details.get("err:invalid_head")
        return _BANNER_BYTES.get(err.byte) if err is not None and err.byte is not None else None
