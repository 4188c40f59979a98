"""`espmon doctor` on a 100 MB device log: streams in bounded memory, at what share of the
device-log parser's own speed (a benchmark, not a test).

    python benchmarks/bench_doctor.py [--mb 100] [--seed 1] [--repeat 2] [--keep DIR]

The log is ``make_device_log``'s realistic ESP-IDF log (colours, long lines, junk bytes, boot
banners, panics), seeded, in a temporary directory. Each row runs in its own subprocess,
started the same way, over the same file:

- plain line read (floor): ``for line in open(file)`` (text, UTF-8 with replacement);
- device-log parser alone: ``DeviceLogParser.iter_text`` on the 1 MiB blocks ``decode`` and
  ``doctor`` read (the parser's block API, what the monitor uses), as read (colours, CRLF);
- the same on blocks cleaned first as the monitor hands them over (colours and CRs removed,
  the cleaning timed too): what ``doctor`` does with a block that holds no esptool words;
- ``espmon doctor FILE`` and ``espmon doctor --json FILE``, output to /dev/null.

Reported: wall-clock MB/s, CPU seconds per MB, peak RSS (wait4's ru_maxrss of the process),
best of ``--repeat``. The machine is shared: compare the ratios within one run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FLOOR = "import sys\nn = 0\nfor line in open(sys.argv[1], encoding='utf-8', errors='replace'):\n    n += 1\n"
PARSER = """import sys
from parsers.device_log import DeviceLogParser
from espmon.commands.decode import read_text_chunks
p, n, carry = DeviceLogParser(), 0, ""
with open(sys.argv[1], "rb") as f:
    for chunk in read_text_chunks(f, sys.argv[1]):
        text = carry + chunk
        cut = text.rfind("\\n") + 1
        carry = text[cut:]
        for _start, _end, events in p.iter_text(text[:cut]):
            n += len(events)
p.end()
"""
CLEANED = PARSER.replace("p.iter_text(text[:cut])", "p.iter_text(SGR.sub('', text[:cut].replace('\\r\\n', '\\n')))")
CLEANED = CLEANED.replace("import sys\n", "import re, sys\nSGR = re.compile(r'\\x1b\\[[0-9;]*m')\n", 1)


def measure(argv: list[str]) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS MiB) of one child process, stdout to /dev/null."""
    with open(os.devnull, "wb") as sink:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=sink, stderr=subprocess.PIPE, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code:
        sys.exit(f"{argv} failed ({code}): {proc.stderr.read().decode() if proc.stderr else ''}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=100.0, help="size of the log (default 100 MB)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--keep", type=Path, help="keep the generated log in this directory")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_doctor_"))
    try:
        log = tmp / "device.log"
        subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                        "from benchmarks.make_device_log import write_device_log; "
                        "write_device_log(sys.argv[2], int(float(sys.argv[3]) * 1e6), int(sys.argv[4]))",
                        str(ROOT), str(log), str(args.mb), str(args.seed)], check=True)
        size = log.stat().st_size / 1e6
        py = sys.executable
        rows = (("plain line read (floor)", [py, "-c", FLOOR, str(log)]),
                ("device-log parser alone (iter_text)", [py, "-c", PARSER, str(log)]),
                ("device-log parser alone, blocks cleaned first", [py, "-c", CLEANED, str(log)]),
                ("espmon doctor", [py, "-m", "espmon", "doctor", str(log)]),
                ("espmon doctor --json", [py, "-m", "espmon", "doctor", "--json", str(log)]))
        results = {}
        for label, argv in rows:
            best = min((measure(argv) for _ in range(args.repeat)), key=lambda r: r[0])
            results[label] = best
        _, raw_cpu, _ = results["device-log parser alone (iter_text)"]
        _, clean_cpu, _ = results["device-log parser alone, blocks cleaned first"]
        print(f"{size:.1f} MB device log, best of {args.repeat}\n")
        print("| reader | MB/s | CPU-s/MB | peak RSS MiB | × parser as read (CPU) | × parser, cleaned blocks |")
        print("|---|---|---|---|---|---|")
        for label, (wall, cpu, rss) in results.items():
            print(f"| {label} | {size / wall:.1f} | {cpu / size:.4f} | {rss:.0f} | {raw_cpu / cpu:.2f} "
                  f"| {clean_cpu / cpu:.2f} |")
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(log, args.keep / log.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
