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
    capture holds exactly the frames the board recorded. Before it, two clients that
    misbehave (a TCP reset right after connecting; a stray IAC SE and a hang-up) end only
    their own connections."""
    import signal
    import socket
    import struct
    import subprocess

    proc, url, record, out = _served(tmp_path, "cli")
    address, port = url.removeprefix("rfc2217://").rsplit(":", 1)
    rude = socket.create_connection((address, int(port)))
    rude.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    rude.close()  # RST, not FIN
    with socket.create_connection((address, int(port))) as odd:
        odd.sendall(b"\xff\xf0")
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


@pytest.fixture(scope="module")
def chip_id_capture(tmp_path_factory) -> Path:
    """A real capture of `esptool chip-id`, made once for the tests below."""
    import subprocess

    path = tmp_path_factory.mktemp("cap") / "chip-id.jsonl"
    subprocess.run([sys.executable, "-m", "espmon", "capture", "sim://esp32?name=cap-fixture", "-o", str(path),
                    "--quiet", "--", "chip-id"], check=True, capture_output=True, stdin=subprocess.DEVNULL)
    return path


def _decode(capfd, path: Path, *extra: str) -> tuple[int, str, str]:
    code = cli.main(["decode", str(path), *extra])
    out, err = capfd.readouterr()
    return code, out, err


def test_bad_records_are_named_by_line_and_the_rest_still_decodes(tmp_path, capfd, chip_id_capture):
    lines = chip_id_capture.read_text().splitlines()
    data_at = [i for i, line in enumerate(lines) if '"kind":"data"' in line]
    bad = list(lines)
    bad.insert(data_at[3], '{"kind":"data","t":0.3,"dir":"rx","off')  # a torn line
    bad.insert(data_at[5], '{"kind":"teleport","t":0.4}')  # a kind from the future
    bad.insert(data_at[7], '{"kind":"line","t":0.0001,"name":"dtr","value":true}')  # time going backwards
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(bad) + "\n")
    code, out, err = _decode(capfd, path)
    assert code == 0 and "Traceback" not in err
    assert f"line {data_at[3] + 1}" in out or f"{data_at[3] + 1} " in out
    warnings = [line for line in out.splitlines() if "not a JSON object" in line or "unknown record kind" in line
                or "time goes backwards" in line]
    assert len(warnings) == 3, out
    assert "READ_REG" in out and "MAC" in out  # everything around them is decoded
    code, out, _ = _decode(capfd, path, "--json")
    assert sum(json.loads(line)["kind"] == "warning" for line in out.splitlines()) >= 3


def test_a_capture_cut_short_says_so(tmp_path, capfd, chip_id_capture):
    text = chip_id_capture.read_text()
    cut = tmp_path / "cut.jsonl"
    cut.write_text(text[: len(text) // 2])  # a killed process: mid-line, no end record
    code, out, err = _decode(capfd, cut)
    assert code == 0 and "Traceback" not in err
    assert "cut short" in out
    assert "outcome   ok" not in out


def test_every_truncation_of_a_capture_decodes_without_raising(chip_id_capture):
    from espmon.conversation.analyzer import analyze_lines

    text = chip_id_capture.read_text()
    for cut in range(0, len(text), max(1, len(text) // 400)):
        records = list(analyze_lines([text[:cut]], CaptureTraceParser()))
        summary = records[-1].to_json()
        assert summary["kind"] == "summary"
        if cut < len(text) - 200:
            assert summary["outcome"] != "ok", cut


def test_trace_text_of_a_file_that_is_not_a_capture_is_one_line(tmp_path, capfd):
    path = tmp_path / "x.json"
    path.write_text('{"name": "not a capture"}\n')
    code, out, err = _decode(capfd, path, "--trace-text")
    assert code != 0 and "Traceback" not in err
    assert err.count("\n") == 1 and str(path) in err and "espmon capture" in err


def test_live_decode_prints_each_packet_before_the_next_line_arrives(tmp_path):
    """`esptool --trace ... | espmon decode -`, fed line by line through a real pipe: once the
    line that completes a request is written (an inline Write), that request's packet line
    comes out before the next input line is written."""
    import re
    import selectors
    import subprocess

    sample = Path(__file__).resolve().parent.parent / "samples" / "traces" / "4.7.0" / "chip-id.trace.txt"
    lines = sample.read_text().splitlines(keepends=True)
    proc = subprocess.Popen([sys.executable, "-m", "espmon", "decode", "-"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    pending = b""
    checked = 0
    header = None
    try:
        for number, line in enumerate(lines, 1):
            if " command op=" in line:
                header = number
            proc.stdin.write(line.encode())
            proc.stdin.flush()
            if header is None or not re.search(r"Write \d+ bytes: [0-9a-f]+$", line.rstrip()):
                continue
            want = re.compile(rb"^\s*%d\s.*(\xe2\x86\x92|->)" % header, re.M)  # the arrow, UTF-8 or ASCII
            while not want.search(pending):
                assert sel.select(timeout=30), f"input line {number} written; packet of line {header} not shown"
                chunk = proc.stdout.read1(65536)
                assert chunk, "decode ended early"
                pending += chunk
            pending = b""
            checked += 1
            if checked == 6:
                break
    finally:
        proc.stdin.close()
        proc.stdout.read()
        proc.wait(timeout=20)
    assert checked == 6


def test_follow_reads_a_capture_as_it_grows_and_stops_at_its_end(tmp_path, chip_id_capture):
    import selectors
    import subprocess

    lines = chip_id_capture.read_text().splitlines(keepends=True)
    growing = tmp_path / "growing.jsonl"
    growing.write_text("".join(lines[:20]))
    proc = subprocess.Popen([sys.executable, "-m", "espmon", "decode", "--follow", str(growing)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    seen = b""
    while b"SYNC" not in seen:  # what is there is decoded before the file is complete
        assert sel.select(timeout=30), seen
        seen += proc.stdout.read1(65536)
    with growing.open("a") as f:
        f.write("".join(lines[20:]))
    out, err = proc.communicate(timeout=30)  # the end record ends the follow
    assert proc.returncode == 0, err
    assert b"outcome   ok" in seen + out


def test_follow_of_a_trace_ends_on_ctrl_c_with_the_story(tmp_path):
    import selectors
    import signal
    import subprocess

    sample = Path(__file__).resolve().parent.parent / "samples" / "traces" / "5.6.0" / "chip-id.trace.txt"
    path = tmp_path / "t.txt"
    path.write_text(sample.read_text())
    proc = subprocess.Popen([sys.executable, "-m", "espmon", "decode", "--follow", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    seen = b""
    while b"READ_REG" not in seen:
        assert sel.select(timeout=30), seen
        seen += proc.stdout.read1(65536)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert b"Traceback" not in err
    assert b"Session" in out and b"outcome" in out


def test_a_capture_plots_as_a_trace_does(chip_id_capture):
    from espmon.commands.plot import load

    source, data, _ = load(str(chip_id_capture))
    assert source == "trace"
    assert len(data.exchanges) >= 20  # chip-id's requests, each a bar of the timeline


def _espmon(*args: str):
    import subprocess

    return subprocess.run([sys.executable, "-m", "espmon", *args], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def test_a_full_disk_ends_the_capture_not_the_esptool_job(tmp_path):
    done = _espmon("capture", "sim://esp32?firmware=demo&name=full-disk", "-o", "/dev/full", "--quiet", "--",
                   "chip-id")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "outcome   ok" in done.stdout  # esptool's job went on; the live view saw all of it
    errors = [line for line in done.stderr.splitlines() if line.startswith("espmon: error:")]
    assert len(errors) == 1 and "/dev/full" in errors[0] and "incomplete" in errors[0]


@pytest.mark.parametrize("args, words", [
    (["-o", "{tmp}/x.jsonl"], "nothing to capture"),
    (["-o", "/nonexistent-dir/x.jsonl", "--", "chip-id"], "cannot write the capture"),
    (["-o", "{tmp}/x.jsonl", "--", "--chip", "esp99", "chip-id"], "unknown chip"),
    (["-o", "{tmp}/x.jsonl", "--serve", "127.0.0.1:notaport"], "expected HOST:PORT"),
])
def test_capture_usage_errors_are_one_line(tmp_path, args, words):
    done = _espmon("capture", "sim://esp32?firmware=demo", *[a.format(tmp=tmp_path) for a in args])
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and words in done.stderr, done.stderr


def test_a_failed_esptool_command_is_its_exit_code_and_the_guide_s_words(tmp_path):
    done = _espmon("capture", "sim://esp32?firmware=demo&fault=dead-tx&name=cap-dead", "-o", str(tmp_path / "d.jsonl"),
                   "--quiet", "--", "--connect-attempts", "1", "chip-id")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "No serial data received" in done.stdout and "outcome   FAILED" in done.stdout


@pytest.mark.skipif(not __import__("os").environ.get("ESPMON_LONG_TESTS"),
                    reason="about 2 minutes (stock pyserial over RFC 2217); set ESPMON_LONG_TESTS=1")
def test_the_serve_proxy_records_four_esptool_cli_runs_exactly(tmp_path, image):
    """write-flash (no stub, stub), read-flash, erase-flash: four clients one after another."""
    import signal
    import subprocess

    proc, url, record, out = _served(tmp_path, "four")
    try:
        for args in (["--no-stub", "write-flash", "0x10000", str(image)], ["write-flash", "0x10000", str(image)],
                     ["read-flash", "0", "0x10000", str(tmp_path / "r.bin")], ["erase-flash"]):
            done = subprocess.run([sys.executable, "-m", "esptool", "--port", url, *args], capture_output=True,
                                  text=True, timeout=300, stdin=subprocess.DEVNULL)
            assert done.returncode == 0, done.stdout + done.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    board_in, board_out = board_frames(record)
    host, chip, _ = frames_of(out.read_text(), CaptureTraceParser())
    assert (host, chip) == (board_in, board_out)
