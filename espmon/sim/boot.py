"""What a flash boot does, decided from what is in flash: a :class:`BootPlan` of timed
output steps and how it ends (the app runs, the chip resets again, or it hangs).

The checks a real chain makes, in order: the ROM wants an image (magic 0xE9) at the
bootloader offset; the 2nd-stage bootloader switches to the header's flash mode (a QIO
image on DIO-only flash stops here); it reads the partition table at 0x8000 and boots
the factory (else first OTA) app, or the app at 0x10000 when there is no table; the app
image must be valid, and its esp_app_desc_t names the project and version.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from espmon.sim import banner
from espmon.sim.bootlog import LogClock, app_load_log, app_start_log, bootloader_log
from espmon.sim.facts import ChipFacts
from espmon.sim.flash import FlashChip
from espmon.sim.image import (
    AppDesc,
    Image,
    Segment,
    VboardInfo,
    boot_partition,
    find_vboard_info,
    parse_app_desc,
    parse_image,
    parse_partitions,
)

__all__ = ["Step", "AppInfo", "BootPlan", "RESETS", "plan_flash_boot", "PARTITION_TABLE_OFFSET"]

PARTITION_TABLE_OFFSET = 0x8000
DEFAULT_APP_OFFSET = 0x10000
LOOP_DELAY = 0.7  # how soon a watchdog (or the bootloader) resets a board that cannot boot

# Reset reasons per chip and cause: the code the ROM prints on the next boot.
RESETS = {
    "esp32": {"poweron": 0x1, "en": 0x1, "panic": 0xC, "restart": 0xC, "brownout": 0xC,
              "rtc_wdt": 0x10, "sw_sys": 0x3, "usb": 0x1},
    "esp32s2": {"poweron": 0x1, "en": 0x1, "panic": 0xC, "restart": 0xC, "brownout": 0xF,
                "rtc_wdt": 0x10, "sw_sys": 0x3, "usb": 0x1},
    "esp32s3": {"poweron": 0x1, "en": 0x1, "panic": 0x3, "restart": 0xC, "brownout": 0xF,
                "rtc_wdt": 0x10, "sw_sys": 0x3, "usb": 0x15},
    "esp32c3": {"poweron": 0x1, "en": 0x1, "panic": 0x3, "restart": 0xC, "brownout": 0xF,
                "rtc_wdt": 0x10, "sw_sys": 0x3, "usb": 0x15},
    "esp32c6": {"poweron": 0x1, "en": 0x1, "panic": 0xC, "restart": 0xC, "brownout": 0xF,
                "rtc_wdt": 0x10, "sw_sys": 0x3, "usb": 0x15},
    "esp8266": {"poweron": 1, "en": 2, "panic": 2, "restart": 2, "brownout": 1,
                "rtc_wdt": 4, "sw_sys": 2, "usb": 2},
}


@dataclass
class Step:
    delay: float  # seconds after the previous step
    text: str
    baud: int | None = None  # switch the UART to this baud before printing


@dataclass
class AppInfo:
    """What the running app needs: its descriptor, its output and its crash record."""

    desc: AppDesc | None
    image: Image
    lines: tuple[str, ...]
    info: VboardInfo | None
    clock_ms: int  # the log clock when app_main() starts


@dataclass
class BootPlan:
    steps: list[Step] = field(default_factory=list)
    end: str = "app"  # "app", "loop" (reset again after loop_delay) or "halt"
    loop_cause: str = "rtc_wdt"
    loop_delay: float = LOOP_DELAY
    app: AppInfo | None = None


def _default_lines(facts: ChipFacts, desc: AppDesc | None) -> tuple[str, ...]:
    """hello_world's output, for firmware without a vboard record."""
    major, minor = facts.revision
    chip = facts.idf_target
    return (
        "Hello world!",
        f"This is {chip} chip with {facts.cores} CPU core(s), WiFi, silicon revision v{major}.{minor}, "
        f"4MB external flash",
        "Minimum free heap size: 300892 bytes",
    )


def plan_flash_boot(facts: ChipFacts, flash: FlashChip, reset_code: int, strap: int, *,
                    colors: bool = True, saved_pc: int | None = None) -> BootPlan:
    chip = facts.chip
    esp8266 = chip.key == "esp8266"
    rom_baud = chip.console_baud
    plan = BootPlan()
    head = banner.rom_banner(facts, reset_code, strap, saved_pc)
    bootloader = parse_image(flash.data, chip.bootloader_offset, extended=not esp8266)
    if not bootloader.ok:
        plan.end = "loop"
        if esp8266:
            plan.steps.append(Step(0.0, head, rom_baud))
        elif bootloader.error.startswith("invalid header"):
            line = bootloader.error + banner.NL
            plan.steps.append(Step(0.0, head + line, rom_baud))
            plan.steps += [Step(0.1, line) for _ in range(5)]
        else:
            halt = "ets_main.c 371 " if chip.key == "esp32" else "ets_loader.c 78 "
            plan.steps.append(Step(0.0, head + halt + banner.NL, rom_baud))
        return plan

    plan.steps.append(Step(0.0, head + banner.load_lines(facts, bootloader), rom_baud))
    if esp8266:
        return _esp8266_app(facts, flash, plan, colors)
    if not flash.supports(bootloader.mode):
        # The 2nd-stage bootloader switches the flash to the header's mode and can no
        # longer read it: nothing more is printed until the RTC watchdog resets the chip.
        plan.end, plan.loop_delay = "loop", 1.0
        return plan

    clock = LogClock(ms=31, colors=colors)
    parts = parse_partitions(flash.read(PARTITION_TABLE_OFFSET, 0xC00))
    part = boot_partition(parts)
    app_offset = part.offset if part else DEFAULT_APP_OFFSET
    app = parse_image(flash.data, app_offset, extended=not esp8266)
    desc = parse_app_desc(app.segments[0].data) if app.ok and app.segments else None
    idf_ver = desc.idf_ver if desc else "v5.2.1"
    log = bootloader_log(facts, clock, bootloader, idf_ver, parts, app_offset)
    if not app.ok:
        log.append(clock.line("E", "esp_image",
                              f"image at 0x{app_offset:x} has invalid magic byte (nothing flashed here?)"))
        if part is not None:
            log.append(clock.line("E", "boot", "Factory app partition is not bootable"))
        log.append(clock.line("E", "boot", "No bootable app partitions in the partition table"))
        plan.steps.append(Step(0.03, "".join(log)))
        plan.end, plan.loop_cause = "loop", "sw_sys"
        return plan
    log += app_load_log(facts, clock, app)
    plan.steps.append(Step(0.03, "".join(log)))
    plan.steps.append(Step(0.06, "".join(app_start_log(facts, clock, app, desc))))
    info = find_vboard_info(app)
    lines = info.lines if info and info.lines else _default_lines(facts, desc)
    plan.app = AppInfo(desc, app, lines, info, clock.ms)
    return plan


# ESP8266: the ROM boots the version 1 image at 0x0 directly (no 2nd-stage bootloader,
# no partition table); the code and rodata in flash are mapped at 0x40200000 + offset,
# with the app descriptor at the start of flash offset 0x10000.
_ESP8266_IROM = 0x40200000
_ESP8266_APP_FLASH = 0x10000


def _esp8266_app(facts: ChipFacts, flash: FlashChip, plan: BootPlan, colors: bool) -> BootPlan:
    ram_image = parse_image(flash.data, 0, extended=False)
    mapped_data = flash.read(_ESP8266_APP_FLASH, 0x10000)
    app = Image(_ESP8266_APP_FLASH, ram_image.magic, ram_image.mode, ram_image.size_freq, ram_image.entry,
                ram_image.segments + (Segment(_ESP8266_IROM + _ESP8266_APP_FLASH, _ESP8266_APP_FLASH, mapped_data),))
    desc = parse_app_desc(mapped_data[:256])
    clock = LogClock(ms=61, colors=colors)
    plan.steps.append(Step(0.06, "".join(app_start_log(facts, clock, app, desc)), facts.app_console_baud))
    info = find_vboard_info(app)
    lines = info.lines if info and info.lines else _default_lines(facts, desc)
    plan.app = AppInfo(desc, app, lines, info, clock.ms)
    return plan
