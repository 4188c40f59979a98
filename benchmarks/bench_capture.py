#!/usr/bin/env python3
"""What capturing costs, and how fast a capture decodes.

    python benchmarks/bench_capture.py [--kb 300] [--baud 460800] [--repeat 3]

- capture overhead: ``esptool write-flash`` of a realistic image (the sample app plus
  ``--kb`` of incompressible data) run in-process by ``espmon capture`` on the recording
  proxy, against the same esptool command on the same port with no tap (the floor). The
  board is paced like a real UART both ways (``sim://...&pace=1&pace_tx=1``), so the figure
  stands for flashing time. Best of ``--repeat``.
- decode: ``espmon decode CAPTURE`` (to /dev/null) in MB/s, against a plain line read of the
  same file (the floor), on the capture of a ``--decode-kb`` write (unpaced board).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from espmon.capture.writer import CaptureWriter  # noqa: E402
from espmon.flash.esptool_cli import run_esptool  # noqa: E402
from espmon.port.opening import open_port  # noqa: E402


class Quiet:
    def message(self, level, text):
        pass

    def progress(self, done, total, what):
        pass


def one_write(url: str, argv: list[str], capture: Path | None) -> float:
    port = open_port(url, 115200)
    writer = CaptureWriter.open(str(capture), port=url, baud=115200, by="bench") if capture else None
    try:
        start = time.monotonic()
        code = run_esptool(port, argv, Quiet(), tap=writer)
        took = time.monotonic() - start
        assert code == 0, code
        return took
    finally:
        if writer is not None:
            writer.close()
        port.close()


def decode_speed(path: Path) -> tuple[float, float]:
    size = path.stat().st_size / 1e6
    start = time.monotonic()
    with path.open(encoding="utf-8") as f:
        for _line in f:
            pass
    floor = size / (time.monotonic() - start)
    from espmon import cli

    saved = sys.stdout
    with open(os.devnull, "w") as sink:
        sys.stdout = sink
        try:
            start = time.monotonic()  # in-process: the decoding, not Python's start-up
            assert cli.main(["decode", str(path)]) == 0
            took = time.monotonic() - start
        finally:
            sys.stdout = saved
    return size / took, floor


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kb", type=int, default=300)
    ap.add_argument("--baud", type=int, default=460800)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--decode-kb", type=int, default=4096, help="size of the write whose capture is decoded")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="espmon-bench-capture-"))
    image = tmp / "big.bin"
    image.write_bytes(os.urandom(args.kb * 1024))
    app = ROOT / "samples/firmware/esp32/app.bin"
    argv = ["--baud", str(args.baud), "write-flash", "0x10000", str(app), "0x20000", str(image)]
    url = "sim://esp32?firmware=demo&pace=1&pace_tx=1&name=bench-capture"
    plain, captured = [], []
    for i in range(args.repeat):
        plain.append(one_write(url, argv, None))
        captured.append(one_write(url, argv, tmp / "cap.jsonl"))
    best_plain, best_cap = min(plain), min(captured)
    print(f"write-flash {args.kb + app.stat().st_size // 1024} kB at {args.baud} (paced board), best of {args.repeat}:")
    print(f"  esptool on the port, no capture   {best_plain:7.2f} s")
    print(f"  espmon capture (recording proxy)  {best_cap:7.2f} s   ratio {best_cap / best_plain:.3f}")
    cap = tmp / "cap.jsonl"
    print(f"  capture file: {cap.stat().st_size / 1e6:.2f} MB")
    # decode speed: one big capture (a write of --decode-kb on an unpaced board)
    huge = tmp / "huge.bin"
    huge.write_bytes(os.urandom(args.decode_kb * 1024))
    big = tmp / "big.jsonl"
    one_write("sim://esp32?firmware=demo&flash_size=16MB&name=bench-capture-big",
              ["--baud", str(args.baud), "write-flash", "0x10000", str(huge)], big)
    speed, floor = decode_speed(big)
    print(f"decode of a capture ({big.stat().st_size / 1e6:.1f} MB, write-flash of {args.decode_kb} kB): "
          f"{speed:.1f} MB/s; line-read floor {floor:.0f} MB/s (ratio {speed / floor:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
