"""The log corpus in samples/logs: parse a file, and turn events into the JSON the
``*.expected.json`` files hold (addresses as hex strings so a reviewer can read them).

Regenerating the expected files is deliberate, never a side effect of a test run:

    python tests/device_log_corpus.py --update [NAME ...]
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from parsers.device_log import DeviceEvent, DeviceLogParser  # noqa: E402

LOGS = ROOT / "samples" / "logs"
_HEX_FIELDS = {"address", "pc", "value", "offset", "epc1", "epc2", "epc3", "excvaddr", "depc", "stack_base"}


def corpus_files() -> list[Path]:
    return sorted(LOGS.glob("*.txt"))


def read_lines(path: Path) -> list[str]:
    """The file's lines as the monitor would hand them over: decoded, newline removed,
    any CR left in place (a CRLF file keeps its ``\\r``)."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def parse(lines: list[str], chip: str | None = None) -> tuple[list[DeviceEvent], DeviceLogParser]:
    parser = DeviceLogParser(chip)
    events: list[DeviceEvent] = []
    for line in lines:
        events += parser.feed(line)
    events += parser.end()
    return events, parser


def _value(name: str, value: object) -> object:
    if isinstance(value, bytes):
        return {"len": len(value), "head": value[:16].hex()}
    if isinstance(value, dict):
        return {k: f"0x{v:08x}" for k, v in value.items()}
    if name in ("backtrace", "frames"):
        return [f"0x{pc:08x}:0x{sp:08x}" for pc, sp in value]
    if name == "other_cores":
        return [{f.name: _value(f.name, getattr(core, f.name)) for f in dataclasses.fields(core)} for core in value]
    if isinstance(value, tuple):
        return list(value)
    if name in _HEX_FIELDS and isinstance(value, int):
        return f"0x{value:x}"
    return value


def to_json(event: DeviceEvent) -> dict:
    out: dict = {"event": type(event).__name__}
    for f in dataclasses.fields(event):
        out[f.name] = _value(f.name, getattr(event, f.name))
    return out


def expected_path(path: Path) -> Path:
    return path.with_suffix(".expected.json")


def describe(path: Path) -> dict:
    events, parser = parse(read_lines(path))
    return {"chip": parser.chip.name if parser.chip else None, "events": [to_json(e) for e in events]}


def _update(names: list[str]) -> None:
    for path in corpus_files():
        if names and path.stem not in names:
            continue
        expected_path(path).write_text(json.dumps(describe(path), indent=1) + "\n", encoding="utf-8")
        print("wrote", expected_path(path).relative_to(ROOT))


if __name__ == "__main__":
    if "--update" not in sys.argv[1:]:
        sys.exit(__doc__)
    _update([a for a in sys.argv[1:] if a != "--update"])
