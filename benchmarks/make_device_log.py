"""A realistic ESP-IDF console stream, made up but shaped like the real thing.

Seeded, so every run (and every benchmark that reuses it) sees the same bytes:
ROM banners and 2nd-stage bootloader logs at each boot, coloured ``I/W/E/D`` log lines
with CRLF endings (IDF's default), plain ``printf`` output, long lines (JSON, hex dumps),
a few bytes of junk now and then (a reset or noise on the wire) and, every few
thousand lines, a panic (Xtensa or RISC-V) followed by ``Rebooting...`` and a new boot.

    from benchmarks.make_device_log import write_device_log
    write_device_log(path, size=20_000_000, seed=1)

``python benchmarks/make_device_log.py OUT [MB]`` writes one from the command line.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from pathlib import Path

__all__ = ["device_log_chunks", "write_device_log"]

_COLOUR = {"E": "\x1b[0;31m", "W": "\x1b[0;33m", "I": "\x1b[0;32m", "D": "", "V": ""}
_TAGS = ("wifi", "esp_netif_handlers", "mqtt_client", "app_main", "sensor", "httpd_uri", "nvs", "gpio",
         "i2c.master", "heap_init", "spi_flash", "phy_init", "BTDM_INIT", "esp-tls", "ota", "uart")
_WORDS = ("connected", "sending", "value", "timeout", "retry", "buffer", "packet", "client", "ok", "len",
          "free heap", "rssi", "reading", "status", "event", "handler", "queue", "task", "bytes", "done")

_ESP32_BOOT = """ets Jul 29 2019 12:21:46

rst:0x{rst:x} ({name}),boot:0x13 (SPI_FAST_FLASH_BOOT)
configsip: 0, SPIWP:0xee
clk_drv:0x00,q_drv:0x00,d_drv:0x00,cs0_drv:0x00,hd_drv:0x00,wp_drv:0x00
mode:DIO, clock div:2
load:0x3fff0030,len:7104
load:0x40078000,len:15576
load:0x40080400,len:4
ho 8 tail 4 room 4
load:0x40080404,len:3876
entry 0x4008064c"""

_S3_BOOT = """ESP-ROM:esp32s3-20210327
Build:Mar 27 2021
rst:0x{rst:x} ({name}),boot:0x8 (SPI_FAST_FLASH_BOOT)
Saved PC:0x40375744
SPIWP:0xee
mode:DIO, clock div:1
load:0x3fce3818,len:0x16f8
load:0x403c9700,len:0x4
load:0x403c9704,len:0xc00
load:0x403cc700,len:0x2eb0
entry 0x403c9908"""

_BOOTLOADER = (
    ("I", "boot", "ESP-IDF v5.1.2 2nd stage bootloader"), ("I", "boot", "compile time Jan 10 2024 10:12:01"),
    ("I", "boot", "Multicore bootloader"), ("I", "boot", "chip revision: v3.0"),
    ("I", "boot.esp32", "SPI Speed      : 40MHz"), ("I", "boot.esp32", "SPI Mode       : DIO"),
    ("I", "boot.esp32", "SPI Flash Size : 4MB"), ("I", "boot", "Enabling RNG early entropy source..."),
    ("I", "boot", "Partition Table:"),
    ("I", "boot", "## Label            Usage          Type ST Offset   Length"),
    ("I", "boot", " 0 nvs              WiFi data        01 02 00009000 00006000"),
    ("I", "boot", " 1 phy_init         RF data          01 01 0000f000 00001000"),
    ("I", "boot", " 2 factory          factory app      00 00 00010000 00100000"),
    ("I", "boot", "End of partition table"),
    ("I", "esp_image", "segment 0: paddr=00010020 vaddr=3f400020 size=1e6dch (124636) map"),
    ("I", "esp_image", "segment 1: paddr=0002e704 vaddr=3ffbdb60 size=01914h (  6420) load"),
    ("I", "esp_image", "segment 2: paddr=00030020 vaddr=400d0020 size=7f0b0h (520368) map"),
    ("I", "boot", "Loaded app from partition at offset 0x10000"), ("I", "boot", "Disabling RNG early entropy source..."),
    ("I", "cpu_start", "Multicore app"), ("I", "cpu_start", "Pro cpu start user code"),
    ("I", "cpu_start", "cpu freq: 160000000 Hz"), ("I", "app_init", "Application information:"),
    ("I", "app_init", "Project name:     bench_app"), ("I", "app_init", "App version:      1.0.0"),
    ("I", "app_init", "ELF file SHA256:  1d2f3a4b5c6d7e8f..."), ("I", "app_init", "ESP-IDF:          v5.1.2"),
    ("I", "heap_init", "Initializing. RAM available for dynamic allocation:"),
    ("I", "main_task", "Calling app_main()"),
)

_XTENSA_PANIC = """Guru Meditation Error: Core  0 panic'ed (LoadProhibited). Exception was unhandled.

Core  0 register dump:
PC      : 0x400d2f1e  PS      : 0x00060a30  A0      : 0x800d3a21  A1      : 0x3ffb5e70  
A2      : 0x00000000  A3      : 0x3ffb5ebc  A4      : 0x00000001  A5      : 0x3ffb0c38  
A6      : 0x00000000  A7      : 0x00000001  A8      : 0x800d2f1b  A9      : 0x3ffb5e50  
A10     : 0x00000000  A11     : 0x3ffb2bac  A12     : 0x40082d1c  A13     : 0x06ff1ff8  
A14     : 0x3ffb7078  A15     : 0x00000000  SAR     : 0x00000004  EXCCAUSE: 0x0000001c  
EXCVADDR: 0x00000000  LBEG    : 0x4000c46c  LEND    : 0x4000c477  LCOUNT  : 0xffffffff  


Backtrace: 0x400d2f1b:0x3ffb5e70 0x400d3a1e:0x3ffb5e90 0x400e1b41:0x3ffb5eb0 0x40088d15:0x3ffb5ed0




ELF file SHA256: 1d2f3a4b5c6d7e8f

Rebooting..."""

_RISCV_PANIC = """Guru Meditation Error: Core  0 panic'ed (Store access fault). Exception was unhandled.

Core  0 register dump:
MEPC    : 0x42006686  RA      : 0x42006692  SP      : 0x3fc98d70  GP      : 0x3fc8f000  
TP      : 0x3fc98e60  T0      : 0x4005890e  T1      : 0x3fc92abc  T2      : 0x00000000  
S0/FP   : 0x00000000  S1      : 0x00000000  A0      : 0x00000000  A1      : 0x3fc98d9c  
MSTATUS : 0x00001881  MTVEC   : 0x40380001  MCAUSE  : 0x00000007  MTVAL   : 0x00000000  
MHARTID : 0x00000000  

Stack memory:
{stack}

ELF file SHA256: 1d2f3a4b5c6d7e8f

Rebooting..."""


def _log(level: str, tag: str, ms: int, msg: str) -> str:
    colour = _COLOUR[level]
    return f"{colour}{level} ({ms}) {tag}: {msg}\x1b[0m" if colour else f"{level} ({ms}) {tag}: {msg}"


def _message(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.03:  # a long line: JSON or a hex dump
        if rng.random() < 0.5:
            return "payload " + ",".join(f'"k{i}":{rng.randint(0, 99999)}' for i in range(rng.randint(40, 160)))
        return " ".join(f"{rng.getrandbits(8):02x}" for _ in range(rng.randint(200, 700)))
    return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 14))) + f" {rng.randint(0, 100000)}"


def _boot(rng: random.Random, ms: int, reset: tuple[int, str]) -> list[str]:
    template = _ESP32_BOOT if rng.random() < 0.7 else _S3_BOOT
    lines = template.format(rst=reset[0], name=reset[1]).split("\n")
    lines += [_log(level, tag, ms + 5 * i, msg) for i, (level, tag, msg) in enumerate(_BOOTLOADER)]
    return lines


def _panic(rng: random.Random) -> list[str]:
    if rng.random() < 0.5:
        return _XTENSA_PANIC.split("\n")
    rows = []
    for k in range(32):
        words = " ".join(f"0x{rng.getrandbits(32):08x}" for _ in range(8))
        rows.append(f"{0x3fc98d70 + 32 * k:08x}: {words}")
    return _RISCV_PANIC.format(stack="\n".join(rows)).split("\n")


def device_log_chunks(size: int = 20_000_000, seed: int = 1, chunk: int = 1 << 16) -> Iterator[bytes]:
    """About ``size`` bytes (never less) of device output, in ``chunk``-sized pieces."""
    rng = random.Random(seed)
    made, ms = 0, 300
    pending = bytearray()
    lines = _boot(rng, 30, (0x1, "POWERON_RESET"))
    while made < size:
        for text in lines:
            data = text.encode() + b"\r\n"
            if rng.random() < 0.002:  # noise: a few bytes that are not UTF-8
                cut = rng.randint(0, len(data) - 2)
                data = data[:cut] + bytes(rng.randint(0x80, 0xFF) for _ in range(rng.randint(1, 6))) + data[cut:]
            pending += data
            made += len(data)
        while len(pending) >= chunk:
            yield bytes(pending[:chunk])
            del pending[:chunk]
        ms += rng.randint(1, 50)
        r = rng.random()
        if r < 0.0004:
            lines = _panic(rng) + _boot(rng, 30, (0xC, "SW_CPU_RESET"))
        elif r < 0.15:
            lines = [" ".join(rng.choice(_WORDS) for _ in range(rng.randint(2, 10)))]  # plain printf
        else:
            level = rng.choices("IWED", weights=(80, 8, 4, 8))[0]
            lines = [_log(level, rng.choice(_TAGS), ms, _message(rng))]
    if pending:
        yield bytes(pending)


def write_device_log(path: str | Path, size: int = 20_000_000, seed: int = 1) -> int:
    """Write the stream to ``path``; returns the number of bytes written."""
    total = 0
    with open(path, "wb") as f:
        for data in device_log_chunks(size, seed):
            f.write(data)
            total += len(data)
    return total


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: make_device_log.py OUT [MB]")
    mb = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0
    print(write_device_log(sys.argv[1], int(mb * 1_000_000)), "bytes")
