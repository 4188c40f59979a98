"""READ_REG / WRITE_REG: the registers esptool touches, including the SPI flash
"user command" sequence it uses to read the flash id, SFDP and to reset the flash.

Writing ``SPI_CMD`` with the USR bit runs the command set up in USR/USR1/USR2/ADDR at
once and clears the bit, so esptool's poll loop sees it done on the first read.
"""

from __future__ import annotations

from typing import Callable

from espmon.sim.facts import ChipFacts
from espmon.sim.flash import FlashChip

__all__ = ["RegisterFile"]

SPI_CMD_USR = 1 << 18
SPI_USR_ADDR = 1 << 30
SPI_USR_MISO = 1 << 28

RDID = 0x9F
RDSFDP = 0x5A
RDSR, RDSR2, RDSR3 = 0x05, 0x35, 0x15


class RegisterFile:
    def __init__(self, facts: ChipFacts, flash: FlashChip, baud: Callable[[], int],
                 strap: Callable[[], int]):
        self.facts = facts
        self.flash = flash
        self._baud = baud  # the UART's current baud (for UART_CLKDIV)
        self._strap = strap  # the boot strap latched at the last reset
        self.values: dict[int, int] = {}
        self.commands: list[int] = []  # SPI flash commands run, in order (for tests)

    def reset(self) -> None:
        self.values.clear()

    def read(self, addr: int) -> int:
        facts = self.facts
        addr = facts.canonical(addr)
        if addr == facts.uart_clkdiv_reg:
            return (facts.uart_clock_hz // max(1, self._baud())) & 0xFFFFF
        if addr == facts.gpio_strap_reg:
            return self._strap()
        if addr in self.values:
            return self.values[addr]
        return facts.registers.get(addr, 0)

    def write(self, addr: int, value: int, mask: int = 0xFFFFFFFF) -> None:
        addr = self.facts.canonical(addr)
        old = self.read(addr)
        value = (old & ~mask) | (value & mask)
        self.values[addr] = value & 0xFFFFFFFF
        spi = self.facts.spi
        if addr == spi.cmd_reg and value & SPI_CMD_USR:
            self._run_user_command()
            self.values[addr] = value & ~SPI_CMD_USR

    def _run_user_command(self) -> None:
        spi = self.facts.spi
        usr = self.read(spi.base + spi.usr)
        usr1 = self.read(spi.base + spi.usr1)
        command = self.read(spi.base + spi.usr2) & 0xFF
        self.commands.append(command)
        addr = self.read(spi.addr_reg)
        if usr & SPI_USR_ADDR and spi.addr_msb:
            addr_len = ((usr1 >> 26) & 0x3F) + 1
            addr >>= 32 - addr_len
        if usr & SPI_USR_MISO:
            if spi.miso_dlen is not None:
                bits = (self.read(spi.base + spi.miso_dlen) & 0x3FF) + 1
            else:
                bits = ((usr1 >> 8) & 0x1FF) + 1
            result = self._answer(command, addr) & ((1 << min(bits, 32)) - 1)
            self.values[spi.base + spi.w0] = result

    def _answer(self, command: int, addr: int) -> int:
        if command == RDID:
            return self.flash.jedec_id
        if command == RDSFDP:
            return self.flash.sfdp(addr, 4)
        if command in (RDSR, RDSR2, RDSR3):
            return 0x00  # not busy, no protection bits
        return 0xFFFFFFFF  # a command the flash ignores leaves MISO high
