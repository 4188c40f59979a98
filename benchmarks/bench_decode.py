"""Decode benchmark: `espmon decode` on every trace shape, against a plain line read of the same file.

    python benchmarks/bench_decode.py [--shape-mb 20] [--runs 3] [--mb 4] [--big-mb 200] [--keep DIR]
    python benchmarks/bench_decode.py --only shapes      # just the per-shape table

Shapes: each real esptool 5.6.0 capture of samples/traces/5.6.0 (chip-id, flash-id,
read-flash, write-flash --no-stub, write-flash with the stub and a baud change, and the
failures: brownout, noise, dead-tx) repeated until the file holds SHAPE_MB megabytes, so
each is as register-heavy or bulk-heavy as the capture itself. Each is measured as
``espmon decode FILE`` to /dev/null, ``--json`` to /dev/null, and text to a pty (what a
terminal gets: colour, and the legend), next to the floor of that same file.

The trace is the real esptool 5.6.0 capture samples/traces/5.6.0/write-flash-baud.trace.txt,
scaled: its first FLASH_DEFL_BEGIN .. SPI_FLASH_MD5 exchange is replaced by a write of MB
megabytes (firmware-like data that deflates to about 60 %) in 16 KiB blocks, printed in
exactly the layout of the capture's own blocks (esptool's HexFormatter, its line prefixes,
its Read chunking of the replies), between the capture's real head and tail. The big trace
for the memory measurement is that session repeated until it reaches BIG_MB.

Measured in one run, in subprocesses started the same way:
- floor: a plain ``for line in open(file)`` over the same file (text mode, UTF-8);
- ``espmon decode FILE`` (text output) and ``espmon decode --json FILE``, output to /dev/null:
  wall-clock MB/s, CPU seconds per MB, and peak RSS (wait4's ru_maxrss of that process).
Targets (DESIGN.md): decode >= 20 MB/s, <= 100 MB RSS on the 200 MB trace.
Files go to a temporary directory (removed unless --keep).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pty
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CAPTURE = ROOT / "samples" / "traces" / "5.6.0" / "write-flash-baud.trace.txt"
BLOCK = 0x4000


def hexdump(data: bytes) -> str:
    from esptool.loader import HexFormatter  # only in the generator process

    return str(HexFormatter(data)).replace("\\[", "[")


def trace(delta: float, message: str, newline: bool = False) -> str:
    return ("\n" if newline else "") + f"  TRACE +{delta:.3f}   {message}\n"


def slip(frame: bytes) -> bytes:
    return b"\xc0" + frame.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc") + b"\xc0"


def command(op: int, name: str, payload: bytes, chk: int = 0, timeout: float = 3.0) -> str:
    head = trace(0.0, f"--- Cmd {name} ({op:#04x}) | data_len {len(payload)} | wait_response 1 | "
                      f"timeout {timeout:.3f} | data {hexdump(payload)} ---", newline=True)
    wire = slip(struct.pack("<BBHI", 0, op, len(payload), chk) + payload)
    return head + trace(0.0, f"{f'Write {len(wire)} bytes:':<21} {hexdump(wire)}")


def reply(op: int, delta: float, body: bytes = b"\0\0") -> str:
    frame = struct.pack("<BBHI", 1, op, len(body), 0) + body
    wire = slip(frame)
    # The capture's replies arrive as "c0", then the rest (sometimes "01" on its own).
    out = trace(delta, f"{'Read 1 bytes:':<21} c0")
    out += trace(0.0, f"{f'Read {len(wire) - 1} bytes:':<21} {hexdump(wire[1:])}")
    return out + trace(0.0, f"{'Received full packet:':<21} {hexdump(frame)}")


def firmware(size: int, seed: int = 1) -> bytes:
    """Bytes that deflate like an app image (code-like runs and tables): ~60 %."""
    rng = random.Random(seed)
    words = [rng.getrandbits(32).to_bytes(4, "little") for _ in range(4096)]
    out = bytearray()
    while len(out) < size:
        if rng.random() < 0.55:
            out += rng.randbytes(rng.randint(8, 64))
        else:
            out += b"".join(rng.choice(words[:64]) for _ in range(rng.randint(2, 16)))
    return bytes(out[:size])


def write_session(size: int, offset: int = 0x10000) -> str:
    image = firmware(size)
    packed = zlib.compress(image, 9)
    blocks = (len(packed) + BLOCK - 1) // BLOCK
    out = [f"Compressed {size} bytes to {len(packed)}...\n"]
    out.append(command(0x10, "FLASH_DEFL_BEGIN", struct.pack("<IIIII", size, blocks, BLOCK, offset, 0)))
    out.append(reply(0x10, 0.001))
    for seq in range(blocks):
        block = packed[seq * BLOCK:(seq + 1) * BLOCK]
        chk = 0xEF
        for b in block:  # esptool's checksum, spelled out
            chk ^= b
        out.append(command(0x11, "FLASH_DEFL_DATA", struct.pack("<IIII", len(block), seq, 0, 0) + block, chk))
        out.append(reply(0x11, 0.140))
        out.append(f"Writing at {offset + seq * BLOCK:#010x} [{seq + 1}/{blocks}]\n")
    out.append(command(0x12, "FLASH_DEFL_END", struct.pack("<I", 1)))
    out.append(reply(0x12, 0.001))
    out.append(f"Wrote {size} bytes ({len(packed)} compressed) at {offset:#010x}.\nVerifying written data...\n")
    out.append(command(0x13, "SPI_FLASH_MD5", struct.pack("<IIII", offset, size, 0, 0)))
    out.append(reply(0x13, 0.050, hashlib.md5(image).digest() + b"\0\0"))
    out.append("Hash of data verified.\n")
    return "".join(out)


def build(path: Path, mb: float) -> None:
    lines = CAPTURE.read_text().split("\n")
    start = next(i for i, l in enumerate(lines) if "Cmd FLASH_DEFL_BEGIN" in l) - 1  # its blank line
    end = next(i for i, l in enumerate(lines) if l.startswith("Hash of data verified")) + 1
    head, tail = "\n".join(lines[:start]) + "\n", "\n".join(lines[end:])
    path.write_text(head + write_session(int(mb * 1024 * 1024)) + tail)


def repeat_to(src: Path, dst: Path, mb: float) -> None:
    with open(dst, "wb") as out:
        while out.tell() < mb * 1024 * 1024:
            with open(src, "rb") as f:
                shutil.copyfileobj(f, out)


def measure(argv: list[str], stdout_path: str = os.devnull, tty: bool = False) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS MiB) of one child process; ``tty``: its stdout
    is a pty, drained by a thread here as fast as a terminal would take it."""
    drain = None
    if tty:
        master, slave = pty.openpty()
        sink = os.fdopen(slave, "wb")

        def _drain() -> None:
            while True:
                try:
                    if not os.read(master, 1 << 16):
                        break
                except OSError:  # EIO: the child closed its end
                    break

        drain = threading.Thread(target=_drain, daemon=True)
        drain.start()
    else:
        sink = open(stdout_path, "wb")
    with sink:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=sink, stderr=subprocess.PIPE)
        if tty:
            sink.close()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    if drain is not None:
        drain.join(5)
        os.close(master)
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode:
        sys.exit(f"{argv} failed ({proc.returncode}): {err}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


SHAPES = ("chip-id", "flash-id", "read-flash", "write-flash-no-stub", "write-flash-baud",
          "fault-brownout", "fault-noise", "fault-dead-tx")
SHAPE_DIR = ROOT / "samples" / "traces" / "5.6.0"


def shapes(tmp: Path, mb: float, runs: int) -> None:
    """The per-shape table: decode to /dev/null (text, --json) and to a pty, against the floor."""
    py = sys.executable
    decode = [py, "-m", "espmon", "decode"]
    print(f"each shape: its 5.6.0 capture repeated to {mb:g} MB; best of {runs}; MB/s of wall time (x floor)")
    print(f"{'shape':<21}{'MB':>6}{'floor':>8}{'decode':>15}{'--json':>15}{'to a pty':>15}{'CPU s/MB':>10}")
    for shape in SHAPES:
        path = tmp / f"{shape}.trace.txt"
        repeat_to(SHAPE_DIR / f"{shape}.trace.txt", path, mb)
        size = path.stat().st_size / 1e6
        cells = []
        cpu_mb = 0.0
        for argv, tty in (([py, "-c", FLOOR, str(path)], False), ([*decode, str(path)], False),
                          ([*decode, "--json", str(path)], False), ([*decode, str(path)], True)):
            wall, cpu, _ = min(measure(argv, tty=tty) for _ in range(runs))
            cells.append(size / wall)
            if len(cells) == 2:
                cpu_mb = cpu / size
        floor = cells[0]
        row = "".join(f"{v:>8.1f} ({v / floor:.2f})" for v in cells[1:])
        print(f"{shape:<21}{size:>6.1f}{floor:>8.1f}{row}{cpu_mb:>10.3f}", flush=True)
        path.unlink()


FLOOR = "import sys\nn = 0\nfor line in open(sys.argv[1], encoding='utf-8', errors='replace'):\n    n += 1\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=4.0, help="size of the write (default 4 MB)")
    ap.add_argument("--big-mb", type=float, default=200.0, help="size of the trace for the RSS run (default 200)")
    ap.add_argument("--keep", type=Path, help="keep the generated traces in this directory")
    ap.add_argument("--shape-mb", type=float, default=20.0, help="size of each shape's trace (default 20 MB)")
    ap.add_argument("--runs", type=int, default=3, help="runs of each measure; the best is shown (default 3)")
    ap.add_argument("--only", choices=("shapes", "bulk"), help="only the per-shape table, or only the bulk write")
    ap.add_argument("--generate", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.generate:
        build(args.generate, args.mb)
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="bench_decode_"))
    try:
        if args.only != "bulk":
            shapes(tmp, args.shape_mb, args.runs)
            if args.only == "shapes":
                return 0
            print()
        small, big = tmp / "write-4mb.trace.txt", tmp / "big.trace.txt"
        # Generated in a child so that this process stays small: a child's peak RSS
        # (ru_maxrss) counts what it shared with its parent before exec.
        subprocess.run([sys.executable, __file__, "--generate", str(small), "--mb", str(args.mb)], check=True)
        size = small.stat().st_size / 1e6
        py = sys.executable
        decode = [py, "-m", "espmon", "decode"]
        rows = []
        for label, argv in (("plain line read (floor)", [py, "-c", FLOOR, str(small)]),
                            ("espmon decode", [*decode, str(small)]),
                            ("espmon decode --json", [*decode, "--json", str(small)])):
            runs = [measure(argv) for _ in range(args.runs)]
            wall, cpu, rss = min(runs)
            rows.append((label, size / wall, cpu / size, rss))
        print(f"trace of a {args.mb:g} MB write: {size:.1f} MB of text ({small.name})")
        print(f"{'':<26}{'MB/s':>8}{'x floor':>9}{'CPU s/MB':>10}{'RSS MiB':>9}")
        floor = rows[0][1]
        for label, mbs, cpu_mb, rss in rows:
            print(f"{label:<26}{mbs:>8.1f}{mbs / floor:>9.2f}{cpu_mb:>10.3f}{rss:>9.0f}")
        repeat_to(small, big, args.big_mb)
        big_size = big.stat().st_size / 1e6
        wall, cpu, rss = measure([*decode, "--json", str(big)])
        print(f"\n{big_size:.0f} MB trace, espmon decode --json: {big_size / wall:.1f} MB/s, peak RSS {rss:.0f} MiB")
        wall, cpu, rss = measure([*decode, str(big)])
        print(f"{big_size:.0f} MB trace, espmon decode:        {big_size / wall:.1f} MB/s, peak RSS {rss:.0f} MiB")
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(small, args.keep / small.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
