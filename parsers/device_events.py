"""What ``DeviceLogParser`` recognises in an Espressif device's console output.

Data only. Every event is a frozen dataclass whose ``line`` is the 1-based number of the
line fed that produced it (multi-line events such as ``Panic`` carry their first line).
Every other field is optional in spirit: real logs are cut, garbled and pasted, so a
field the log did not show is ``None`` (or empty), never a guess.

Chip names are esptool's (``ESP32-C3``); ``parsers.chips.find_chip`` resolves them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "DeviceEvent", "RomBanner", "RomBuild", "ResetInfo", "SavedPC", "RomFlashMode", "RomLoad",
    "RomEntry", "WaitingForDownload", "InvalidHeader", "FlashReadError", "ChecksumError",
    "RomHalt", "RomHashMismatch", "Esp8266Reset", "BootloaderStart", "BootloaderError", "AppLoaded", "ElfSha256",
    "LogLine", "Brownout", "GuruMeditation", "Abort", "AssertFailed", "StackOverflow",
    "StackSmashing", "HeapCorruption", "TaskWatchdog", "Backtrace", "CoreDump", "Panic",
    "Esp8266Exception", "SoftWatchdog", "Rebooting", "CpuHalted", "BootLoop",
]

Frame = tuple[int, int]  # (PC, SP) of one backtrace frame


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    line: int


# --- ROM (first-stage) bootloader -------------------------------------------------------

@dataclass(frozen=True, slots=True)
class RomBanner(DeviceEvent):
    """``ets Jun  8 2016 00:22:57`` (ESP32), ``ESP-ROM:esp32c3-api1-20210207``, ESP8266 ``ets Jan  8 2013``."""
    chip: str | None
    rom_id: str


@dataclass(frozen=True, slots=True)
class RomBuild(DeviceEvent):
    """``Build:Feb  7 2021``: the ROM build date printed after ``ESP-ROM:``."""
    build: str


@dataclass(frozen=True, slots=True)
class ResetInfo(DeviceEvent):
    """``rst:0x10 (RTCWDT_RTC_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)``.

    ``name`` is the ROM's own text (else the chip table's), ``boot_text`` the ROM's decode of
    the strap value, ``download`` whether the chip stopped in serial download mode."""
    code: int
    name: str | None
    boot: int | None
    boot_text: str | None
    download: bool
    chip: str | None


@dataclass(frozen=True, slots=True)
class SavedPC(DeviceEvent):
    """``Saved PC:0x40381006`` (ESP32-P4: ``Core0 Saved PC:…``): where the CPU was at the reset."""
    pc: int
    core: int | None = None


@dataclass(frozen=True, slots=True)
class RomFlashMode(DeviceEvent):
    """``mode:DIO, clock div:2``: SPI mode from the bootloader image header."""
    mode: str
    clock_div: int | None


@dataclass(frozen=True, slots=True)
class RomLoad(DeviceEvent):
    """``load:0x3fff0030,len:1184`` (a bootloader segment; also ESP8266 ``load 0x…, len …``)."""
    address: int
    length: int


@dataclass(frozen=True, slots=True)
class RomEntry(DeviceEvent):
    """``entry 0x400805e4``: the ROM jumps to the second-stage bootloader."""
    address: int


@dataclass(frozen=True, slots=True)
class WaitingForDownload(DeviceEvent):
    """``waiting for download``: the ROM is in serial download mode (``waiting for host``: ESP8266 SDIO)."""
    text: str = "waiting for download"


@dataclass(frozen=True, slots=True)
class InvalidHeader(DeviceEvent):
    """``invalid header: 0xffffffff``: no bootloader image at the bootloader offset."""
    value: int


@dataclass(frozen=True, slots=True)
class FlashReadError(DeviceEvent):
    """``flash read err, 1000``: the ROM could not read the bootloader at that offset."""
    address: int | None


@dataclass(frozen=True, slots=True)
class ChecksumError(DeviceEvent):
    """``csum err:0x78!=0xfc``: a loaded bootloader segment has the wrong checksum."""
    computed: int | None
    expected: int | None


@dataclass(frozen=True, slots=True)
class RomHalt(DeviceEvent):
    """``ets_main.c 371`` / ``ets_loader.c 78``: the ROM gave up loading the bootloader."""
    file: str
    source_line: int


@dataclass(frozen=True, slots=True)
class RomHashMismatch(DeviceEvent):
    """``SHA-256 comparison failed:`` (then ``Attempting to boot anyway...``): the ROM's check
    of the bootloader image's appended hash failed."""


@dataclass(frozen=True, slots=True)
class Esp8266Reset(DeviceEvent):
    """`` ets Jan  8 2013,rst cause:2, boot mode:(3,6)``."""
    cause: int
    boot_mode: tuple[int, int] | None
    name: str | None = None


# --- second-stage bootloader and application ------------------------------------------

@dataclass(frozen=True, slots=True)
class BootloaderStart(DeviceEvent):
    """``I (29) boot: ESP-IDF v4.4 2nd stage bootloader``."""
    version: str


@dataclass(frozen=True, slots=True)
class BootloaderError(DeviceEvent):
    """A second-stage bootloader failure; ``kind`` names it (``invalid_magic``,
    ``no_bootable_app``, ``partition_not_bootable``, ``partition_table``, ``image_too_big``,
    ``segment``, ``ota_data``, ``flash_mode``, ``other``)."""
    message: str
    kind: str
    offset: int | None = None


@dataclass(frozen=True, slots=True)
class AppLoaded(DeviceEvent):
    """``boot: Loaded app from partition at offset 0x10000``."""
    offset: int


@dataclass(frozen=True, slots=True)
class ElfSha256(DeviceEvent):
    """``ELF file SHA256: 1d2f…`` printed by the app at start (a panic carries its own)."""
    sha256: str


@dataclass(frozen=True, slots=True)
class LogLine(DeviceEvent):
    """An ESP-IDF log line ``I (29) boot: message`` (``framework`` ``esp-idf``), or the
    Arduino-ESP32 ``[    25][I][main.cpp:38] setup(): …`` / ESPHome ``[D][tag:093]: …`` forms."""
    level: str
    timestamp: str
    tag: str
    message: str
    framework: str = "esp-idf"


@dataclass(frozen=True, slots=True)
class Brownout(DeviceEvent):
    """``Brownout detector was triggered``: the supply voltage dropped."""


# --- fatal errors -------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class GuruMeditation(DeviceEvent):
    """``Guru Meditation Error: Core  0 panic'ed (LoadProhibited). Exception was unhandled.``,
    reported at once; the whole dump follows as a ``Panic``."""
    core: int | None
    cause: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class Abort(DeviceEvent):
    """``abort() was called at PC 0x400d2c6f on core 0``."""
    pc: int | None
    core: int | None


@dataclass(frozen=True, slots=True)
class AssertFailed(DeviceEvent):
    """``assert failed: func file.c:12 (expr)``, the older ``file.c:12 (func)- assert failed!``,
    newlib's ``assertion "expr" failed: file "f", line 12, function: func`` and ESP8266's
    ``Panic file:line func: Assertion 'expr' failed.``"""
    function: str | None
    file: str | None
    source_line: int | None
    expression: str | None


@dataclass(frozen=True, slots=True)
class StackOverflow(DeviceEvent):
    """``***ERROR*** A stack overflow in task main has been detected.`` or the Xtensa
    ``Stack canary watchpoint triggered (main)``; ``task`` is None when not named."""
    task: str | None


@dataclass(frozen=True, slots=True)
class StackSmashing(DeviceEvent):
    """``Stack smashing protect failure!``: a local buffer overran."""


@dataclass(frozen=True, slots=True)
class HeapCorruption(DeviceEvent):
    """``CORRUPT HEAP: Bad tail at 0x3ffe270a. Expected 0xbaad5678 got 0xbaac5678``."""
    message: str


@dataclass(frozen=True, slots=True)
class TaskWatchdog(DeviceEvent):
    """``Task watchdog got triggered`` with the tasks that did not reset it (``tasks``) and
    what each CPU was running (``running``, ``("CPU 0: main", …)``)."""
    tasks: tuple[str, ...]
    running: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Backtrace(DeviceEvent):
    """``Backtrace: 0x400e14ed:0x3ffb5030 0x400d0802:0x3ffb5050 |<-CORRUPTED``, reported on its
    own line (inside a panic too, so the console can decode the line where it stands)."""
    frames: tuple[Frame, ...]
    corrupted: bool = False
    continues: bool = False


@dataclass(frozen=True, slots=True)
class CoreDump:
    """Registers and backtrace of one more core in a panic (the interrupt watchdog dumps both)."""
    core: int | None
    registers: dict[str, int]
    backtrace: tuple[Frame, ...] = ()
    corrupted: bool = False


@dataclass(frozen=True, slots=True)
class Panic(DeviceEvent):
    """A whole panic dump, reported when it ends. ``cause`` is the first header's text
    (Guru Meditation cause, abort/assert/stack-overflow message, ESP8266 exception cause);
    ``kind`` is ``guru``, ``abort``, ``assert``, ``stack_overflow``, ``stack_smashing``,
    ``heap``, ``exception`` (ESP8266) or ``soft_wdt``. ``registers`` are those of the core
    that panicked, ``stack``/``stack_base`` the RISC-V ``Stack memory:`` dump or the ESP8266
    ``>>>stack>>>`` words as little-endian bytes."""
    arch: str | None
    core: int | None
    cause: str
    kind: str = "guru"
    registers: dict[str, int] = field(default_factory=dict)
    backtrace: tuple[Frame, ...] = ()
    corrupted: bool = False
    continues: bool = False
    stack: bytes | None = None
    stack_base: int | None = None
    elf_sha256: str | None = None
    details: tuple[str, ...] = ()
    other_cores: tuple[CoreDump, ...] = ()
    end_line: int = 0


@dataclass(frozen=True, slots=True)
class Esp8266Exception(DeviceEvent):
    """``Exception (28):`` + ``epc1=0x… epc2=… epc3=… excvaddr=… depc=…`` (Arduino core) or the
    SDK's ``Fatal exception (28):`` forms; ``cause`` is the Xtensa EXCCAUSE name."""
    number: int | None
    cause: str
    epc1: int | None = None
    epc2: int | None = None
    epc3: int | None = None
    excvaddr: int | None = None
    depc: int | None = None


@dataclass(frozen=True, slots=True)
class SoftWatchdog(DeviceEvent):
    """ESP8266 ``Soft WDT reset``: the loop did not yield for about 3 seconds."""


@dataclass(frozen=True, slots=True)
class Rebooting(DeviceEvent):
    """``Rebooting...`` (``delay`` seconds for ``Rebooting in 5 seconds...``)."""
    delay: int | None = None


@dataclass(frozen=True, slots=True)
class CpuHalted(DeviceEvent):
    """``CPU halted.``: the panic handler stopped instead of rebooting."""


@dataclass(frozen=True, slots=True)
class BootLoop(DeviceEvent):
    """Made by ``espmon.monitor.annotate.BootLoopDetector``, not by the parser: ``resets`` resets
    within ``seconds``; ``reasons`` are the reset names / panic causes seen in that window."""
    resets: int
    seconds: float
    reasons: tuple[str, ...] = ()
