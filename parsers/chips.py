"""Per-chip facts: detection values, ROM banners, reset reasons, boot straps, memory map.

Data only. Names are spelled as esptool spells them (``ESP32-S2``); reset-reason names
are the ones each ROM prints, which differ between chip families for the same code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "Chip",
    "CHIPS",
    "CHIP_DETECT_MAGIC_REG",
    "UART_DATE_REG_V1",
    "chip_by_name",
    "chip_by_magic",
    "chip_by_chip_id",
    "chip_by_uart_date",
    "chip_by_rom_id",
    "register_name",
    "LOG_ONLY_CHIPS",
    "find_chip",
]

#: esptool 3+ reads this register to tell the chip (ESP32-S2 and earlier).
CHIP_DETECT_MAGIC_REG = 0x40001000
#: esptool 2.0-2.5 read the UART date register instead.
UART_DATE_REG_V1 = 0x60000078
_UART_DATE_VALUES = {0x00062000: "esp8266", 0x15122500: "esp32"}


@dataclass(frozen=True)
class Chip:
    key: str  # esptool's --chip value
    name: str  # esptool's CHIP_NAME
    arch: str  # "xtensa" (LX6/LX7), "lx106" (ESP8266) or "riscv"
    magic: tuple[int, ...]  # CHIP_DETECT_MAGIC values; () when detected by chip_id only
    chip_id: int | None  # GET_SECURITY_INFO chip_id (esptool 5 detection); None = not sent
    image_chip_id: int | None  # the chip id field of an app image header
    bootloader_offset: int
    rom_status_len: int  # status bytes in ROM responses (stub: always 2)
    rom_id: str  # first banner line's id: "ESP-ROM:<rom_id>" or "ets <rom_id>"
    rom_build: str  # "Build:" line of ESP-ROM chips, "" otherwise
    console_baud: int  # baud of the ROM boot log with the usual crystal
    download_boot: tuple[int, str]  # (strap value, ROM text) printed in download mode
    flash_boot: tuple[int, str]  # (strap value, ROM text) printed on a normal boot
    strap_gpio0_bit: int  # bit of the boot strap that is GPIO0 (GPIO9 on RISC-V chips)
    reset_reasons: dict[int, tuple[str, str]]  # code -> (name the ROM prints, meaning)
    code_ranges: tuple[tuple[int, int], ...]  # [start, end) of instruction memory
    registers: dict[int, str] = field(default_factory=dict)  # address -> name, for annotation
    stub_text: int = 0  # where esptool 5 loads the stub's text segment
    # [start, end) of the flash-mapped (cache) windows an app's DROM/IROM segments use;
    # a 2nd-stage bootloader never loads there.
    flash_mapped: tuple[tuple[int, int], ...] = ()

    def reset_reason(self, code: int) -> tuple[str, str] | None:
        return self.reset_reasons.get(code)

    def is_download_strap(self, value: int) -> bool:
        """True when the strap value selects serial download (GPIO0/GPIO9 held low)."""
        if self.key == "esp8266":
            return (value & 0x7) == 1
        return not value & self.strap_gpio0_bit

    def in_code(self, address: int) -> bool:
        return any(lo <= address < hi for lo, hi in self.code_ranges)


def _meaning_table(names: dict[int, str]) -> dict[int, tuple[str, str]]:
    return {code: (name, _MEANINGS.get(code, "")) for code, name in names.items()}


# What each reset code means, in the words a user needs (ESP32 numbering; the S2/S3/C3/C6
# enums keep the same numbers for the same causes).
_MEANINGS = {
    0x01: "power-on or EN pin reset",
    0x03: "software reset of the whole digital system (esp_restart)",
    0x04: "legacy watchdog reset",
    0x05: "woke up from deep sleep",
    0x06: "reset by the SDIO host",
    0x07: "timer group 0 watchdog reset (task watchdog, or the panic handler's safety timer)",
    0x08: "timer group 1 watchdog reset (interrupt watchdog)",
    0x09: "RTC watchdog reset of the digital core",
    0x0A: "intrusion detection reset",
    0x0B: "timer group watchdog reset of the CPU",
    0x0C: "software CPU reset: the usual reboot after a panic (and after a brownout on ESP32)",
    0x0D: "RTC watchdog reset of the CPU",
    0x0E: "APP CPU reset by the PRO CPU",
    0x0F: "brownout: the supply voltage dropped below the detector threshold",
    0x10: "RTC watchdog reset: the previous boot hung in the ROM or the bootloader",
    0x11: "timer group 1 watchdog reset of the CPU",
    0x12: "super watchdog reset",
    0x13: "clock glitch reset",
    0x14: "eFuse CRC error reset",
    0x15: "reset by the host over USB-Serial/JTAG",
    0x16: "reset by the USB JTAG",
    0x17: "power glitch reset",
    0x18: "JTAG reset",
}

_ESP32_RESETS = _meaning_table({
    0x01: "POWERON_RESET", 0x03: "SW_RESET", 0x04: "OWDT_RESET", 0x05: "DEEPSLEEP_RESET",
    0x06: "SDIO_RESET", 0x07: "TG0WDT_SYS_RESET", 0x08: "TG1WDT_SYS_RESET",
    0x09: "RTCWDT_SYS_RESET", 0x0A: "INTRUSION_RESET", 0x0B: "TGWDT_CPU_RESET",
    0x0C: "SW_CPU_RESET", 0x0D: "RTCWDT_CPU_RESET", 0x0E: "EXT_CPU_RESET",
    0x0F: "RTCWDT_BROWN_OUT_RESET", 0x10: "RTCWDT_RTC_RESET",
})

# ESP32-S2, S3 and C3 ROMs print short names.
_S2_S3_C3_RESETS = _meaning_table({
    0x01: "POWERON", 0x03: "RTC_SW_SYS_RST", 0x05: "DSLEEP", 0x07: "TG0WDT_SYS_RST",
    0x08: "TG1WDT_SYS_RST", 0x09: "RTCWDT_SYS_RST", 0x0A: "INTRUSION_RST",
    0x0B: "TG0WDT_CPU_RST", 0x0C: "RTC_SW_CPU_RST", 0x0D: "RTCWDT_CPU_RST",
    0x0F: "BROWN_OUT_RST", 0x10: "RTCWDT_RTC_RST", 0x11: "TG1WDT_CPU_RST",
    0x12: "SUPER_WDT_RST", 0x13: "GLITCH_RTC_RST", 0x14: "EFUSE_RST",
    0x15: "USB_UART_CHIP_RESET", 0x16: "USB_JTAG_CHIP_RESET", 0x17: "POWER_GLITCH_RESET",
})

# ESP32-C6 (and H2/P4) ROMs print HP/LP-style names.
_C6_RESETS = _meaning_table({
    0x01: "POWERON", 0x03: "SW_SYS", 0x05: "DSLEEP", 0x06: "SDIO", 0x07: "TG0_WDT_HPSYS",
    0x08: "TG1_WDT_HPSYS", 0x09: "LP_WDT_SYS", 0x0B: "TG0_WDT_HPCPU", 0x0C: "SW_CPU",
    0x0D: "LP_WDT_HPCPU", 0x0F: "LP_BOD_SYS", 0x10: "LP_WDT_SYS", 0x11: "TG1_WDT_HPCPU",
    0x12: "SUPER_WDT", 0x14: "EFUSE_CRC", 0x15: "USB_UART_HPSYS", 0x16: "USB_JTAG_HPSYS",
    0x18: "JTAG_HPCPU",
})

# ESP32-P4: the C6-style enum, but its ROM (eco2, 2024) prints these names, and 0x17 is the
# USB-Serial/JTAG reset there (seen in public P4 boot logs), not S3's power glitch.
_P4_RESETS = {
    **_C6_RESETS,
    0x07: ("HP_SYS_HP_WDT_RESET", _MEANINGS[0x07]),
    0x17: ("CHIP_USB_UART_RESET", _MEANINGS[0x15]),
}

# ESP8266 "rst cause:N" (ROM numbering, not the SDK's rst_info.reason).
_ESP8266_RESETS = {
    1: ("power on", "power-on reset"),
    2: ("external", "reset pin (EN/RST), or a wake from deep sleep"),
    4: ("watchdog", "hardware watchdog reset"),
}


def _spi_registers(base: int, usr: int, w0: int, mosi: int | None, miso: int | None) -> dict[int, str]:
    regs = {base: "SPI_CMD", base + 4: "SPI_ADDR", base + usr: "SPI_USR", base + usr + 4: "SPI_USR1",
            base + usr + 8: "SPI_USR2", base + w0: "SPI_W0"}
    if mosi is not None and miso is not None:
        regs[base + mosi] = "SPI_MOSI_DLEN"
        regs[base + miso] = "SPI_MISO_DLEN"
    return regs


def _efuse_words(base: int, count: int, prefix: str) -> dict[int, str]:
    return {base + 4 * n: f"{prefix}{n}" for n in range(count)}


_COMMON_REGS = {CHIP_DETECT_MAGIC_REG: "CHIP_DETECT_MAGIC", UART_DATE_REG_V1: "UART_DATE"}

CHIPS: dict[str, Chip] = {
    "esp8266": Chip(
        key="esp8266", name="ESP8266", arch="lx106", magic=(0xFFF0C101,), chip_id=None,
        image_chip_id=None, bootloader_offset=0x0, rom_status_len=2,
        rom_id="Jan  8 2013", rom_build="", console_baud=74880,
        download_boot=(0x1, "(1,7)"), flash_boot=(0x3, "(3,6)"), strap_gpio0_bit=0x2,
        reset_reasons=_ESP8266_RESETS,
        code_ranges=((0x40100000, 0x40110000), (0x40201010, 0x40300000)),
        registers={**_COMMON_REGS, 0x3FF00050: "EFUSE_OTP_MAC0", 0x3FF00054: "EFUSE_OTP_MAC1",
                   0x3FF0005C: "EFUSE_OTP_MAC3", 0x60000014: "UART_CLKDIV",
                   **_spi_registers(0x60000200, 0x1C, 0x40, None, None)},
        stub_text=0x4010E000,
        flash_mapped=((0x40200000, 0x40300000),),
    ),
    "esp32": Chip(
        key="esp32", name="ESP32", arch="xtensa", magic=(0x00F01D83,), chip_id=None,
        image_chip_id=0, bootloader_offset=0x1000, rom_status_len=4,
        rom_id="Jul 29 2019 12:21:46", rom_build="", console_baud=115200,
        download_boot=(0x3, "DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2)"),
        flash_boot=(0x13, "SPI_FAST_FLASH_BOOT"), strap_gpio0_bit=0x10,
        reset_reasons=_ESP32_RESETS,
        code_ranges=((0x40000000, 0x40070000), (0x40070000, 0x400C0000), (0x400C2000, 0x40400000)),
        registers={**_COMMON_REGS, **_efuse_words(0x3FF5A000, 7, "EFUSE_BLK0_RDATA"),
                   0x3FF6607C: "APB_CTL_DATE", 0x3FF40014: "UART_CLKDIV",
                   0x3FF5F06C: "RTC_CALI_CFG1", 0x3FF44038: "GPIO_STRAP",
                   **_spi_registers(0x3FF42000, 0x1C, 0x80, 0x28, 0x2C),
                   # esptool 2.x reaches SPI1 and the eFuse words through the AHB window.
                   **_spi_registers(0x60002000, 0x1C, 0x80, 0x28, 0x2C),
                   **_efuse_words(0x6001A000, 7, "EFUSE_BLK0_RDATA")},
        stub_text=0x400A8000,
        flash_mapped=((0x3F400000, 0x3F800000), (0x400D0000, 0x40400000)),
    ),
    "esp32s2": Chip(
        key="esp32s2", name="ESP32-S2", arch="xtensa", magic=(0x000007C6,), chip_id=None,
        image_chip_id=2, bootloader_offset=0x1000, rom_status_len=4,
        rom_id="esp32s2-rc4-20191025", rom_build="Oct 25 2019", console_baud=115200,
        download_boot=(0x0, "DOWNLOAD(USB/UART0/1)"), flash_boot=(0x8, "SPI_FAST_FLASH_BOOT"),
        strap_gpio0_bit=0x08, reset_reasons=_S2_S3_C3_RESETS,
        code_ranges=((0x40000000, 0x40020000), (0x40020000, 0x40070000), (0x40080000, 0x40B80000)),
        registers={**_COMMON_REGS, **_efuse_words(0x3F41A030, 6, "EFUSE_RD_REPEAT_DATA"),
                   **_efuse_words(0x3F41A044, 6, "EFUSE_RD_MAC_SPI_SYS_"),
                   **_efuse_words(0x3F41A05C, 8, "EFUSE_RD_SYS_DATA_PART1_"),
                   0x3F400014: "UART_CLKDIV", 0x3F404038: "GPIO_STRAP",
                   0x3F408128: "RTC_CNTL_OPTION1",
                   **_spi_registers(0x3F402000, 0x18, 0x58, 0x24, 0x28)},
        stub_text=0x40028000,
        flash_mapped=((0x3F000000, 0x3FF80000), (0x40080000, 0x40B80000)),
    ),
    "esp32s3": Chip(
        key="esp32s3", name="ESP32-S3", arch="xtensa", magic=(0x9,), chip_id=9,
        image_chip_id=9, bootloader_offset=0x0, rom_status_len=4,
        rom_id="esp32s3-20210327", rom_build="Mar 27 2021", console_baud=115200,
        download_boot=(0x0, "DOWNLOAD(USB/UART0)"), flash_boot=(0x8, "SPI_FAST_FLASH_BOOT"),
        strap_gpio0_bit=0x08, reset_reasons=_S2_S3_C3_RESETS,
        code_ranges=((0x40000000, 0x40060000), (0x40370000, 0x403E0000), (0x42000000, 0x44000000)),
        registers={**_COMMON_REGS, **_efuse_words(0x60007030, 6, "EFUSE_RD_REPEAT_DATA"),
                   **_efuse_words(0x60007044, 6, "EFUSE_RD_MAC_SPI_SYS_"),
                   **_efuse_words(0x6000705C, 8, "EFUSE_RD_SYS_DATA_PART1_"),
                   0x60000014: "UART_CLKDIV", 0x60000080: "UART_DATE", 0x60004038: "GPIO_STRAP",
                   0x6000812C: "RTC_CNTL_OPTION1",
                   **_spi_registers(0x60002000, 0x18, 0x58, 0x24, 0x28)},
        stub_text=0x40378000,
        flash_mapped=((0x3C000000, 0x3E000000), (0x42000000, 0x44000000)),
    ),
    "esp32c3": Chip(
        key="esp32c3", name="ESP32-C3", arch="riscv",
        magic=(0x6921506F, 0x1B31506F, 0x4881606F, 0x4361606F), chip_id=5,
        image_chip_id=5, bootloader_offset=0x0, rom_status_len=4,
        rom_id="esp32c3-api1-20210207", rom_build="Feb  7 2021", console_baud=115200,
        download_boot=(0x4, "DOWNLOAD(USB/UART0/1)"), flash_boot=(0xC, "SPI_FAST_FLASH_BOOT"),
        strap_gpio0_bit=0x08, reset_reasons=_S2_S3_C3_RESETS,
        code_ranges=((0x40000000, 0x40060000), (0x4037C000, 0x403E0000), (0x42000000, 0x42800000)),
        registers={**_COMMON_REGS, **_efuse_words(0x60008830, 6, "EFUSE_RD_REPEAT_DATA"),
                   **_efuse_words(0x60008844, 6, "EFUSE_RD_MAC_SPI_SYS_"),
                   **_efuse_words(0x6000885C, 8, "EFUSE_RD_SYS_DATA_PART1_"),
                   0x60000014: "UART_CLKDIV", 0x6000007C: "UART_DATE",
                   **_spi_registers(0x60002000, 0x18, 0x58, 0x24, 0x28)},
        stub_text=0x40380000,
        flash_mapped=((0x3C000000, 0x3C800000), (0x42000000, 0x42800000)),
    ),
    "esp32c6": Chip(
        key="esp32c6", name="ESP32-C6", arch="riscv", magic=(0x2CE0806F,), chip_id=13,
        image_chip_id=13, bootloader_offset=0x0, rom_status_len=4,
        rom_id="esp32c6-20220919", rom_build="Sep 19 2022", console_baud=115200,
        download_boot=(0x4, "DOWNLOAD(USB/UART0/SDIO_FEI_FEO)"), flash_boot=(0x6C, "SPI_FAST_FLASH_BOOT"),
        strap_gpio0_bit=0x08, reset_reasons=_C6_RESETS,
        code_ranges=((0x40000000, 0x40050000), (0x40800000, 0x40880000), (0x42000000, 0x42800000)),
        registers={**_COMMON_REGS, **_efuse_words(0x600B0830, 6, "EFUSE_RD_REPEAT_DATA"),
                   **_efuse_words(0x600B0844, 6, "EFUSE_RD_MAC_SPI_SYS_"),
                   **_efuse_words(0x600B085C, 8, "EFUSE_RD_SYS_DATA_PART1_"),
                   0x6000007C: "UART_DATE",
                   **_spi_registers(0x60003000, 0x18, 0x58, 0x24, 0x28)},
        stub_text=0x40800000,
        flash_mapped=((0x42000000, 0x43000000),),
    ),
}

# Chips espmon meets only in a console log (their ROM banner, reset names and bootloader
# offset), not modelled by the virtual board nor in CHIPS, so nothing that iterates CHIPS
# changes. Values from esptool 5.6 targets/ (offsets, image chip ids, chip ids).
LOG_ONLY_CHIPS: dict[str, Chip] = {
    "esp32c2": Chip(
        key="esp32c2", name="ESP32-C2", arch="riscv", magic=(), chip_id=12, image_chip_id=12,
        bootloader_offset=0x0, rom_status_len=4, rom_id="esp8684-api2-20220127",
        rom_build="Jan 27 2022", console_baud=74880,  # 26 MHz crystal: the ROM log runs at 74880
        download_boot=(0x4, "DOWNLOAD(UART0)"), flash_boot=(0xC, "SPI_FAST_FLASH_BOOT"),
        strap_gpio0_bit=0x08, reset_reasons=_S2_S3_C3_RESETS,
        code_ranges=((0x40000000, 0x40090000), (0x4037C000, 0x403C0000), (0x42000000, 0x42400000)),
    ),
    "esp32h2": Chip(
        key="esp32h2", name="ESP32-H2", arch="riscv", magic=(), chip_id=16, image_chip_id=16,
        bootloader_offset=0x0, rom_status_len=4, rom_id="esp32h2-20221101",
        rom_build="Nov  1 2022", console_baud=115200,
        download_boot=(0x4, "DOWNLOAD(USB/UART0)"), flash_boot=(0xC, "SPI_FAST_FLASH_BOOT"),
        strap_gpio0_bit=0x08, reset_reasons=_C6_RESETS,
        code_ranges=((0x40000000, 0x40020000), (0x40800000, 0x40850000), (0x42000000, 0x42800000)),
    ),
    "esp32p4": Chip(
        key="esp32p4", name="ESP32-P4", arch="riscv", magic=(), chip_id=18, image_chip_id=18,
        bootloader_offset=0x2000, rom_status_len=4, rom_id="esp32p4-eco2-20240710",
        rom_build="Jul 10 2024", console_baud=115200,
        download_boot=(0x0, "DOWNLOAD(USB/UART0/SPI)"), flash_boot=(0x10F, "SPI_FAST_FLASH_BOOT"),
        strap_gpio0_bit=0x08, reset_reasons=_P4_RESETS,
        code_ranges=((0x4FC00000, 0x4FC20000), (0x4FF00000, 0x4FFC0000), (0x40000000, 0x4C000000)),
    ),
}

# ROM ids whose chip part is not the chip key ("ESP-ROM:esp8684-api2-..." is an ESP32-C2).
_ROM_ID_ALIASES = {"esp8684": "esp32c2"}

_BY_NAME = {**CHIPS, **{c.name.lower(): c for c in CHIPS.values()}}
_ANY_BY_NAME = {**_BY_NAME, **LOG_ONLY_CHIPS, **{c.name.lower(): c for c in LOG_ONLY_CHIPS.values()}}


def chip_by_name(name: str) -> Chip | None:
    """``esp32s2``, ``ESP32-S2`` and ``esp32-s2`` all name the same chip."""
    key = name.strip().lower()
    return _BY_NAME.get(key) or _BY_NAME.get(key.replace("-", ""))


def chip_by_magic(value: int) -> Chip | None:
    for chip in CHIPS.values():
        if value in chip.magic:
            return chip
    return None


def chip_by_chip_id(chip_id: int) -> Chip | None:
    for chip in CHIPS.values():
        if chip.chip_id == chip_id:
            return chip
    return None


def chip_by_uart_date(value: int) -> Chip | None:
    key = _UART_DATE_VALUES.get(value)
    return CHIPS[key] if key else None


def chip_by_rom_id(rom_id: str) -> Chip | None:
    """``esp32c3-api1-20210207`` -> ESP32-C3 (matches on the chip part of any ROM id)."""
    head = rom_id.split("-", 1)[0].lower()
    return CHIPS.get(head)


def find_chip(text: str) -> Chip | None:
    """Any chip a log can name (CHIPS and LOG_ONLY_CHIPS), by key, esptool name or ROM id.

    ``esp32c2``, ``ESP32-C2`` and ``esp8684-api2-20220127`` all give the ESP32-C2.
    """
    key = text.strip().lower()
    chip = _ANY_BY_NAME.get(key) or _ANY_BY_NAME.get(key.replace("-", ""))
    if chip is None:
        head = key.split("-", 1)[0]
        chip = _ANY_BY_NAME.get(_ROM_ID_ALIASES.get(head, head))
    return chip


def register_name(address: int, chip: Chip | None = None) -> str | None:
    """Name of a register esptool reads or writes, on ``chip`` or, if unknown, any chip."""
    if chip is not None:
        return chip.registers.get(address)
    for candidate in CHIPS.values():
        name = candidate.registers.get(address)
        if name:
            return name
    return None
