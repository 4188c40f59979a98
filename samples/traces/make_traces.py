#!/usr/bin/env python3
"""Capture real ``esptool --trace`` dumps of several esptool releases against the virtual board.

For each (esptool version, scenario) this starts ``espmon sim`` with ``--record``, runs
that esptool release against it over RFC 2217 (with the test-only pyserial speed-up of
tests/inject), and keeps what a user would paste (stdout and stderr together) plus the
board's own record of every frame it received and sent:

    samples/traces/<version>/<scenario>.trace.txt    esptool's output, --trace on
    samples/traces/<version>/<scenario>.board.jsonl  the board's ground truth
    samples/traces/manifest.json                     what each capture is and expects

esptool 5.6.0 is the one in the espmon venv; the older releases are installed into
throwaway venvs under /tmp (never into espmon's venv). Run with the espmon venv's python:

    python samples/traces/make_traces.py [--only 2.8] [--scenario chip-id]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
FIRMWARE = ROOT / "samples" / "firmware"
INJECT = ROOT / "tests" / "inject"

# version -> (the chip its success captures use, the faults captured with it)
ALL_FAULTS = ("no-autoreset", "dead-tx", "dead-rx", "noise", "brownout")
VERSIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "2.3.1": ("esp32", ("dead-tx", "noise")),  # Python repr() format, UART date register detection
    "2.8": ("esp32", ALL_FAULTS),  # hex format, old timeout messages
    "3.3.3": ("esp32s2", ("dead-rx", "noise", "brownout")),  # new timeout messages, S2 magic value
    "4.7.0": ("esp32c3", ALL_FAULTS),  # chip detection through GET_SECURITY_INFO
    "5.0.0": ("esp32s3", ("noise", "brownout")),  # the 5.x layout, ANSI colour even when piped
    "5.6.0": ("esp32", ALL_FAULTS),  # rich console (the espmon venv's esptool)
}
# Writes of realistic images (esptool 5.6 only): (name, chip, image size, stub). esptool
# 5.6's rich console drops hexdump rows whose ASCII column looks like markup, so these
# traces lose rows of some blocks; the board's record holds every byte that was sent.
BIG_WRITES = [
    ("write-flash-100k", "esp32", 100_000, True, 1),
    ("write-flash-100k-no-stub", "esp32", 100_000, False, 2),
    ("write-flash-150k-esp32c3", "esp32c3", 150_000, True, 5),
    ("write-flash-60k-no-stub-esp32s3", "esp32s3", 60_000, False, 4),
    # The other way esptool 5.6 fails on such bytes: rich.errors.MarkupError ends the write.
    ("write-flash-200k-esp32c3-crash", "esp32c3", 200_000, True, 3),
]
IMAGE_OFFSET = "0x10000"


def image(path: Path, size: int, seed: int) -> Path:
    """An app-sized image that deflates little (~85 %), as random as real code and data are."""
    import random

    rng = random.Random(seed)
    words = [rng.randbytes(4) for _ in range(256)]
    out = bytearray()
    while len(out) < size:
        out += rng.randbytes(rng.randint(16, 96)) if rng.random() < 0.8 else b"".join(
            rng.choice(words) for _ in range(rng.randint(2, 8)))
    path.write_bytes(bytes(out[:size]))
    return path


# Extra success captures on other chips.
EXTRA = {"2.8": [("chip-id-esp8266", "esp8266", "chip_id")], "5.6.0": [("write-flash-esp32c6", "esp32c6", "write")]}

# What each fault makes esptool say (the test checks `espmon decode` reports it).
FAULT_ERRORS = {
    "no-autoreset": ("Wrong boot mode detected", "Timed out waiting for packet header"),
    "dead-tx": ("No serial data received", "Timed out waiting for packet header"),
    "dead-rx": ("getting no sync reply", "Timed out waiting for packet header"),
    "noise": ("Invalid head of packet",),
    "brownout": ("No more data to read", "Timed out waiting for packet", "Failed to write", "Invalid head of packet",
                 "Serial data stream stopped", "Packet content transfer stopped", "chip stopped responding",
                 "StopIteration"),  # esptool 3.x crashes when its reader is dead
}


@dataclass
class Capture:
    version: str
    name: str
    chip: str
    args: list[str]
    fault: str | None = None
    # "exact": the trace holds every frame the board sent and received. "subset": esptool
    # threw bytes away without tracing them (flush_input after a bad byte), so the chip's
    # frames in the trace are an in-order subset of the board's.
    expect: str = "exact"
    errors: tuple[str, ...] = ()
    meta: dict = field(default_factory=dict)


def _new_cli(version: str) -> bool:
    return int(version.split(".")[0]) >= 5


def _cmd(version: str, name: str) -> str:
    return name if _new_cli(version) else name.replace("-", "_")


def _images(chip: str) -> list[str]:
    """ADDR FILE pairs of the sample firmware, from its flash_args."""
    lines = (FIRMWARE / chip / "flash_args").read_text().split("\n")[1:]
    out: list[str] = []
    for line in lines:
        if line.strip():
            addr, name = line.split()
            out += [addr, str(FIRMWARE / chip / name)]
    return out


def plan(only: set[str] | None, scenarios: set[str] | None, workdir: Path) -> list[Capture]:
    caps: list[Capture] = []
    for version, (chip, faults) in VERSIONS.items():
        if only and version not in only:
            continue
        c = lambda name: _cmd(version, name)  # noqa: E731
        write = [c("write-flash"), *_images(chip)]
        items = [
            Capture(version, "chip-id", chip, [c("chip-id")]),
            Capture(version, "flash-id", chip, [c("flash-id")]),
            Capture(version, "write-flash-baud", chip, ["--baud", "460800", *write]),
            Capture(version, "write-flash-no-stub", chip, ["--no-stub", c("write-flash"), *_images(chip)[-2:]]),
            Capture(version, "read-flash", chip, [c("read-flash"), "0", "0x2000", str(workdir / "read.bin")]),
            Capture(version, "erase-flash", chip, [c("erase-flash")]),
        ]
        if version == "2.3.1":
            items = [i for i in items if i.name in ("chip-id", "write-flash-baud", "read-flash")]
        for name, other, what in EXTRA.get(version, []):
            args = [c("chip-id")] if what == "chip_id" else [c("write-flash"), *_images(other)]
            items.append(Capture(version, name, other, args))
        if version == "5.6.0":
            for name, other, size, stub, seed in BIG_WRITES:
                img = image(workdir / f"{name}.bin", size, seed)
                args = ([] if stub else ["--no-stub"]) + [c("write-flash"), IMAGE_OFFSET, str(img)]
                items.append(Capture(version, name, other, args, expect="markup-crash" if "crash" in name
                                     else "rows-dropped", meta={"image_size": size, "image_seed": seed}))
        for fault in faults:
            args = write if fault == "brownout" else [c("chip-id")]
            fault_chip = chip if fault == "brownout" or version not in ("3.3.3", "4.7.0") else "esp32"
            items.append(Capture(version, f"fault-{fault}", fault_chip, args, fault,
                                 "subset" if fault in ("noise", "brownout") else "exact", FAULT_ERRORS[fault]))
        caps += [i for i in items if not scenarios or i.name in scenarios]
    return caps


def esptool_for(version: str) -> list[str]:
    """The esptool command of ``version``: the venv's for 5.6.0, else a /tmp venv."""
    if version == "5.6.0":
        exe = Path(sys.executable).with_name("esptool")
        out = subprocess.run([str(exe), "version"], capture_output=True, text=True)
        if "5.6.0" not in out.stdout:
            sys.exit(f"{exe} is not esptool 5.6.0: {out.stdout.strip()}")
        return [str(exe)]
    venv = Path(f"/tmp/espmon-esptool-{version}")
    script = venv / "bin" / ("esptool" if _new_cli(version) else "esptool.py")
    if not script.exists():
        print(f"installing esptool {version} into {venv}", file=sys.stderr)
        subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", f"esptool=={version}"], check=True)
    return [str(script)]


def start_board(chip: str, fault: str | None, record: Path) -> tuple[subprocess.Popen, str]:
    cmd = [sys.executable, "-m", "espmon", "sim", "--chip", chip, "--record", str(record)]
    if fault:
        cmd += ["--fault", fault]
    board = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    assert board.stdout is not None
    url = board.stdout.readline().strip()
    if not url.startswith("rfc2217://"):
        board.kill()
        sys.exit(f"the board did not start: {url!r}")
    return board, url


def stop(board: subprocess.Popen) -> None:
    board.send_signal(signal.SIGTERM)
    try:
        board.wait(10)
    except subprocess.TimeoutExpired:
        board.kill()
        board.wait()


def run(cap: Capture, outdir: Path) -> dict:
    outdir.mkdir(parents=True, exist_ok=True)
    trace = outdir / f"{cap.name}.trace.txt"
    record = outdir / f"{cap.name}.board.jsonl"
    board, url = start_board(cap.chip, cap.fault, record)
    env = {**os.environ, "ESPMON_FAST_RFC2217": "1", "PYTHONPATH": str(INJECT), "NO_COLOR": "1"}
    argv = [*esptool_for(cap.version), "--port", url, "--trace", *cap.args]
    started = time.monotonic()
    try:
        with open(trace, "wb") as out:
            proc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=300, cwd=outdir)
    finally:
        stop(board)
    shown = ["esptool", "--port", "rfc2217://127.0.0.1:PORT", "--trace",
             *(Path(a).name if a.startswith("/") else a for a in cap.args)]
    entry = {
        "version": cap.version, "name": cap.name, "chip": cap.chip, "fault": cap.fault,
        "trace": str(trace.relative_to(HERE)), "board": str(record.relative_to(HERE)),
        "command": " ".join(shown), "exit_code": proc.returncode, "expect": cap.expect,
        "errors": list(cap.errors), "seconds": round(time.monotonic() - started, 1),
        "bytes": trace.stat().st_size, **cap.meta,
    }
    print(f"{cap.version:>6} {cap.name:<24} rc={proc.returncode} {entry['bytes']:>8} bytes {entry['seconds']:>5} s",
          file=sys.stderr)
    return entry


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", action="append", help="esptool version(s) to capture (default: all)")
    ap.add_argument("--scenario", action="append", help="scenario name(s) to capture (default: all)")
    args = ap.parse_args()
    manifest_path = HERE / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else []
    with tempfile.TemporaryDirectory() as tmp:
        caps = plan(set(args.only or ()), set(args.scenario or ()), Path(tmp))
        for cap in caps:
            entry = run(cap, HERE / cap.version)
            manifest = [m for m in manifest if (m["version"], m["name"]) != (cap.version, cap.name)]
            manifest.append(entry)
    order = list(VERSIONS)
    manifest.sort(key=lambda m: (order.index(m["version"]) if m["version"] in order else 99, m["name"]))
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
