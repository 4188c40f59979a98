#!/usr/bin/env python3
"""The flash-then-monitor loop, against the peers: ``espmon flash ... --monitor`` on one open
port vs ``esptool write-flash ... && esp-idf-monitor`` chained (what ``idf.py flash monitor``
runs), on the same virtual board served across processes over RFC 2217.

    python benchmarks/bench_flash_loop.py [--kb 300] [--baud 460800] [--repeat 3]

The board (``espmon sim --rfc2217 --pace``) sends every byte at its wire time. The images
are the sample project's bootloader, partition table and app, plus ``--kb`` of random data
at 0x110000 (an app of realistic size). esptool + esp-idf-monitor run in a pseudo-terminal
(esp-idf-monitor wants one), espmon with its output piped (its plain monitor); each output is
read with a timestamp per chunk:

- to-boot: from the last "Hash of data verified" to the first line of the ROM's boot banner
  (``rst:0x``) after it, i.e. what the user waits between the end of the write and the boot log;
- loop: from the command's start to that boot line;
- reflash: espmon again with ``--skip-unchanged`` after an app-only change (the bootloader
  and partition table cost one MD5 each).

esptool and esp-idf-monitor use stock pyserial's RFC 2217 client (each setting waits for
its acknowledgement, 50 ms polls); espmon uses its own client. That is what each tool gives
a user of a networked board; on a local tty the connect costs are smaller for both.
"""

from __future__ import annotations

import argparse
import os
import pty
import re
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
PROJECT = ROOT / "samples/project/esp32"
_HASH = re.compile(rb"Hash of data verified")
_BOOT = re.compile(rb"rst:0x")
_ESC = re.compile(rb"\x1b(?:\[[0-9;?]*[A-Za-z]|[78()][0-9A-Za-z]?)")


def start_board() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([PY, "-m", "espmon", "sim", "--chip", "esp32", "--rfc2217", "127.0.0.1:0", "--pace"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT)
    url = proc.stdout.readline().decode().strip()
    assert url.startswith("rfc2217://"), url
    return proc, url


def timed_run(cmd: list[str], deadline: float = 300.0, terminal: bool = True) -> tuple[float, float, float]:
    """Run ``cmd`` with its output on a pty (``terminal``) or a pipe; (start, last hash, first
    boot line after it), monotonic seconds."""
    if terminal:
        master, slave = pty.openpty()
        stdin = slave
    else:
        master, slave = os.pipe()
        stdin = subprocess.DEVNULL
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=stdin, stdout=slave, stderr=slave, cwd=ROOT, close_fds=True,
                            env=dict(os.environ, TERM="xterm", NO_COLOR="1"))
    os.close(slave)
    seen = log = b""
    hashes = 0
    t_hash = t_boot = None
    try:
        while time.monotonic() - start < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            now = time.monotonic()
            log = (log + chunk)[-20000:]
            seen += _ESC.sub(b"", chunk)  # a full-screen console draws with escapes between the words
            found = len(_HASH.findall(seen))
            if found > hashes:
                hashes, t_hash = found, now
                seen = seen[-64:]
            elif t_hash is not None and _BOOT.search(seen):
                t_boot = now
                break
            seen = seen[-4096:]
    finally:
        proc.kill()
        proc.wait()
        os.close(master)
    assert t_hash is not None and t_boot is not None, f"{cmd[:4]}: no write end or no boot line seen: {log[-3000:]!r}"
    return start, t_hash, t_boot


FAILED: dict[str, int] = {}


def attempt(name: str, cmd: list[str], terminal: bool = True, tries: int = 3) -> tuple[float, float, float]:
    """``timed_run``, tried again when the tool failed (counted and reported: over RFC 2217 at
    460800 the board's link fails now and then, for both tools)."""
    for n in range(tries):
        try:
            return timed_run(cmd, terminal=terminal)
        except AssertionError:
            FAILED[name] = FAILED.get(name, 0) + 1
            if n == tries - 1:
                raise
    raise AssertionError("unreachable")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kb", type=int, default=300)
    ap.add_argument("--baud", type=int, default=460800)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    big = Path(tempfile.mkdtemp(prefix="espmon-loop-")) / "big.bin"
    big.write_bytes(os.urandom(args.kb * 1024))
    pairs = ["0x1000", str(PROJECT / "bootloader/bootloader.bin"), "0x8000",
             str(PROJECT / "partition_table/partition-table.bin"), "0x10000", str(PROJECT / "espmon-demo.bin"),
             "0x110000", str(big)]
    board, url = start_board()
    results: dict[str, list[tuple[float, float]]] = {"espmon": [], "esptool + esp-idf-monitor": []}
    try:
        for _ in range(args.repeat):
            # espmon's plain monitor (output piped): its full-screen console draws 5 frames a
            # second and may never draw a banner line that scrolled by within one frame
            s, h, b = attempt("espmon", [PY, "-m", "espmon", "flash", url, "-b", str(args.baud), "--monitor",
                                         *pairs], terminal=False)
            results["espmon"].append((b - h, b - s))
            chained = (f"{PY} -m esptool --port {url} --baud {args.baud} write-flash {' '.join(pairs)} && "
                       f"{PY} -m esp_idf_monitor -p {url}")
            s, h, b = attempt("esptool + esp-idf-monitor", ["sh", "-c", chained])
            results["esptool + esp-idf-monitor"].append((b - h, b - s))
        # a reflash after an app-only change: espmon's --skip-unchanged (esptool's MD5 check)
        # writes only what changed; the chained peer (idf.py flash) writes everything again
        data = bytearray(big.read_bytes())
        data[:16] = os.urandom(16)
        big.write_bytes(bytes(data))
        s, h, b = attempt("espmon --skip-unchanged", [PY, "-m", "espmon", "flash", url, "-b", str(args.baud),
                                                      "--monitor", "--skip-unchanged", *pairs], terminal=False)
        reflash = (b - h, b - s)
    finally:
        board.terminate()
        board.wait(5)
    size = sum(Path(p).stat().st_size for p in pairs[1::2]) // 1024
    print(f"flash {size} kB at {args.baud} then the first boot line, board over RFC 2217 (paced), "
          f"best of {args.repeat}:")
    best = {name: (min(r[0] for r in runs), min(r[1] for r in runs)) for name, runs in results.items()}
    for name, (to_boot, loop) in best.items():
        print(f"  {name:28s} end of write -> boot line {to_boot:6.2f} s   whole loop {loop:6.2f} s")
    print(f"  {'espmon --skip-unchanged':28s} end of write -> boot line {reflash[0]:6.2f} s   whole loop "
          f"{reflash[1]:6.2f} s   (after an app-only change)")
    e, p = best["espmon"], best["esptool + esp-idf-monitor"]
    print(f"  ratio espmon / chained: to-boot {e[0] / p[0]:.3f}, loop {e[1] / p[1]:.3f}")
    if FAILED:
        print(f"  failed runs, tried again: {FAILED}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
