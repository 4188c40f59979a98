"""The short explanation the console prints (dim) after a recognised device line, and
the boot-loop detector.

``annotate(event, chip)`` turns a ``parsers.device_log`` event into one line of advice,
or None when there is nothing worth saying. Wording follows esptool's troubleshooting
guide (``Insufficient Power``, ``Wrong Flash Mode``, ``Missing Bootloader``) and ESP-IDF's
fatal-errors guide; chip facts (bootloader offset, reset names, strap pin) come from
``parsers.chips``, so the advice names the chip's real offset and pin.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from espmon.monitor.causes import ESP8266_EXCEPTIONS, GURU_CAUSES
from parsers.chips import CHIPS, LOG_ONLY_CHIPS, Chip, find_chip
from parsers.device_events import BootLoop, DeviceEvent

__all__ = ["annotate", "BootLoopDetector"]

_ALL_CHIPS = {**CHIPS, **LOG_ONLY_CHIPS}
_RESET_MEANING = CHIPS["esp32s3"].reset_reasons  # same numbers, same causes on every ESP32 family
_BROWNOUT = ("brownout: the 3.3V supply dipped below the detector threshold (Insufficient Power: "
             "the supply must deliver 200-300mA peaks; try a better supply or USB cable, add capacitance)")


def annotate(event: DeviceEvent, chip: Chip | str | None) -> str | None:
    """One line explaining ``event`` on ``chip`` (the parser's best knowledge), or None."""
    if isinstance(chip, str):
        chip = find_chip(chip)
    explain = _EXPLAIN.get(type(event).__name__)
    if explain is None:
        return None
    try:
        return explain(event, chip)
    except Exception:  # an annotation must never take the console down
        return None


# --- ROM ----------------------------------------------------------------------------

def _event_chip(event: Any, chip: Chip | None) -> Chip | None:
    named = getattr(event, "chip", None)
    return (find_chip(named) if named else None) or chip


def _strap_pin(chip: Chip | None) -> str:
    if chip is None:
        return "GPIO0 (GPIO9 on RISC-V chips)"
    if chip.key == "esp32p4":
        return "GPIO35"
    return "GPIO9" if chip.arch == "riscv" else "GPIO0"


def _reset(event: Any, chip: Chip | None) -> str | None:
    chip = _event_chip(event, chip)
    table = chip.reset_reasons if chip else _RESET_MEANING
    meaning = (table.get(event.code) or _RESET_MEANING.get(event.code) or ("", ""))[1]
    meaning = meaning or f"reset reason 0x{event.code:x}"
    if event.download:
        if "USB" in (event.name or "") or "USB" in meaning:  # the host forced download mode over USB
            return (f"{meaning}; download mode forced by the host over USB (a tool's reset), "
                    "not by the strap pins: reset the board to run the app")
        return f"{meaning}; download mode: {_strap_pin(chip)} was held low at reset"
    text = (event.boot_text or "").upper()
    if text and "FLASH_BOOT" not in text and "FAST_FLASH" not in text:
        return f"{meaning}; unusual boot mode {event.boot_text}: check the strapping pins"
    return meaning


def _esp8266_reset(event: Any, chip: Chip | None) -> str | None:
    entry = CHIPS["esp8266"].reset_reasons.get(event.cause)
    meaning = entry[1] if entry else f"reset cause {event.cause}"
    if event.boot_mode is None:
        return meaning
    mode = event.boot_mode[0] & 0x7
    if mode == 1:
        note = "UART download mode: GPIO0 was held low at reset"
        if event.cause not in (1, 2):
            note += " (the ESP8266 keeps the boot mode of its last hardware reset: power-cycle after uploading)"
        return f"{meaning}; {note}"
    if mode >= 4:
        return f"{meaning}; SDIO boot mode: GPIO15 (MTDO) was high at reset, it must be pulled low"
    if mode != 3:
        return f"{meaning}; unusual boot mode {event.boot_mode}: check GPIO0, GPIO2 and GPIO15"
    return meaning


def _offsets() -> str:
    by_offset: dict[int, list[str]] = {}
    for c in _ALL_CHIPS.values():
        if c.key != "esp8266":
            by_offset.setdefault(c.bootloader_offset, []).append(c.name)
    return ", ".join(f"0x{off:x} on {'/'.join(names)}" for off, names in sorted(by_offset.items()))


def _invalid_header(event: Any, chip: Chip | None) -> str:
    where = f"0x{chip.bootloader_offset:x} on {chip.name}" if chip else _offsets()
    if event.value == 0xFFFFFFFF:
        text = f"nothing flashed at the bootloader offset ({where})"
        if chip is not None and chip.bootloader_offset == 0 and chip.key != "esp8266":
            text += "; a bootloader written at 0x1000 (the ESP32's offset) is not found here"
        return text
    if event.value == 0:
        return ("flash reads back zeros at the bootloader offset: the flash is not answering "
                "(flash voltage, flash pins wired to something else)")
    return (f"the data at the bootloader offset ({where}) is not a bootloader image: another file "
            "was written there, or at the wrong offset for this chip")


def _flash_mode(event: Any, chip: Chip | None) -> str | None:
    if event.mode.upper() in ("QIO", "QOUT"):
        return ("the ROM reads the bootloader in DIO/DOUT only: a bootloader with QIO in its header can "
                "stop here (Wrong Flash Mode: flash with -fm dio)")
    return None


# Flash-mapped windows that are nobody's RAM, whatever the chip: used when the chip is not
# known yet. (ESP32's IROM window overlaps the S3/C3 IRAM a bootloader loads into, so the
# per-chip windows are only used once the banner named the chip.)
_MAPPED_ANY_CHIP = ((0x3F400000, 0x3F800000), (0x3C000000, 0x3E000000), (0x42000000, 0x44000000))


def _load(event: Any, chip: Chip | None) -> str | None:
    if event.length < 0 or event.address in (0, 0xFFFFFFFF) or event.length > 0x100000:
        return ("not a bootloader segment: the data at the bootloader offset is not a valid image "
                "(wrong file or offset, or corrupted flash reads)")
    mapped = chip.flash_mapped if chip is not None and chip.flash_mapped else _MAPPED_ANY_CHIP
    if event.length > 0x10000 or any(lo <= event.address < hi for lo, hi in mapped):
        return ("an app image's segment, not a bootloader's: an app was written at the bootloader offset "
                "(flash the bootloader there and the app at its partition, usually 0x10000)")
    return None


def _flash_read(event: Any, chip: Chip | None) -> str:
    where = f" at 0x{event.address:x}" if event.address is not None else ""
    return (f"the ROM could not read the bootloader from flash{where}: check the flash power and voltage "
            "(on ESP32 a high GPIO12/MTDI selects 1.8V flash) and that nothing else drives the flash pins")


def _halt(event: Any, chip: Chip | None) -> str:
    if event.file == "ets_loader.c":
        return ("the ROM could not load the 2nd-stage bootloader: wrong flash mode for this board "
                "(flash with -fm dio), octal vs quad flash, or a corrupted bootloader")
    return "the ROM gave up loading the 2nd-stage bootloader (see the error above); a watchdog reset follows"


def _waiting(event: Any, chip: Chip | None) -> str:
    if "host" in event.text:
        return "SDIO boot mode: GPIO15 (MTDO) is high at reset, it must be pulled low"
    return (f"the ROM is in serial download mode, waiting for esptool; release {_strap_pin(chip)} "
            "(the BOOT button) and reset to run the app")


# --- bootloader ---------------------------------------------------------------------

_BOOTLOADER_ADVICE = {
    "invalid_magic": "nothing flashed at {where} (or the app was written to another offset): flash the app "
                     "where the partition table puts it",
    "no_bootable_app": "no app partition holds a valid image: flash the app at its partition's offset "
                       "(usually 0x10000)",
    "partition_not_bootable": "this app partition holds no valid image",
    "partition_table": "the partition table (at 0x8000 by default) is missing or corrupt: flash partition-table.bin",
    "image_too_big": "the app is bigger than its partition: choose a partition table with a larger app partition",
    "segment": "the app image is corrupt or built for another chip",
    "ota_data": "the OTA data partition is invalid: erase it (esptool erase-region) to boot the factory app",
    "flash_mode": "the flash chip refused quad mode (Wrong Flash Mode): build or flash with -fm dio",
}


def _bootloader_error(event: Any, chip: Chip | None) -> str | None:
    advice = _BOOTLOADER_ADVICE.get(event.kind)
    if advice is None:
        return None
    where = f"0x{event.offset:x}" if event.offset is not None else "the app offset"
    return advice.format(where=where)


# --- fatal errors -------------------------------------------------------------------

def _guru(event: Any, chip: Chip | None) -> str:
    meaning = GURU_CAUSES.get(event.cause)
    if meaning is None:
        return f"CPU panic ({event.cause or 'cause not printed'}): the register dump and backtrace follow"
    return meaning


def _address_advice(address: int, register: str, write: bool) -> str | None:
    access = "write to" if write else "read from"
    if address == 0:
        return f"NULL pointer: {access} address 0 ({register} 0x00000000)"
    if address < 0x1000:
        return f"NULL pointer: {access} offset 0x{address:x} of a NULL struct pointer ({register})"
    if not 0x3F000000 <= address < 0x70000000:
        return f"{access} 0x{address:08x} ({register}): the pointer is uninitialised or corrupted"
    return None


def _panic(event: Any, chip: Chip | None) -> str | None:
    if event.arch == "esp8266":
        return _esp8266_panic(event)
    regs, cause = event.registers, event.cause
    note: str | None = None
    if event.arch == "riscv" and event.kind in ("abort", "assert") and regs.get("MTVAL") == 0:
        note = "the store to address 0 is how abort() enters the panic handler: the cause is the line above"
    elif cause in ("LoadProhibited", "StoreProhibited") and "EXCVADDR" in regs:
        note = _address_advice(regs["EXCVADDR"], "EXCVADDR", cause == "StoreProhibited")
    elif cause in ("Load access fault", "Store access fault") and "MTVAL" in regs:
        note = _address_advice(regs["MTVAL"], "MTVAL", cause.startswith("Store"))
    elif cause == "InstrFetchProhibited" and "PC" in regs:
        pc = regs["PC"]
        note = "called a NULL function pointer (PC 0)" if pc == 0 else f"called a corrupted function pointer (PC 0x{pc:08x})"
    elif cause == "Breakpoint" and event.arch == "riscv":
        note = "probably a stack overflow (FreeRTOS end-of-stack watchpoint): give the task a bigger stack"
    if event.corrupted:
        tail = "backtrace corrupted: the stack was overwritten (often a stack overflow)"
        note = f"{note}; {tail}" if note else tail
    return note


def _esp8266_panic(event: Any) -> str | None:
    """Crash reports with no line of their own to annotate (exceptions, soft WDT and asserts have one)."""
    if event.kind == "panic" and "OOM" in event.cause:
        return "out of memory: an allocation failed and nothing handled it (the heap is exhausted or fragmented)"
    if event.kind == "panic" and "C++ exception" in event.cause:
        return "an unhandled C++ exception ended the program"
    if event.kind == "abort":
        return "abort() was called: the stack dump shows the caller"
    return None


def _assert(event: Any, chip: Chip | None) -> str:
    where = " in " + event.function if event.function else ""
    if event.file:
        where += f" ({event.file.rsplit('/', 1)[-1]}:{event.source_line})"
    what = f" `{event.expression}`" if event.expression else ""
    return f"assertion{what} failed{where}: the backtrace shows the caller"


def _stack_overflow(event: Any, chip: Chip | None) -> str:
    if event.task:
        return f"stack overflow in task {event.task}: give it a bigger stack (the stack size given to xTaskCreate)"
    return "stack overflow: give the task a bigger stack"


def _task_watchdog(event: Any, chip: Chip | None) -> str:
    starved = [t.split(" (")[0] for t in event.tasks]
    busy = [r.split(":", 1)[1].strip() for r in event.running]
    busy = [b for b in busy if b and not b.startswith("IDLE") and b not in starved]
    text = f"task watchdog: {', '.join(event.tasks) or 'a task'} did not reset it in time"
    if busy:
        return text + f"; {', '.join(busy)} kept the CPU busy: add vTaskDelay() or block on a queue in its loop"
    if any(not t.startswith("IDLE") for t in starved):
        return text + ": a watched task must call esp_task_wdt_reset() more often (or block less)"
    return text + ": a task kept the CPU busy without blocking (add vTaskDelay())"


def _esp8266_exception(event: Any, chip: Chip | None) -> str:
    meaning = ESP8266_EXCEPTIONS.get(event.number, f"exception {event.number} ({event.cause})")
    if event.number in (28, 29) and event.excvaddr is not None:
        detail = _address_advice(event.excvaddr, "excvaddr", event.number == 29)
        if detail:
            return detail
    return meaning


def _boot_loop(event: Any, chip: Chip | None) -> str:
    text = f"boot loop: {event.resets} resets in {event.seconds:.1f} s"
    return text + (f" ({', '.join(event.reasons)})" if event.reasons else "")


_EXPLAIN: dict[str, Callable[[Any, Chip | None], str | None]] = {
    "ResetInfo": _reset,
    "Esp8266Reset": _esp8266_reset,
    "InvalidHeader": _invalid_header,
    "RomFlashMode": _flash_mode,
    "RomLoad": _load,
    "FlashReadError": _flash_read,
    "ChecksumError": lambda e, c: ("a bootloader segment read back with a wrong checksum: unreliable flash reads "
                                   "(supply dips, wrong flash mode) or a damaged bootloader"),
    "RomHalt": _halt,
    "RomHashMismatch": lambda e, c: ("the ROM's SHA-256 check of the bootloader failed (it boots anyway): corrupted "
                                     "flash reads (wrong flash mode, octal flash read as quad) or a modified bootloader"),
    "WaitingForDownload": _waiting,
    "BootloaderError": _bootloader_error,
    "Brownout": lambda e, c: _BROWNOUT,
    "GuruMeditation": _guru,
    "Panic": _panic,
    "Abort": lambda e, c: "abort(): an assert, ESP_ERROR_CHECK or explicit abort(); the backtrace shows the caller",
    "AssertFailed": _assert,
    "StackOverflow": _stack_overflow,
    "StackSmashing": lambda e, c: "a local array was written past its end (stack smashing protection)",
    "HeapCorruption": lambda e, c: "heap corruption: a buffer overrun or use after free damaged a heap block",
    "TaskWatchdog": _task_watchdog,
    "Esp8266Exception": _esp8266_exception,
    "SoftWatchdog": lambda e, c: "software watchdog: loop() or a callback ran ~3 s without yielding (call yield() or delay())",
    "CpuHalted": lambda e, c: "the panic handler halted instead of rebooting: reset the board to restart",
    "BootLoop": _boot_loop,
}


# --- boot loops ---------------------------------------------------------------------

_RESETS = frozenset({"ResetInfo", "Esp8266Reset"})


class BootLoopDetector:
    """Calls out a boot loop once: ``resets`` resets within ``window`` seconds.

    A reset is a ROM reset line, or ``Rebooting...`` (a USB console may show no banner);
    the banner right after a ``Rebooting...`` belongs to the same reset. The loop is
    reported once; a quiet ``window`` after the last reset ends it and re-arms the detector.
    """

    SAME_RESET = 3.0  # seconds from "Rebooting..." to its ROM banner, at most

    def __init__(self, resets: int = 3, window: float = 10.0) -> None:
        self.resets = max(2, resets)
        self.window = window
        self._times: deque[float] = deque()
        self._reasons: deque[tuple[str | None, str | None]] = deque()
        self._rebooting: float | None = None  # when a Rebooting... was counted: its banner is the same reset
        self._reported = False
        self._reason: str | None = None  # the last crash, named in the report

    def feed(self, event: DeviceEvent, t: float) -> BootLoop | None:
        name = type(event).__name__
        if name in ("Panic", "GuruMeditation", "Esp8266Exception", "Brownout", "TaskWatchdog", "InvalidHeader",
                    "RomHalt", "FlashReadError", "ChecksumError"):
            self._reason = self._reason_of(event)
            return None
        if name == "Rebooting":
            self._rebooting = t
            return self._count(event, t, self._reason, None)
        if name in _RESETS:
            rebooting, self._rebooting = self._rebooting, None
            if rebooting is not None and t - rebooting <= self.SAME_RESET:
                return None
            return self._count(event, t, self._reason, getattr(event, "name", None))
        return None

    def _reason_of(self, event: Any) -> str:
        name = type(event).__name__
        if name in ("Panic", "GuruMeditation", "Esp8266Exception"):
            return event.cause or name
        return {"Brownout": "brownout", "TaskWatchdog": "task watchdog", "InvalidHeader": "invalid header",
                "RomHalt": "ROM halt", "FlashReadError": "flash read error", "ChecksumError": "checksum error"}[name]

    def _count(self, event: Any, t: float, crash: str | None, reset_name: str | None) -> BootLoop | None:
        """One reset at ``t``: the crash that caused it (if one was seen) or the ROM's reset name."""
        if self._times and t - self._times[-1] > self.window:
            self._times.clear()
            self._reasons.clear()
            self._reported = False
        self._times.append(t)
        self._reasons.append((crash, reset_name))
        self._reason = None
        while t - self._times[0] > self.window:
            self._times.popleft()
            self._reasons.popleft()
        if self._reported or len(self._times) < self.resets:
            return None
        self._reported = True
        crashes = [c for c, _ in self._reasons if c]  # name the crashes; the reset names only without any
        names = crashes or [r for _, r in self._reasons if r]
        return BootLoop(event.line, len(self._times), t - self._times[0], tuple(dict.fromkeys(names)))
