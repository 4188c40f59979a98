"""The monitor engine: records, annotations after their line, address decoding, hex view, text log."""

from __future__ import annotations

from dataclasses import dataclass

from espmon.logfile import SessionLog
from espmon.monitor import records as R
from espmon.monitor.engine import MonitorEngine
from espmon.monitor.knowledge import Knowledge
from espmon.monitor.print_filter import PrintFilter


@dataclass(frozen=True)
class ResetInfo:
    line: int
    download: bool = False


@dataclass(frozen=True)
class GuruMeditation:
    line: int


@dataclass(frozen=True)
class BootLoop:
    line: int


class FakeParser:
    chip = None

    def __init__(self):
        self.n = 0

    def feed(self, line):
        self.n += 1
        if line.startswith("rst:"):
            return [ResetInfo(self.n, download="DOWNLOAD" in line)]
        if line.startswith("Guru Meditation"):
            return [GuruMeditation(self.n)]
        return []

    def end(self):
        return []


class FakeLoops:
    def __init__(self):
        self.resets = 0

    def feed(self, event, t):
        if isinstance(event, ResetInfo):
            self.resets += 1
            if self.resets == 3:
                return BootLoop(event.line)
        return None


def _annotate(event, chip):
    return {ResetInfo: "reset explained", GuruMeditation: "crash explained", BootLoop: "boot loop!"}.get(type(event))


@dataclass(frozen=True)
class Loc:
    address: int
    function: str
    file: str
    line: int
    inlined: bool = False
    elf: str = "app.elf"


class FakeSymbols:
    def in_code(self, addr):
        return 0x400D0000 <= addr < 0x400E0000

    def lookup(self, addr):
        if not self.in_code(addr):
            return []
        return [Loc(addr, "inner", "/src/inner.h", 3, True), Loc(addr, "app_main", "/src/main.c", 12)]


def _engine(**kw):
    return MonitorEngine(Knowledge(FakeParser(), _annotate, FakeLoops()), **kw)


def test_annotation_follows_its_line():
    eng = _engine()
    out = eng.feed(b"hello\r\nrst:0x1 (POWERON),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\nnext\r\n", 0.0)
    assert out == ["hello", "rst:0x1 (POWERON),boot:0x13 (SPI_FAST_FLASH_BOOT)", R.RESET + "reset explained", "next"]
    assert eng.resets == 1 and eng.state == "running"
    eng.feed(b"rst:0x1 (POWERON),boot:0x3 (DOWNLOAD_BOOT(UART0))\n", 0.0)
    assert eng.state == "download mode"


def test_crash_state_and_boot_loop_called_out_once():
    eng = _engine()
    out = eng.feed(b"Guru Meditation Error: Core  0 panic'ed\n" + b"rst:0xc (SW_CPU_RESET)\n" * 4, 0.0)
    assert out[1] == R.CRASH + "crash explained"
    assert [r for r in out if r.startswith(R.ALERT)] == [R.ALERT + "boot loop!"]
    assert eng.boot_loops == 1


def test_addresses_in_code_are_decoded_with_inlined_frames():
    eng = _engine(symbolizer=FakeSymbols())
    out = eng.feed(b"Backtrace: 0x400d1234:0x3ffb1f00 0x40001234:0x3ffb1f20\n", 0.0)
    assert out == [
        "Backtrace: 0x400d1234:0x3ffb1f00 0x40001234:0x3ffb1f20",
        R.DECODED + "0x400d1234: inner at /src/inner.h:3",
        R.DECODED + "    (inlined by) app_main at /src/main.c:12",
    ]
    # the ROM's bootloader load lines are not decoded (they would point into the app by chance)
    assert eng.feed(b"load:0x400d0000,len:1184\n", 0.0) == ["load:0x400d0000,len:1184"]


def test_partial_line_shown_then_completed():
    eng = _engine()
    assert eng.feed(b"prompt> ", 0.0) == []
    assert eng.has_partial and eng.partial_text() == "prompt> "
    assert eng.feed(b"typed\r\n", 0.0) == ["prompt> typed"]
    assert eng.feed(b"no newline at the end", 0.0) == []
    assert eng.end(0.0) == ["no newline at the end"]


def test_escapes_and_bad_bytes_are_visible():
    eng = _engine()
    out = eng.feed(b"\x1b[0;32mI (1) t: ok\x1b[0m\r\ntitle \x1b]0;pwn\x07 \xff\n", 0.0)
    assert out == ["\x1b[0;32mI (1) t: ok\x1b[0m", "title \\x1b]0;pwn\\x07 \\xff"]


def test_print_filter_hides_a_line_with_its_explanations():
    """Issue 8 item 7: a hidden line's annotation and decoded frames used to show under the
    line before it. They follow their line; the session's alerts still show."""
    eng = _engine(print_filter=PrintFilter("wifi:I"), symbolizer=FakeSymbols())
    out = eng.feed(b"I (1) boot: x\nI (2) wifi: up\nGuru Meditation Error: Core 0\nBacktrace: 0x400d1234:0x3ff\n"
                   + b"rst:0xc (SW_CPU_RESET)\n" * 3 + b"I (3) wifi: at 0x400d1234\n", 0.0)
    assert out[0].startswith(R.NOTE + "print filter 'wifi:I'")  # the active filter, said first
    assert out[1:] == ["I (2) wifi: up", R.ALERT + "boot loop!", "I (3) wifi: at 0x400d1234",
                       R.DECODED + "0x400d1234: inner at /src/inner.h:3",
                       R.DECODED + "    (inlined by) app_main at /src/main.c:12"]
    assert eng.crashes == 1 and eng.resets == 3  # the status bar still counts what was hidden


def test_a_shown_crash_keeps_its_explanation_under_a_filter():
    eng = _engine(print_filter=PrintFilter("wifi:I *:E"))
    out = eng.feed(b"I (1) boot: x\nGuru Meditation Error: Core 0\n", 0.0)
    assert out[1:] == ["Guru Meditation Error: Core 0", R.CRASH + "crash explained"]


def test_hex_view():
    eng = _engine()
    eng.hex_view = True
    out = eng.feed(b"AB\x00\n", 0.0)
    assert out == [R.HEX + "00000000  41 42 00 0a" + " " * 36 + "  |AB..|"]


def test_text_log_has_every_line_with_annotations(tmp_path):
    log = SessionLog(tmp_path / "cap.log")
    eng = _engine(print_filter=PrintFilter("*:E"), log=log)
    eng.feed(b"\x1b[0;32mI (1) boot: x\x1b[0m\r\nrst:0x1 (POWERON)\r\n", 1_700_000_000.25)
    log.close()
    text = (tmp_path / "cap.log.txt").read_text().splitlines()
    assert text[0].split(" ", 2)[2].startswith("--- print filter '*:E'")
    assert [line.split(" ", 2)[2] for line in text[1:]] == ["I (1) boot: x", "rst:0x1 (POWERON)",
                                                          "--- reset explained"]


def test_real_parser_and_annotations_do_not_raise_on_junk():
    from espmon.monitor.knowledge import load_knowledge

    eng = MonitorEngine(load_knowledge())
    junk = bytes(range(256)) * 4 + b"\nGuru Meditation Error: Core  0 panic'ed (LoadProhibited)\n\xff\xfe\n"
    text = eng.feed_text(junk, 0.0) + "".join(R.plain_text(r) + "\n" for r in eng.end(0.0))
    # nothing the device sent is dropped: the junk comes out escaped, the panic line intact
    assert "Guru Meditation Error: Core  0 panic'ed (LoadProhibited)" in text
    assert "\\xff\\xfe" in text


def test_a_rom_repeating_itself_is_explained_once_per_boot():
    from espmon.monitor.knowledge import load_knowledge

    eng = MonitorEngine(load_knowledge())
    boot = (b"ets Jul 29 2019 12:21:46\r\n\r\nrst:0x10 (RTCWDT_RTC_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n"
            + b"invalid header: 0xffffffff\r\n" * 5)
    text = eng.feed_text(boot + boot, 0.0)
    assert text.count("invalid header: 0xffffffff") == 10  # every device line is kept
    assert text.count("nothing flashed at the bootloader offset (0x1000 on ESP32)") == 2  # one note per boot


def test_state_is_boot_loop_while_the_resets_keep_coming():
    """Issue 8 item 8: the status said 'running' through a boot loop."""
    eng = _engine()
    for i in range(4):
        eng.feed(b"rst:0x10 (RTCWDT_RTC_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\n", float(i))
    assert eng.state == "boot loop" and eng.state_at(3.5) == "boot loop"
    assert eng.state_at(30.0) == "running"  # the resets stopped: over
    eng.host_reset(40.0)
    eng.feed(b"rst:0x1 (POWERON)\n", 40.1)
    assert eng.state == "running"
    eng.feed(b"rst:0x1 (POWERON),boot:0x3 (DOWNLOAD_BOOT(UART0))\n", 41.0)
    assert eng.state_at(41.0) == "download mode"
