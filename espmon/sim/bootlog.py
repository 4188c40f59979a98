"""The ESP-IDF style log a real board prints after the ROM: the 2nd-stage bootloader
(flash settings, partition table, app segments) and the app's start-up (``cpu_start``,
``app_init`` with the project name and version from the app descriptor, ``main_task``).

Lines follow IDF 5's format ``I (ms) tag: message`` with IDF's ANSI colours; the
millisecond stamps come from a synthetic clock that advances a little per line, the way
a real boot's timestamps do.
"""

from __future__ import annotations

from dataclasses import dataclass

from espmon.sim.banner import NL
from espmon.sim.facts import ChipFacts
from espmon.sim.image import AppDesc, Image, Partition, parse_bootloader_desc

__all__ = ["LogClock", "bootloader_log", "app_load_log", "app_start_log", "mapped", "FLASH_SIZE_NAMES"]

_COLORS = {"E": "\x1b[0;31m", "W": "\x1b[0;33m", "I": "\x1b[0;32m"}
_RESET = "\x1b[0m"

FLASH_SIZE_NAMES = {0: "1MB", 1: "2MB", 2: "4MB", 3: "8MB", 4: "16MB", 5: "32MB", 6: "64MB", 7: "128MB"}
_ESP8266_SIZES = {0: "512KB", 1: "256KB", 2: "1MB", 3: "2MB", 4: "4MB", 5: "2MB", 6: "4MB", 8: "8MB", 9: "16MB"}
_SPEEDS = {0x0: "40MHz", 0x1: "26.7MHz", 0x2: "20MHz", 0xF: "80MHz"}

# Flash-mapped (cache) address ranges per chip: segments there are "map", others "load".
_MAPPED = {
    "esp32": ((0x3F400000, 0x3F800000), (0x400C2000, 0x40400000)),
    "esp32s2": ((0x3F000000, 0x3FF80000), (0x40080000, 0x40B80000)),
    "esp32s3": ((0x3C000000, 0x3E000000), (0x42000000, 0x44000000)),
    "esp32c3": ((0x3C000000, 0x3C800000), (0x42000000, 0x42800000)),
    "esp32c6": ((0x42000000, 0x43000000),),
    "esp8266": ((0x40200000, 0x40300000),),
}


def mapped(facts: ChipFacts, addr: int) -> bool:
    return any(lo <= addr < hi for lo, hi in _MAPPED.get(facts.chip.key, ()))


@dataclass
class LogClock:
    """Synthetic ``esp_log_timestamp()``: starts at ``ms`` and moves on per line."""

    ms: int
    colors: bool = True

    def line(self, level: str, tag: str, message: str, step: int = 4) -> str:
        text = f"{level} ({self.ms}) {tag}: {message}"
        self.ms += step
        if self.colors and level in _COLORS:
            return f"{_COLORS[level]}{text}{_RESET}{NL}"
        return f"{text}{NL}"


def _flash_size_name(facts: ChipFacts, size_freq: int) -> str:
    code = size_freq >> 4
    if facts.chip.key == "esp8266":
        return _ESP8266_SIZES.get(code, "4MB")
    return FLASH_SIZE_NAMES.get(code, "4MB")


def bootloader_log(facts: ChipFacts, clock: LogClock, bootloader: Image, idf_ver: str,
                   parts: list[Partition] | None, app_offset: int) -> list[str]:
    """From ``boot: ESP-IDF ... 2nd stage bootloader`` to the partition table. The
    version and compile time come from the bootloader's own descriptor when it has one."""
    key = facts.chip.key
    tag = "boot" if key == "esp8266" else f"boot.{facts.idf_target}"
    compiled = "Jan  1 2025 12:00:00"
    desc = parse_bootloader_desc(bootloader)
    if desc is not None:
        idf_ver, compiled = desc[0] or idf_ver, desc[1] or compiled
    out = [clock.line("I", "boot", f"ESP-IDF {idf_ver} 2nd stage bootloader", 0),
           clock.line("I", "boot", f"compile time {compiled}", 0)]
    if facts.cores > 1:
        out.append(clock.line("I", "boot", "Multicore bootloader"))
    if key != "esp8266":
        major, minor = facts.revision
        out.append(clock.line("I", "boot", f"chip revision: v{major}.{minor}"))
    out.append(clock.line("I", tag, f"SPI Speed      : {_SPEEDS.get(bootloader.freq_code, '40MHz')}"))
    out.append(clock.line("I", tag, f"SPI Mode       : {bootloader.mode}"))
    out.append(clock.line("I", tag, f"SPI Flash Size : {_flash_size_name(facts, bootloader.size_freq)}"))
    if key != "esp8266":
        out.append(clock.line("I", "boot", "Enabling RNG early entropy source...", 6))
    if parts is None:
        out.append(clock.line("E", "flash_parts", "partition 0 invalid magic number 0xffff"))
        out.append(clock.line("W", "boot", f"no partition table, booting the app at 0x{app_offset:x}"))
        return out
    out.append(clock.line("I", "boot", "Partition Table:", 3))
    out.append(clock.line("I", "boot", "## Label            Usage          Type ST Offset   Length", 7))
    for n, part in enumerate(parts):
        out.append(clock.line(
            "I", "boot",
            f"{n:2d} {part.label:<16s} {part.usage:<16s} {part.type:02x} {part.subtype:02x} "
            f"{part.offset:08x} {part.size:08x}", 7))
    out.append(clock.line("I", "boot", "End of partition table"))
    return out


def app_load_log(facts: ChipFacts, clock: LogClock, app: Image) -> list[str]:
    out = []
    for n, seg in enumerate(app.segments):
        kind = "map" if mapped(facts, seg.addr) else "load"
        size = len(seg.data)
        out.append(clock.line(
            "I", "esp_image",
            f"segment {n}: paddr={seg.offset:08x} vaddr={seg.addr:08x} size={size:05x}h ({size:6d}) {kind}",
            max(4, size // 2000)))
    out.append(clock.line("I", "boot", f"Loaded app from partition at offset 0x{app.offset:x}", 0))
    if facts.chip.key != "esp8266":
        out.append(clock.line("I", "boot", "Disabling RNG early entropy source...", 12))
    return out


def app_start_log(facts: ChipFacts, clock: LogClock, app: Image, desc: AppDesc | None) -> list[str]:
    """``cpu_start`` / ``app_init`` / ``main_task`` lines up to ``Calling app_main()``."""
    out = []
    if facts.cores > 1:
        out.append(clock.line("I", "cpu_start", "Multicore app", 1))
    out.append(clock.line("I", "cpu_start", "Pro cpu start user code", 0))
    out.append(clock.line("I", "cpu_start", f"cpu freq: {facts.cpu_mhz * 1_000_000} Hz", 0))
    name = desc.project_name if desc else "app"
    version = desc.version if desc else "1"
    compiled = f"{desc.date} {desc.time}" if desc else "Jan  1 2025 12:00:00"
    sha = desc.elf_sha256.hex()[:9] if desc else "000000000"
    idf = desc.idf_ver if desc else "v5.2.1"
    out.append(clock.line("I", "app_init", "Application information:", 3))
    out.append(clock.line("I", "app_init", f"Project name:     {name}", 5))
    out.append(clock.line("I", "app_init", f"App version:      {version}", 5))
    out.append(clock.line("I", "app_init", f"Compile time:     {compiled}", 6))
    out.append(clock.line("I", "app_init", f"ELF file SHA256:  {sha}...", 6))
    out.append(clock.line("I", "app_init", f"ESP-IDF:          {idf}", 5))
    if facts.chip.key != "esp8266":
        major, minor = facts.revision
        out.append(clock.line("I", "efuse_init", "Min chip rev:     v0.0", 5))
        out.append(clock.line("I", "efuse_init", f"Max chip rev:     v{major}.99 ", 5))
        out.append(clock.line("I", "efuse_init", f"Chip rev:         v{major}.{minor}", 5))
        out.append(clock.line("I", "heap_init", "Initializing. RAM available for dynamic allocation:", 7))
        out.append(clock.line("I", "spi_flash", "detected chip: winbond", 4))
        out.append(clock.line("I", "spi_flash", f"flash io: {app.mode.lower()}", 10))
    out.append(clock.line("I", "main_task", "Started on CPU0", 10))
    out.append(clock.line("I", "main_task", "Calling app_main()", 2))
    return out
