"""Capture what the real esptool prints (its console, no --trace) against the virtual board, per fault.

    python samples/doctor/make_console.py            # all captures into samples/doctor/board/ (~1 min)

Each capture runs esptool 5.6.0 (espmon's venv) on ``espmon sim --fault NAME`` over RFC 2217,
stdout and stderr together, as a user would paste them; the port is written as
``rfc2217://127.0.0.1:PORT`` so the files do not change from run to run. ``make_traces.py``
(samples/traces/) is the same with ``--trace``; this reuses its board and esptool helpers.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "samples" / "traces"))

from make_traces import INJECT, _images, esptool_for, start_board, stop  # noqa: E402

#: (file name, chip, fault, esptool arguments)
CAPTURES = [
    ("esptool-clean-chip-id", "esp32c3", None, ["chip-id"]),
    ("esptool-clean-write-flash", "esp32", None, ["write-flash", *_images("esp32")]),
    ("esptool-fault-no-autoreset", "esp32", "no-autoreset", ["chip-id"]),
    ("esptool-fault-dead-tx", "esp32", "dead-tx", ["chip-id"]),
    ("esptool-fault-dead-rx", "esp32", "dead-rx", ["chip-id"]),
    ("esptool-fault-noise", "esp32s3", "noise", ["chip-id"]),
    ("esptool-fault-brownout", "esp32c3", "brownout", ["write-flash", *_images("esp32c3")]),
]


def capture(name: str, chip: str, fault: str | None, args: list[str], outdir: Path) -> int:
    board, url = start_board(chip, fault, outdir / f"{name}.board.jsonl.tmp")
    env = {**os.environ, "ESPMON_FAST_RFC2217": "1", "PYTHONPATH": str(INJECT), "NO_COLOR": "1"}
    try:
        proc = subprocess.run([*esptool_for("5.6.0"), "--port", url, *args], capture_output=True, env=env,
                              timeout=300, cwd=outdir)
    finally:
        stop(board)
        (outdir / f"{name}.board.jsonl.tmp").unlink(missing_ok=True)
    text = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    text = re.sub(r"rfc2217://127\.0\.0\.1:\d+", "rfc2217://127.0.0.1:PORT", text)
    text = text.replace(str(ROOT / "samples" / "firmware" / chip) + "/", "")
    (outdir / f"{name}.txt").write_text(text)
    print(f"{name:<32} rc={proc.returncode}", file=sys.stderr)
    return proc.returncode


def main() -> int:
    outdir = HERE / "board"
    outdir.mkdir(exist_ok=True)
    for cap in CAPTURES:
        capture(*cap, outdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
