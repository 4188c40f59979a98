"""`espmon plot`: each kind drawn from the shipped samples, checked on the matplotlib objects
(labels, bars, points, colours), not on pixels; and the one-line errors of bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from matplotlib.colors import to_rgba

from espmon.commands.plot import load
from espmon.plot.boot_plot import CRASH_ROW
from espmon.plot.figure import boot_figure, trace_figure
from espmon.plot.trace_plots import missing

ROOT = Path(__file__).resolve().parents[1]
TRACES = ROOT / "samples" / "traces"
LOGS = ROOT / "samples" / "logs"
WRITE = TRACES / "5.6.0" / "write-flash-baud.trace.txt"
RED = to_rgba("tab:red")


def _trace(path: Path):
    source, data, name = load(str(path))
    assert source == "trace"
    return data, name


def _by_gid(ax, gid: str) -> list:
    return [a for a in [*ax.patches, *ax.collections, *ax.lines] if a.get_gid() == gid]


def _boxes(ax, gid: str) -> list:
    """(the collection, its rectangles) of one kind of bar (timeline bars are one collection per kind)."""
    found = [c for c in ax.collections if c.get_gid() == gid]
    return found[0] if found else None


def _points(ax, gid: str) -> int:
    return sum(len(c.get_offsets()) for c in ax.collections if c.get_gid() == gid)


def _ticks(ax) -> list[str]:
    return [t.get_text() for t in ax.get_yticklabels()]


def test_timeline_of_a_write_session():
    data, name = _trace(WRITE)
    fig = trace_figure(data, ["timeline"], name)
    (ax,) = fig.axes
    assert "time" in ax.get_xlabel() and "(s)" in ax.get_xlabel() and ax.get_ylabel() == "request"
    assert "ESP32" in fig.get_suptitle() and WRITE.name in fig.get_suptitle() and "5.6.0" in fig.get_suptitle()
    assert _ticks(ax) == data.ops() and "FLASH_DEFL_DATA" in _ticks(ax)
    bars = [_boxes(ax, k) for k in ("ok", "error", "timeout", "no reply", "sent")]
    assert sum(len(b.get_paths()) for b in bars if b) == len(data.exchanges) == data.summary["commands"]
    errors = _boxes(ax, "error")  # esptool 5.6 asks an ESP32 for GET_SECURITY_INFO, twice; it is refused
    assert len(errors.get_paths()) == 2 and tuple(errors.get_facecolor()[0]) == RED
    rows = {round(path.vertices[:, 1].mean()) for path in errors.get_paths()}
    assert rows == {_ticks(ax).index("GET_SECURITY_INFO")}
    assert _points(ax, "retry") == 1 and _points(ax, "timeout-mark") == 0
    assert ax.get_legend() is not None and any("error reply" in t.get_text() for t in ax.get_legend().get_texts())


def test_timeline_marks_every_timeout_and_retry():
    data, name = _trace(TRACES / "4.7.0" / "fault-dead-tx.trace.txt")
    (ax,) = trace_figure(data, ["timeline"], name).axes
    assert _ticks(ax) == ["SYNC"]
    assert _points(ax, "timeout-mark") == 35 and _points(ax, "retry") == 34
    bars = _boxes(ax, "timeout")  # each wait, from the request to the timeout, in grey
    assert len(bars.get_paths()) == 35 and tuple(bars.get_facecolor()[0]) == to_rgba("tab:gray")
    widths = [p.vertices[:, 0].max() - p.vertices[:, 0].min() for p in bars.get_paths()]
    assert all(w >= 0.09 for w in widths)  # SYNC's 0.1 s timeout


def test_timeline_shows_invalid_bytes_in_red():
    data, name = _trace(TRACES / "5.6.0" / "fault-noise.trace.txt")
    (ax,) = trace_figure(data, ["timeline"], name).axes
    assert _ticks(ax)[0] == "invalid bytes"
    (marks,) = _by_gid(ax, "invalid")
    assert len(marks.get_offsets()) == 2 and tuple(marks.get_facecolor()[0]) == RED
    assert any("0x9b" in t.get_text() for t in ax.texts)


def test_latency_per_request():
    data, name = _trace(WRITE)
    (ax,) = trace_figure(data, ["latency"], name).axes
    answered = list(dict.fromkeys(e.op for e in data.exchanges if e.latency is not None))
    assert _ticks(ax) == answered
    assert len(_by_gid(ax, "median")) == len(answered)
    assert "ms" in ax.get_xlabel() and "latency" in ax.get_xlabel()
    assert _points(ax, "ok") + _points(ax, "error") == sum(e.latency is not None for e in data.exchanges)
    (errors,) = [c for c in ax.collections if c.get_gid() == "error"]
    assert tuple(errors.get_facecolor()[0]) == RED and len(errors.get_offsets()) == 2


PACED = ROOT / "samples" / "plots" / "write-flash-paced.trace.txt"


@pytest.mark.parametrize("sample, op, blocks", [
    ("5.6.0/write-flash-baud", "FLASH_DEFL_DATA", 3),
    ("2.8/write-flash-no-stub", "FLASH_DATA", 1),
    ("5.6.0/read-flash", "READ_FLASH", 2),
    ("../plots/write-flash-paced", "FLASH_DATA", 16),
])
def test_throughput_of_data_blocks(sample, op, blocks):
    data, name = _trace(TRACES / f"{sample}.trace.txt")
    (ax, total) = trace_figure(data, ["throughput"], name).axes  # the running total is a twin axis
    (line,) = [ln for ln in ax.lines if ln.get_gid() == op]
    ys = [y for y in line.get_ydata() if y == y]  # NaN breaks the line between flash regions
    assert len(ys) == blocks and all(y > 0 for y in ys)
    assert "kB/s" in ax.get_ylabel() and "(s)" in ax.get_xlabel() and "kB" in total.get_ylabel()
    assert any(t.get_text().endswith("blocks") or "blocks" in t.get_text() for t in ax.get_legend().get_texts())


def test_throughput_of_a_paced_write_is_the_wire_rate():
    data, name = _trace(PACED)
    (ax, _) = trace_figure(data, ["throughput"], name).axes
    (line,) = [ln for ln in ax.lines if ln.get_gid() == "FLASH_DATA"]
    rates = list(line.get_ydata())
    # 1,024 payload bytes in 1,057 SLIP bytes at 115200 baud, 10 bits a byte: ~11 kB/s
    assert len(rates) == 16 and all(9 < r < 11.6 for r in rates)
    assert not [c for c in ax.collections if c.get_gid() == "FLASH_DATA-short"]  # every block took > 1 ms
    (regions,) = [c for c in ax.collections if c.get_gid() == "regions"]
    assert len(regions.get_segments()) == 1


def test_all_kinds_in_one_figure():
    data, name = _trace(WRITE)
    fig = trace_figure(data, ["timeline", "latency", "throughput"], name)
    assert len(fig.axes) == 4  # throughput's twin axis is the fourth
    assert [ax.get_title().split(" ")[0] for ax in fig.axes[:3]] == ["Commands:", "Reply", "Data"]


def test_boot_timeline_of_a_boot_loop():
    source, data, name = load(str(LOGS / "sim_esp32_panic_boot_loop.txt"))
    assert source == "device-log" and data.chip == "ESP32"
    fig = boot_figure(data, name)
    (ax,) = fig.axes
    assert "ms" in ax.get_xlabel() and ax.get_ylabel() == "log tag"
    assert "ESP32" in fig.get_suptitle() and "sim_esp32_panic_boot_loop.txt" in fig.get_suptitle()
    ticks = _ticks(ax)
    assert ticks[0] == CRASH_ROW and ticks[1] == "boot" and "demo" in ticks
    assert ticks.index("boot.esp32") < ticks.index("cpu_start")  # bootloader tags first
    (resets,) = _by_gid(ax, "reset")  # three rst: lines and a last ROM banner whose rst: line is cut
    assert len(resets.get_segments()) == 4
    assert {c.get_gid() for c in ax.collections} >= {"stage-ROM", "stage-bootloader", "stage-app"}
    assert len(_boxes(ax, "stage-app").get_paths()) == 3  # the fourth boot is cut before its bootloader
    (crashes,) = _by_gid(ax, "crash")
    assert len(crashes.get_offsets()) == 3 and tuple(crashes.get_facecolor()[0]) == RED
    assert sum("StoreProhibited" in t.get_text() for t in ax.texts) == 3
    assert any("SW_CPU_RESET" in t.get_text() for t in ax.texts)
    assert _points(ax, "level-I") + _points(ax, "level-W") == data.points == 123
    assert _points(ax, "level-W") == 3


def test_boot_timeline_of_a_log_cut_after_the_reset():
    _, data, name = load(str(LOGS / "esp32_task_wdt_timestamps_crlf.txt"))
    (ax,) = boot_figure(data, name).axes
    assert _by_gid(ax, "log-start") and not _by_gid(ax, "reset")
    assert "after the reset" in ax.get_xlabel()
    assert _points(ax, "crash") == 1 and any("task watchdog" in t.get_text() for t in ax.texts)


def test_arduino_log_rows_are_files_and_the_silent_boot_is_not_called_rom():
    _, data, name = load(str(LOGS / "esp32_brownout_arduino.txt"))
    (ax,) = boot_figure(data, name).axes
    assert _ticks(ax) == [CRASH_ROW, "main.cpp"]  # [    25][I][main.cpp:38]: the row is the file
    assert _boxes(ax, "stage-pre") is not None and _boxes(ax, "stage-ROM") is None
    assert any(t.get_text().startswith("brownout") for t in ax.texts)


def test_what_a_trace_cannot_show_is_said():
    data, _ = _trace(TRACES / "4.7.0" / "fault-dead-tx.trace.txt")
    assert "35 timeouts" in missing("latency", data)
    assert "FLASH_DATA" in missing("throughput", data)
    assert missing("timeline", data) is None


@pytest.mark.parametrize("path", sorted(TRACES.glob("*/*.trace.txt")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_sample_trace_plots(path):
    data, name = _trace(path)
    kinds = [k for k in ("timeline", "latency", "throughput") if missing(k, data) is None]
    assert "timeline" in kinds
    fig = trace_figure(data, kinds, name)
    assert len(fig.axes) >= len(kinds)


# --- the command ---------------------------------------------------------------------

def plot(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "espmon", "plot", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def test_command_writes_png_and_svg(tmp_path):
    png, svg = tmp_path / "t.png", tmp_path / "b.svg"
    out = plot(str(WRITE), "-o", str(png), "--kind", "timeline", "--kind", "latency")
    assert out.returncode == 0, out.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "timeline, latency" in out.stdout
    out = plot(str(LOGS / "sim_esp32c6_boot.txt"), "-o", str(svg))
    assert out.returncode == 0, out.stderr
    assert b"<svg" in svg.read_bytes()[:1000] and "boot of" in out.stdout
    piped = subprocess.run([sys.executable, "-m", "espmon", "plot", "-", "-o", str(png)], capture_output=True,
                           text=True, timeout=120, input=WRITE.read_text())
    assert piped.returncode == 0 and "timeline of <stdin>" in piped.stdout, piped.stderr


def _error(out: subprocess.CompletedProcess) -> str:
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    return lines[0]


def test_what_is_not_a_trace_or_log_is_one_line(tmp_path):
    (tmp_path / "x.json").write_text('{"kind": "command"}\n')
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "blob.bin").write_bytes(bytes(range(256)) * 4)
    out = str(tmp_path / "o.png")
    cases = {str(ROOT / "README.md"): "Markdown", str(tmp_path / "x.json"): "JSON",
             str(tmp_path / "empty.txt"): "empty", str(tmp_path / "blob.bin"): "binary",
             str(tmp_path / "nothing.txt"): "no such file"}
    for path, words in cases.items():
        line = _error(plot(path, "-o", out))
        assert path in line and words in line, line
    assert not (tmp_path / "o.png").exists()


def test_bad_output_and_kind_are_one_line(tmp_path):
    log = str(LOGS / "sim_esp32c6_boot.txt")
    assert "expected .png or .svg" in _error(plot(log, "-o", str(tmp_path / "o.jpg")))
    assert "cannot write" in _error(plot(log, "-o", str(tmp_path / "missing" / "o.png")))
    (tmp_path / "file").write_text("")
    assert "not a directory" in _error(plot(log, "-o", str(tmp_path / "file" / "o.png")))
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        try:
            assert "permission denied" in _error(plot(log, "-o", str(ro / "o.png")))
        finally:
            ro.chmod(0o700)
    assert "is a directory" in _error(plot(log, "-o", str(tmp_path)))
    assert "needs an esptool --trace dump" in _error(plot(log, "-o", str(tmp_path / "o.png"), "--kind", "latency"))
    assert "needs a device log" in _error(plot(str(WRITE), "-o", str(tmp_path / "o.png"), "--kind", "boot"))


def test_inputs_without_times_are_refused_in_words(tmp_path):
    line = _error(plot(str(LOGS / "esp32_flash_read_err_loop.txt"), "-o", str(tmp_path / "o.png")))
    assert "no ESP-IDF log timestamps" in line and "3 resets" in line
    import re

    flat = tmp_path / "flat.trace.txt"
    flat.write_text(re.sub(r"TRACE \+\d+\.\d{3}", "TRACE +0.000", WRITE.read_text()))
    line = _error(plot(str(flat), "-o", str(tmp_path / "o.png")))
    assert "no times" in line and "+0.000" in line
    line = _error(plot(str(TRACES / "2.8" / "chip-id.trace.txt"), "-o", str(tmp_path / "o.png"),
                       "--kind", "throughput"))
    assert "write-flash" in line


def test_matplotlib_only_when_a_figure_is_made():
    code = ("import sys, espmon.commands.plot, espmon.plot.trace_data, espmon.plot.boot_data; "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.stdout.strip() == "False", out.stderr
