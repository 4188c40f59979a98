"""What the virtual board's registers hold, per chip, as esptool 5 reads them.

``parsers.chips`` has the facts every part of espmon shares (names, magic values, chip
ids, banners, straps, reset names). This module adds what only an emulated chip needs:
eFuse words chosen so that esptool prints a real chip description, MAC and crystal; the
SPI controller's register layout for flash "user commands"; the UART clock divider; and
the few values the ROM banner and the boot log print.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from parsers.chips import CHIP_DETECT_MAGIC_REG, CHIPS, UART_DATE_REG_V1, Chip

__all__ = ["SpiLayout", "ChipFacts", "FACTS", "facts_for"]


@dataclass(frozen=True)
class SpiLayout:
    """Where esptool's ``run_spiflash_command`` finds the SPI0 "user command" registers."""

    base: int
    usr: int
    usr1: int
    usr2: int
    w0: int
    miso_dlen: int | None  # None: the ESP8266 keeps the MISO bit length in USR1
    addr_msb: bool  # ESP32/ESP8266 left-align the address in SPI_ADDR

    @property
    def cmd_reg(self) -> int:
        return self.base

    @property
    def addr_reg(self) -> int:
        return self.base + 4


@dataclass(frozen=True)
class ChipFacts:
    chip: Chip
    mac: bytes
    registers: dict[int, int]  # constant registers (eFuse words, dates, calibration)
    spi: SpiLayout
    uart_clkdiv_reg: int | None
    uart_clock_hz: int  # UART_CLKDIV = uart_clock_hz / baud
    gpio_strap_reg: int | None
    security_info: bytes | None  # GET_SECURITY_INFO payload; None = unsupported
    idf_target: str  # "esp32s3": the boot log's "boot.esp32s3" tag
    cpu_mhz: int
    cores: int
    revision: tuple[int, int]
    app_console_baud: int = 115200
    extra: dict[str, int] = field(default_factory=dict)
    # (start, end, target): the same registers seen at another address (esptool 2.x
    # reaches the ESP32's UART, SPI1 and eFuse through the 0x60000000 AHB window).
    alias: tuple[int, int, int] | None = None

    def canonical(self, addr: int) -> int:
        if self.alias is not None and self.alias[0] <= addr < self.alias[1]:
            return addr - self.alias[0] + self.alias[2]
        return addr

    @property
    def mac_text(self) -> str:
        return ":".join(f"{b:02x}" for b in self.mac)


def _mac_words(mac: bytes) -> tuple[int, int]:
    """(low word, high word) as the ESP32-S2 and later store BLOCK1 words 0 and 1."""
    low = struct.unpack(">I", mac[2:6])[0]
    high = struct.unpack(">H", mac[0:2])[0]
    return low, high


def _esp32() -> ChipFacts:
    mac = bytes.fromhex("246f28a1b2c4")
    base = 0x3FF5A000
    mac_low, mac_high = _mac_words(mac)
    regs = {
        base + 0x00: 0x00000000,  # word 0: no flash encryption
        base + 0x04: mac_low,
        base + 0x08: 0x00A70000 | mac_high,  # CRC byte above the MAC
        # word 3: package D0WD (bit 9), rev bit 0 (bit 15), CPU rated 240 MHz (bit 13)
        base + 0x0C: 0x0000A200,
        base + 0x10: 0x00001132,  # word 4: ADC Vref, CK8M frequency (low byte)
        base + 0x14: 0x00100000,  # word 5: rev bit 1, default SPI pads
        base + 0x18: 0x00000000,  # word 6: coding scheme none, no secure boot
        0x3FF6607C: 0x80000000,  # APB_CTL_DATE: rev bit 2 -> v3
        0x3FF5F06C: 2048 << 7,  # RTC cali: 2048 slow cycles -> 40 MHz with CK8M=0x32
        0x3FF48074: 0x00000000,  # RTC_CNTL_SDIO_CONF
    }
    return ChipFacts(
        chip=CHIPS["esp32"], mac=mac, registers=regs,
        spi=SpiLayout(0x3FF42000, 0x1C, 0x20, 0x24, 0x80, 0x2C, addr_msb=True),
        uart_clkdiv_reg=0x3FF40014, uart_clock_hz=40_000_000, gpio_strap_reg=0x3FF44038,
        security_info=None, idf_target="esp32", cpu_mhz=160, cores=2, revision=(3, 0),
        alias=(0x60000000, 0x60040000, 0x3FF40000),
    )


def _block1_chip(key: str, mac_hex: str, efuse_base: int, words: dict[int, int],
                 block2: dict[int, int], spi_base: int, cpu_mhz: int, cores: int,
                 revision: tuple[int, int], strap_reg: int | None,
                 uart_clkdiv: int | None) -> ChipFacts:
    """ESP32-S2 and later: MAC and chip data in BLOCK1 (at +0x44), calibration in BLOCK2."""
    chip = CHIPS[key]
    mac = bytes.fromhex(mac_hex)
    block1 = efuse_base + 0x44
    block2_base = efuse_base + 0x5C
    mac_low, mac_high = _mac_words(mac)
    regs = {block1: mac_low, block1 + 4: (words.pop(1, 0) << 16) | mac_high}
    regs.update({block1 + 4 * n: value for n, value in words.items()})
    regs.update({block2_base + 4 * n: value for n, value in block2.items()})
    for n in range(6):  # BLOCK0 read words: nothing burnt
        regs.setdefault(efuse_base + 0x30 + 4 * n, 0)
    if chip.chip_id is None:  # ESP32-S2: 12-byte reply, no chip id
        security = struct.pack("<IB7B", 0, 0, *([0] * 7))
    else:
        security = struct.pack("<IB7BII", 0, 0, *([0] * 7), chip.chip_id, 0)
    return ChipFacts(
        chip=chip, mac=mac, registers=regs,
        spi=SpiLayout(spi_base, 0x18, 0x1C, 0x20, 0x58, 0x28, addr_msb=False),
        uart_clkdiv_reg=uart_clkdiv, uart_clock_hz=40_000_000, gpio_strap_reg=strap_reg,
        security_info=security, idf_target=key, cpu_mhz=cpu_mhz, cores=cores, revision=revision,
    )


def _esp8266() -> ChipFacts:
    mac = bytes.fromhex("acd0743e5f61")
    regs = {
        # OTP words: MAC bytes 3..5 (bits 24-31 of word 0, low 16 bits of word 1); word 1
        # bits 16-23 = 1 selects the AC:D0:74 OUI. No ESP8285 bits.
        0x3FF00050: 0x61000000 | 0x00ABCD,
        0x3FF00054: 0x00013E5F,
        0x3FF00058: 0x00000000,
        0x3FF0005C: 0x00000000,
    }
    return ChipFacts(
        chip=CHIPS["esp8266"], mac=mac, registers=regs,
        spi=SpiLayout(0x60000200, 0x1C, 0x20, 0x24, 0x40, None, addr_msb=True),
        uart_clkdiv_reg=0x60000014, uart_clock_hz=52_000_000, gpio_strap_reg=None,
        security_info=None, idf_target="esp8266", cpu_mhz=80, cores=1, revision=(0, 0),
    )


def _build() -> dict[str, ChipFacts]:
    facts = {
        "esp32": _esp32(),
        # ESP32-S2 (revision v0.0), no embedded flash/PSRAM, BLK2 calibration V1
        "esp32s2": _block1_chip(
            "esp32s2", "7cdfa1023344", 0x3F41A000, {3: 0, 4: 0}, {4: 1 << 4},
            0x3F402000, 240, 1, (0, 0), 0x3F404038, 0x3F400014),
        # ESP32-S3 (QFN56) revision v0.2, eFuse block version v1.3
        "esp32s3": _block1_chip(
            "esp32s3", "f412fa4a5b6c", 0x60007000, {3: (2 << 18) | (3 << 24), 4: 0, 5: 0}, {4: 1},
            0x60002000, 240, 2, (0, 2), 0x60004038, 0x60000014),
        # ESP32-C3 (QFN32) revision v0.4
        "esp32c3": _block1_chip(
            "esp32c3", "58cf79123456", 0x60008800, {3: 4 << 18, 4: 0, 5: 0}, {},
            0x60002000, 160, 1, (0, 4), 0x60004038, 0x60000014),
        # ESP32-C6 (QFN40) revision v0.1; word 1 high half = EUI-64 filler ff:fe
        "esp32c6": _block1_chip(
            "esp32c6", "404cca1a2b3c", 0x600B0800, {1: 0xFFFE, 3: 1 << 18, 4: 0}, {},
            0x60003000, 160, 1, (0, 1), 0x60091038, None),
        "esp8266": _esp8266(),
    }
    for fact in facts.values():
        magic = fact.chip.magic[0] if fact.chip.magic else 0
        fact.registers.setdefault(CHIP_DETECT_MAGIC_REG, magic)
    # esptool 2.x tells the ESP8266 from the ESP32 by the UART date register instead.
    facts["esp8266"].registers.setdefault(UART_DATE_REG_V1, 0x00062000)
    facts["esp32"].registers.setdefault(facts["esp32"].canonical(UART_DATE_REG_V1), 0x15122500)
    return facts


FACTS: dict[str, ChipFacts] = _build()


def facts_for(key: str) -> ChipFacts:
    return FACTS[key]
