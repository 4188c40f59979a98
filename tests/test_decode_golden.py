"""`espmon decode` of every shipped trace sample, byte for byte, against recorded outputs.

The outputs (text, ``--color always``, ``--json``, ``--summary``) were recorded before the
decoder was tuned for speed; any change to what a user sees shows up here as a diff. When a
change of output is meant, re-record and review the diff of the recording:

    python tests/test_decode_golden.py --update
"""

from __future__ import annotations

import argparse
import difflib
import gzip
import io
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script (--update)
    sys.path.insert(0, str(ROOT))

SAMPLES = ROOT / "samples" / "traces"
GOLDEN = Path(__file__).resolve().parent / "golden" / "decode.json.gz"
MODES = {"text": ["--color", "never"], "color": ["--color", "always"], "json": ["--json"],
         "summary": ["--summary", "--color", "never"]}


def _samples() -> list[str]:
    return sorted(str(p.relative_to(SAMPLES)) for p in SAMPLES.glob("*/*.trace.txt"))


def decode_output(path: Path, options: list[str]) -> str:
    """What `espmon decode OPTIONS PATH` writes to a UTF-8 pipe, run in this process."""
    from espmon.commands import decode

    parser = argparse.ArgumentParser()
    decode.add_arguments(parser)
    args = parser.parse_args([*options, str(path)])
    buf = io.BytesIO()
    out = io.TextIOWrapper(buf, encoding="utf-8", errors="strict", newline="\n")
    saved, sys.stdout = sys.stdout, out
    try:
        assert decode.run(args) == 0
    finally:
        sys.stdout = saved
    out.flush()
    return buf.getvalue().decode("utf-8")


def _recorded() -> dict[str, dict[str, str]]:
    with gzip.open(GOLDEN, "rt", encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="module")
def recorded() -> dict[str, dict[str, str]]:
    return _recorded()


def test_every_sample_is_recorded(recorded):
    assert sorted(recorded) == _samples(), "run: python tests/test_decode_golden.py --update"


@pytest.mark.parametrize("name", _samples())
def test_decode_output_is_unchanged(name, recorded):
    want = recorded.get(name)
    if want is None:
        pytest.fail(f"{name} has no recorded output; run: python tests/test_decode_golden.py --update")
    for mode, options in MODES.items():
        got = decode_output(SAMPLES / name, options)
        if got != want[mode]:
            diff = difflib.unified_diff(want[mode].splitlines(), got.splitlines(), "recorded", "now", lineterm="", n=1)
            pytest.fail(f"{name} ({mode}) changed:\n" + "\n".join(list(diff)[:40]))


def _update() -> None:
    data = {name: {mode: decode_output(SAMPLES / name, options) for mode, options in MODES.items()}
            for name in _samples()}
    GOLDEN.parent.mkdir(exist_ok=True)
    with gzip.GzipFile(GOLDEN, "wb", mtime=0) as f:
        f.write(json.dumps(data, indent=0, sort_keys=True).encode("utf-8"))
    print(f"{GOLDEN.relative_to(ROOT)}: {len(data)} samples x {len(MODES)} outputs")


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit(__doc__)
    _update()
