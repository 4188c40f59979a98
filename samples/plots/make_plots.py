"""Render the README's pictures of `espmon plot` from the shipped samples.

    python samples/plots/make_plots.py          # with the espmon venv's python

Writes samples/plots/*.png (one per kind, and the timeline of a failed session) and prints
the `espmon plot` command that makes the same picture, and how long each took.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from espmon.commands.plot import load  # noqa: E402
from espmon.plot.figure import boot_figure, save, trace_figure  # noqa: E402

OUT = Path(__file__).resolve().parent

# (picture, input, kinds)
PICTURES = [
    ("timeline.png", "samples/traces/5.6.0/write-flash-baud.trace.txt", ["timeline"]),
    ("timeline-noise.png", "samples/traces/5.6.0/fault-noise.trace.txt", ["timeline"]),
    ("latency.png", "samples/traces/5.6.0/write-flash-baud.trace.txt", ["latency"]),
    ("throughput.png", "samples/traces/5.6.0/write-flash-baud.trace.txt", ["throughput"]),
    ("boot.png", "samples/logs/sim_esp32_panic_boot_loop.txt", ["boot"]),
]


def main() -> int:
    for picture, path, kinds in PICTURES:
        start = time.perf_counter()
        source, data, _ = load(str(ROOT / path))
        fig = boot_figure(data, path) if source == "device-log" else trace_figure(data, kinds, path)
        save(fig, str(OUT / picture))
        took = time.perf_counter() - start
        flags = "".join(f" --kind {k}" for k in kinds)
        print(f"espmon plot {path} -o samples/plots/{picture}{flags}    # {took * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
