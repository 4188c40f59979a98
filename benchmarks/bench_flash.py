#!/usr/bin/env python3
"""Flashing on one open port, against the virtual board paced like a real UART.

    python benchmarks/bench_flash.py [--kb 300] [--baud 460800] [--repeat 3]

The board delivers every byte at its wire time (``sim://...&pace=1&pace_tx=1``: both directions); the app is the
sample app plus ``--kb`` of incompressible data at 0x20000 (a realistic image size).
Measured in one run, best of ``--repeat``:

- write: the flash write itself through espmon's engine (esptool's API on a PortProxy),
  against the same esptool calls on the bare port (the floor: what the proxy costs);
- to-boot: from the end of the write (esptool's last "Hash of data verified") to the first
  boot-log byte read on the same port (espmon's reset, baud restore and hand-back);

The whole loop against esptool + esp-idf-monitor chained, and a ``--skip-unchanged``
reflash after an app-only change, are in ``bench_flash_loop.py``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from esptool import cmds  # noqa: E402

from espmon.flash.engine import LoaderOptions, loader_on  # noqa: E402
from espmon.port.opening import open_port  # noqa: E402


class Quiet:
    def __init__(self):
        self.verified_at = 0.0

    def message(self, level, text):
        if text.startswith("Hash of data verified"):
            self.verified_at = time.monotonic()

    def progress(self, done, total, what):
        pass


def _images(kb: int) -> list[tuple[int, bytes]]:
    app = (ROOT / "samples/firmware/esp32/app.bin").read_bytes()
    return [(0x10000, app), (0x20000, os.urandom(kb * 1024))]


def espmon_write(url: str, pairs, baud: int) -> tuple[float, float]:
    port = open_port(url, 115200)
    report = Quiet()
    with loader_on(port, report, LoaderOptions(baud=baud)) as loader:
        start = time.monotonic()
        loader.write(pairs)
        write = time.monotonic() - start
    # the loader reset the chip; the port is ours again: wait for the first boot byte
    port.timeout = 0.001
    while not port.read(1):
        pass
    to_boot = time.monotonic() - report.verified_at
    port.close()
    return write, to_boot


def bare_write(url: str, pairs, baud: int) -> float:
    from espmon.flash.esptool_log import routed_to
    from espmon.port.lines import bootloader_reset

    port = open_port(url, 115200)
    with routed_to(Quiet()):
        bootloader_reset(port)
        esp = cmds.detect_chip(port, 115200, "no-reset")
        esp = cmds.run_stub(esp)
        esp.change_baud(baud)
        cmds.attach_flash(esp)
        start = time.monotonic()
        cmds.write_flash(esp, pairs)
        took = time.monotonic() - start
    port.close()
    return took


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kb", type=int, default=300)
    parser.add_argument("--baud", type=int, default=460800)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    pairs = _images(args.kb)
    total = sum(len(d) for _, d in pairs)
    ours, floor, boot = [], [], []
    for i in range(args.repeat):
        url = f"sim://esp32?pace=1&pace_tx=1&heartbeat=0&name=bench-{i}"
        write, to_boot = espmon_write(url, pairs, args.baud)
        ours.append(write)
        boot.append(to_boot)
        floor.append(bare_write(f"sim://esp32?pace=1&pace_tx=1&heartbeat=0&name=bench-bare-{i}", pairs, args.baud))
    print(f"image {total / 1024:.0f} kB at {args.baud} baud, paced board, best of {args.repeat}")
    print("| measure | espmon | floor (esptool API, bare port) | ratio |")
    print("|---|---|---|---|")
    print(f"| write, s | {min(ours):.2f} | {min(floor):.2f} | {min(ours) / min(floor):.3f} |")
    print(f"| end of write -> first boot byte, s | {min(boot):.3f} | | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
