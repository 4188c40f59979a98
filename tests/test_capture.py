"""espmon capture: the real esptool 5 CLI run in-process on a port espmon holds, every byte
recorded; the capture decodes to exactly the frames the virtual board recorded, and so does
its --trace-text dump."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest

from espmon import cli
from espmon.commands.decode import read_text_chunks
from parsers.capture_trace import CaptureTraceParser
from parsers.trace import TraceParser
from parsers.trace_frames import CHIP, HOST, Frame, FrameAssembler


def board_frames(record: Path) -> tuple[list[bytes], list[bytes]]:
    items = [json.loads(line) for line in record.read_text().splitlines() if line]
    inbound = [bytes.fromhex(r["frame"]) for r in items if r.get("dir") == "in" and "frame" in r]
    outbound = [bytes.fromhex(r["frame"]) for r in items if r.get("dir") == "out" and "frame" in r]
    return inbound, outbound


def frames_of(text: str, parser) -> tuple[list[bytes], list[bytes], list]:
    assembler = FrameAssembler()
    events = []
    for ev in parser.feed(text) + parser.end():
        events += assembler.feed(ev)
    events += assembler.end()
    host = [e.data for e in events if isinstance(e, Frame) and e.sender == HOST]
    chip = [e.data for e in events if isinstance(e, Frame) and e.sender == CHIP]
    return host, chip, events


def capture(tmp_path: Path, capfd, name: str, esptool_args: list[str], chip: str = "esp32") -> tuple[Path, Path, str]:
    record = tmp_path / f"{name}.board.jsonl"
    out = tmp_path / f"{name}.jsonl"
    url = f"sim://{chip}?name=cap-{name}&record={record}"
    code = cli.main(["capture", url, "-o", str(out), "--quiet", "--", *esptool_args])
    text, err = capfd.readouterr()
    assert code == 0, err + text
    return out, record, text


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Path:
    """An app of real size: 192 kB, half of it incompressible (tens of kB compressed)."""
    rnd = random.Random(9)
    data = bytes(rnd.getrandbits(8) for _ in range(96 * 1024)) + bytes(range(256)) * 384
    path = tmp_path_factory.mktemp("img") / "app.bin"
    path.write_bytes(data)
    return path


SCENARIOS = {
    "write-stub": lambda img: ["--baud", "460800", "write-flash", "0x10000", str(img)],
    "write-no-stub": lambda img: ["--no-stub", "write-flash", "0x10000", str(img)],
    "read-flash": lambda img: ["read-flash", "0x0", "0x8000", str(img.parent / "read.bin")],
    "erase-flash": lambda img: ["erase-flash"],
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_capture_decodes_to_the_frames_the_board_recorded(tmp_path, capfd, image, name):
    out, record, text = capture(tmp_path, capfd, name, SCENARIOS[name](image))
    board_in, board_out = board_frames(record)
    host, chip, events = frames_of(out.read_text(), CaptureTraceParser())
    assert host == board_in
    assert chip == board_out
    assert all(e.complete for e in events if isinstance(e, Frame))
    assert "outcome   ok" in text  # --quiet: the story only
    # the --trace-text dump holds the same frames, for esptool's own readers too
    assert cli.main(["decode", str(out), "--trace-text"]) == 0
    dump, _ = capfd.readouterr()
    t_host, t_chip, _ = frames_of(dump, TraceParser())
    assert (t_host, t_chip) == (board_in, board_out)
    # and `espmon decode --json` reads it as it reads a trace
    assert cli.main(["decode", str(out), "--json"]) == 0
    records = [json.loads(line) for line in capfd.readouterr()[0].splitlines()]
    assert records[-1]["kind"] == "summary" and records[-1]["outcome"] == "ok"
    sent = [r for r in records if r["kind"] == "command" or (r["kind"] == "frame" and r.get("from") == "host")]
    assert len(sent) == len(board_in)


def _served(tmp_path: Path, name: str):
    import subprocess

    record = tmp_path / f"{name}.board.jsonl"
    out = tmp_path / f"{name}.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "espmon", "capture", f"sim://esp32?name=serve-{name}&record={record}",
                             "--serve", "127.0.0.1:0", "-o", str(out), "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    line = proc.stderr.readline()
    assert "serving" in line, line + proc.stderr.read()
    url = line.split(" on ", 1)[1].split()[0].rstrip(":")
    return proc, url, record, out


def test_the_serve_proxy_records_the_real_esptool_cli_with_its_default_reset(tmp_path):
    """esptool as a separate process, stock pyserial, over RFC 2217 through the proxy; the
    capture holds exactly the frames the board recorded."""
    import signal
    import subprocess

    proc, url, record, out = _served(tmp_path, "cli")
    try:
        done = subprocess.run([sys.executable, "-m", "esptool", "--port", url, "chip-id"], capture_output=True,
                              text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Hard resetting via RTS pin" in done.stdout
    finally:
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "outcome   ok" in stdout
    board_in, board_out = board_frames(record)
    host, chip, _ = frames_of(out.read_text(), CaptureTraceParser())
    assert host == board_in and board_in
    assert chip == board_out
    kinds = [json.loads(line)["kind"] for line in out.read_text().splitlines()]
    assert kinds[0] == "header" and kinds[-1] == "end"
    lines = [json.loads(line) for line in out.read_text().splitlines() if '"kind":"line"' in line]
    assert {"dtr", "rts"} <= {rec["name"] for rec in lines}  # esptool's reset passed through
