"""How fast ``DeviceLogParser`` eats a realistic 20 MB ESP-IDF log (a benchmark, not a test).

    python benchmarks/bench_device_log.py [--mb 20] [--seed 1] [--repeat 3]

The log comes from ``make_device_log`` in a temporary directory. Both line loops read the
same file the same way (text, UTF-8 with replacement, newline kept then cut off); the floor
is that loop alone, so the ratio is what ``feed`` costs on top of reading lines.

The block API (``feed_text``) is measured as the monitor uses it: on 64 KiB blocks of the
text the monitor hands over (``clean_block``: colours removed, CRLF cut; that cleaning is
not timed), against a loop that only splits the same blocks into lines. Its events are
the ``feed`` events minus the ordinary ``LogLine``s. Best of ``--repeat`` runs is reported
(the machine is shared).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.make_device_log import write_device_log  # noqa: E402
from parsers.device_log import DeviceLogParser  # noqa: E402


def _plain(path: Path) -> tuple[float, int]:
    start, lines = time.perf_counter(), 0
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        for line in f:
            line = line[:-1]
            lines += 1
    return time.perf_counter() - start, lines


def _parsed(path: Path) -> tuple[float, Counter]:
    parser = DeviceLogParser()
    feed, kinds = parser.feed, Counter()
    start = time.perf_counter()
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        for line in f:
            for event in feed(line[:-1]):
                kinds[type(event).__name__] += 1
    for event in parser.end():
        kinds[type(event).__name__] += 1
    return time.perf_counter() - start, kinds


def _blocks(path: Path, size: int = 1 << 16) -> list[str]:
    """The log as the monitor's engine hands it to the parser: cleaned blocks of whole lines."""
    from espmon.monitor.lines import LineAssembler
    from espmon.monitor.sanitize import clean_block

    data, asm = path.read_bytes(), LineAssembler()
    blocks = [asm.feed(data[i : i + size]) for i in range(0, len(data), size)] + [asm.end()]
    return [clean_block(block)[1] for block in blocks if block]


def _split_only(blocks: list[str]) -> float:
    start = time.perf_counter()
    for block in blocks:
        block.split("\n")
    return time.perf_counter() - start


def _block_parsed(blocks: list[str]) -> tuple[float, Counter]:
    parser = DeviceLogParser()
    feed_text, kinds = parser.feed_text, Counter()
    start = time.perf_counter()
    for block in blocks:
        for _start, _end, events in feed_text(block):
            for event in events:
                kinds[type(event).__name__] += 1
    for event in parser.end():
        kinds[type(event).__name__] += 1
    return time.perf_counter() - start, kinds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=20.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "device.log"
        size = write_device_log(path, int(args.mb * 1_000_000), args.seed)
        plain = min(_plain(path) for _ in range(args.repeat))
        runs = [_parsed(path) for _ in range(args.repeat)]
        parsed = min(t for t, _ in runs)
        kinds = runs[0][1]
        blocks = _blocks(path)
        split = min(_split_only(blocks) for _ in range(args.repeat))
        block_runs = [_block_parsed(blocks) for _ in range(args.repeat)]
        block_parsed = min(t for t, _ in block_runs)
        block_kinds = block_runs[0][1]
    mb, lines = size / 1e6, plain[1]
    print(f"log: {mb:.1f} MB, {lines} lines, seed {args.seed}")
    print(f"plain line loop : {plain[0]:6.3f} s  {mb / plain[0]:7.1f} MB/s  {lines / plain[0] / 1e3:8.0f} klines/s")
    print(f"DeviceLogParser : {parsed:6.3f} s  {mb / parsed:7.1f} MB/s  {lines / parsed / 1e3:8.0f} klines/s"
          f"  ({parsed / plain[0]:.1f}x the plain loop's time)")
    print("events:", ", ".join(f"{k} {v}" for k, v in kinds.most_common()))
    print(f"block split only: {split:6.3f} s  {mb / split:7.1f} MB/s  (64 KiB blocks of the monitor's text)")
    print(f"feed_text       : {block_parsed:6.3f} s  {mb / block_parsed:7.1f} MB/s  {lines / block_parsed / 1e3:8.0f} klines/s"
          f"  ({parsed / block_parsed:.1f}x faster than feed)")
    quiet = {k: v for k, v in kinds.items() if k != "LogLine"}
    same = {k: v for k, v in block_kinds.items() if k != "LogLine"} == quiet
    print("feed_text events:", ", ".join(f"{k} {v}" for k, v in block_kinds.most_common()),
          "(= feed's besides LogLine)" if same else "(DIFFERENT from feed's besides LogLine)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
