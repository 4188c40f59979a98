"""Render the README's pictures of `espmon plot` from the shipped samples.

    python samples/plots/make_plots.py             # with the espmon venv's python
    python samples/plots/make_plots.py --capture   # first capture write-flash-paced.trace.txt again

Writes samples/plots/*.png and prints the `espmon plot` command that makes the same
picture, with how long it took here.

``write-flash-paced.trace.txt`` is esptool 5's ``--trace`` of a 16 kB write through the ROM
loader (``--no-stub``, 1 kB blocks) to the virtual board paced like a real UART at 115200
baud both ways (``sim://esp32?pace=1&pace_tx=1``), so its throughput is the wire's; the
other samples' boards answer as fast as the host can read. The image is 16 kB of seeded
random bytes, made on the fly; esptool runs in this process (``sim://`` is espmon's pyserial
URL), the board starts in download mode (esptool cannot pulse its lines on ``sim://``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from espmon.commands.plot import load  # noqa: E402
from espmon.plot.figure import boot_figure, save, trace_figure  # noqa: E402

OUT = Path(__file__).resolve().parent
PACED = "samples/plots/write-flash-paced.trace.txt"

# (picture, input, kinds)
PICTURES = [
    ("timeline.png", "samples/traces/5.6.0/write-flash-baud.trace.txt", ["timeline"]),
    ("timeline-noise.png", "samples/traces/5.6.0/fault-noise.trace.txt", ["timeline"]),
    ("latency.png", PACED, ["latency"]),
    ("throughput.png", PACED, ["throughput"]),
    ("boot.png", "samples/logs/sim_esp32_panic_boot_loop.txt", ["boot"]),
]


def capture() -> None:
    """Run esptool --trace write-flash against the paced board; write PACED."""
    os.environ.update(NO_COLOR="1", COLUMNS="200")  # as samples/traces/make_traces.py runs esptool
    import esptool

    import espmon.sim

    espmon.sim.register()
    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "random16k.bin"
        image.write_bytes(random.Random(0).randbytes(16 * 1024))
        out = ROOT / PACED
        with open(out, "w", encoding="utf-8") as f, contextlib.redirect_stdout(f), contextlib.redirect_stderr(f):
            esptool.main(["--port", "sim://esp32?start=download&pace=1&pace_tx=1&heartbeat=0",
                          "--before", "no-reset", "--after", "no-reset", "--trace", "--no-stub",
                          "write-flash", "0x10000", str(image)])
    print(f"{PACED}: {out.stat().st_size:,} bytes")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--capture", action="store_true", help=f"capture {PACED} again first")
    if ap.parse_args().capture:
        capture()
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
