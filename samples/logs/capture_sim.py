"""Capture what the virtual board prints, for the sim_*.txt files of this corpus.

    python samples/logs/capture_sim.py 'sim://esp32?firmware=demo&fault=panic' 8 > out.txt

Opens the in-process board like ``espmon monitor`` does (no reset pulse), reads for the
given seconds and writes the raw bytes to stdout. The corpus files are the first lines of
such captures (see README.md).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from espmon.port.opening import open_port  # noqa: E402


def capture(url: str, seconds: float) -> bytes:
    port = open_port(url, 115200, timeout=0.05)
    data = bytearray()
    start = time.monotonic()
    try:
        while time.monotonic() - start < seconds:
            data += port.read(4096)
    finally:
        port.close()
    return bytes(data)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.stdout.buffer.write(capture(sys.argv[1], float(sys.argv[2])))
