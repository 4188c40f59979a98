"""espmon flash and the flash engine, against the virtual board over a real sim:// port, with
the real esptool 5 as the engine: one port opened once, the boot log read on it afterwards."""

from __future__ import annotations

import io
import json
import random
import shutil
import sys
from pathlib import Path

import pytest

from espmon import cli
from espmon.errors import UserError
from espmon.flash.engine import FlashError, LoaderOptions, loader_on
from espmon.flash.flash_set import load_project, parse_pairs
from espmon.sim.record import Recorder

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ROOT / "samples" / "project"


class Lines:
    def __init__(self):
        self.messages, self.progress_calls = [], []

    def message(self, level, text):
        self.messages.append((level, text))

    def progress(self, done, total, what):
        self.progress_calls.append((done, total, what))

    def text(self):
        return "\n".join(text for _, text in self.messages)


def _run(monkeypatch, capfd, argv, script=""):
    monkeypatch.setattr(sys, "stdin", io.StringIO(script))
    code = cli.main(argv)
    out, err = capfd.readouterr()
    return code, out, err


def _frames_in(record: Path, op: int) -> int:
    count = 0
    for line in record.read_text().splitlines():
        item = json.loads(line)
        if item.get("dir") == "in" and "frame" in item and bytes.fromhex(item["frame"])[1:2] == bytes([op]):
            count += 1
    return count


@pytest.fixture
def opens(monkeypatch):
    """Every port espmon opens (a spy on the real open_port: the port still opens)."""
    import espmon.session

    seen = []
    real = espmon.session.open_port

    def spy(url, baud=115200, **kw):
        port = real(url, baud, **kw)
        seen.append(port)
        return port

    monkeypatch.setattr(espmon.session, "open_port", spy)
    return seen


def test_flash_project_then_monitor_on_one_port(monkeypatch, capfd, opens, tmp_path):
    from espmon.sim import registry

    url = f"sim://esp32?name=flash-project&record={tmp_path / 'board.jsonl'}"
    code, out, err = _run(monkeypatch, capfd, ["flash", url, "--project", str(PROJECT / "esp32"), "--monitor"],
                          "expect --timeout 5 demo: processing 3 work items\nexit\n")
    assert code == 0, err
    assert err.count("Hash of data verified.") == 3  # bootloader, partition table, app
    assert "the chip was reset on the same port" in err
    assert "Project name:     espmon-demo" in out and "demo: hello from espmon-demo on ESP32" in out
    assert "matches" in out and "espmon-demo.elf" in out  # the project's app ELF, with no --elf
    assert len(opens) == 1  # one open for flash and monitor
    assert _frames_in(tmp_path / "board.jsonl", 0x11) >= 3  # FLASH_DEFL_DATA
    registry.discard("flash-project")


def test_skip_unchanged_writes_nothing_the_second_time_and_only_the_app_after_it_changed(
        monkeypatch, capfd, tmp_path):
    from espmon.sim import registry

    build = tmp_path / "build"
    shutil.copytree(PROJECT / "esp32", build)
    first = tmp_path / "first.jsonl"
    url = f"sim://esp32?name=flash-skip&record={first}"
    assert _run(monkeypatch, capfd, ["flash", url, "--project", str(build), "--skip-unchanged"])[0] == 0
    assert _frames_in(first, 0x11) == 3
    board = registry.get_board("flash-skip")
    second = tmp_path / "second.jsonl"
    board.recorder = Recorder(str(second))
    code, out, _ = _run(monkeypatch, capfd, ["flash", url, "--project", str(build), "--skip-unchanged"])
    assert code == 0 and out.count("already in flash, skipping write") == 3
    assert _frames_in(second, 0x11) == 0
    app = build / "espmon-demo.bin"
    app.write_bytes(app.read_bytes()[:-16] + bytes(16))  # change the app only
    third = tmp_path / "third.jsonl"
    board.recorder = Recorder(str(third))
    code, out, _ = _run(monkeypatch, capfd, ["flash", url, "--project", str(build), "--skip-unchanged"])
    assert code == 0 and out.count("already in flash, skipping write") == 2
    assert _frames_in(third, 0x11) == 1
    registry.discard("flash-skip")


def test_brownout_during_the_write_is_one_line_with_the_guides_advice(monkeypatch, capfd):
    code, out, err = _run(monkeypatch, capfd, ["flash", "sim://esp32?fault=brownout&name=flash-brownout",
                                               "0x10000", str(PROJECT / "esp32" / "espmon-demo.bin")])
    assert code != 0
    assert "Traceback" not in err
    error_lines = [line for line in err.splitlines() if line.startswith("espmon: error:")]
    assert len(error_lines) == 1 and "writing the flash failed" in error_lines[0]
    assert "Insufficient Power" in out


def test_read_erase_and_describe_through_the_engine(sim_port):
    port = sim_port("esp32")
    report = Lines()
    data = random.Random(7).randbytes(300 * 1024)  # an app of real size, incompressible
    with loader_on(port, report, LoaderOptions(baud=460800)) as loader:
        loader.write([(0x100000, data)])
        assert loader.read(0x100000, len(data)) == data
        loader.erase_region(0x100000, 0x1000)
        assert loader.read(0x100000, 0x1000) == b"\xff" * 0x1000
        loader.describe("mac")
        loader.describe("flash-id")
    assert port.is_open and port.baudrate == 115200  # handed back as lent
    text = report.text()
    assert "MAC:                24:6f:28:a1:b2:c4" in text
    assert "Manufacturer: ef" in text and "Detected flash size: 4MB" in text
    assert any(what.startswith("Writing at") for _, _, what in report.progress_calls)


def test_a_wrong_chip_is_a_one_line_error_and_the_port_stays_open(sim_port):
    port = sim_port("esp32c3")
    with pytest.raises(FlashError, match="this chip is ESP32-C3, not esp32"):
        with loader_on(port, Lines(), LoaderOptions(chip="esp32")):
            pass
    assert port.is_open


def test_flash_sets_read_both_spellings_and_name_what_is_wrong(tmp_path):
    build = tmp_path / "b"
    build.mkdir()
    (build / "app.bin").write_bytes(b"\xe9" + bytes(31))
    (build / "flasher_args.json").write_text(json.dumps({
        "flash_settings": {"flash-mode": "qio", "flash-size": "4MB", "flash-freq": "80m"},
        "flash_files": {"0x10000": "app.bin"},
        "app": {"offset": "0x10000", "file": "app.bin", "encrypted": False},
        "extra_esptool_args": {"after": "hard-reset", "before": "default_reset", "chip": "esp32c3"},
    }))
    flash_set = load_project(build)
    assert (flash_set.flash_mode, flash_set.flash_size, flash_set.chip, flash_set.after) == \
        ("qio", "4MB", "esp32c3", "hard-reset")
    assert flash_set.app_only().files[0].name == "app"
    (build / "flasher_args.json").write_text("{\n  nope")
    with pytest.raises(UserError, match=r"flasher_args.json:2: not JSON"):
        load_project(build)
    with pytest.raises(UserError, match="no flasher_args.json"):
        load_project(tmp_path)
    with pytest.raises(UserError, match="has no pair"):
        parse_pairs(["0x1000"])
    with pytest.raises(UserError, match="expected a flash address"):
        parse_pairs(["boot", str(build / "app.bin")])
    with pytest.raises(UserError, match="no such file"):
        parse_pairs(["0x1000", str(tmp_path / "missing.bin")])


def test_a_qio_image_on_dio_only_flash_writes_fine_and_the_monitor_says_why_it_does_not_start(monkeypatch, capfd):
    image = ROOT / "samples" / "firmware" / "esp32" / "merged-qio.bin"
    code, out, err = _run(monkeypatch, capfd, ["flash", "sim://esp32?fault=dio-only&name=flash-dio", "0x0", str(image),
                                               "--monitor"], "expect --timeout 5 RTCWDT_RTC_RESET\nexit\n")
    assert code == 0, err
    assert "Hash of data verified." in err
    assert "mode:QIO" in out and "Wrong Flash Mode: flash with -fm dio" in out


def test_a_board_that_re_enumerates_on_the_reset_after_flashing_is_followed(monkeypatch, capfd, opens):
    code, out, err = _run(monkeypatch, capfd, ["flash", "sim://esp32?fault=usb-reenumerate&name=flash-usb",
                                               "--project", str(PROJECT / "esp32"), "--monitor"],
                          "expect --timeout 8 app: tick 1\nexit\n")
    assert code == 0, err
    assert "disappeared" in err and "is back after" in err
    assert "app: tick 1" in out


def test_script_mode_flashes_the_app_again_on_the_same_port(monkeypatch, capfd, opens):
    """`flash-app` in a piped script (esp-idf-monitor's script names too): the set that
    `espmon flash --monitor` wrote, again, with the new boot log after it."""
    script = ("expect --timeout 10 hello from espmon-demo\n"
              "flash-app\n"
              "expect --timeout 30 hello from espmon-demo\n"
              "exit\n")
    code, out, err = _run(monkeypatch, capfd, ["flash", "sim://esp32?name=script-flash&heartbeat=0", "--project",
                                               str(PROJECT / "esp32"), "--monitor"], script)
    assert code == 0, err
    assert err.count("Hash of data verified.") == 3 + 1  # the set, then the app alone
    assert out.count("hello from espmon-demo") >= 2
    assert len(opens) == 1


def test_script_flash_in_a_plain_monitor_is_skipped_with_a_reason(monkeypatch, capfd):
    code, out, err = _run(monkeypatch, capfd, ["monitor", "sim://esp32?firmware=demo&name=script-noflash",
                                               "--no-reset"], "flash\nexit\n")
    assert code == 0
    assert "nothing to flash here" in err


def test_console_progress_is_a_status_bar_bar_that_clears_when_the_job_ends():
    from espmon.console.flash_actions import ConsoleReport

    shown = []

    class Con:
        def _call_soon(self, fn, *args):
            fn(*args)

        def set_progress(self, progress):
            shown.append(progress)

        def note(self, text):
            pass

        def message(self, *args, **kwargs):
            pass

    report = ConsoleReport(Con())
    for done in (0, 10, 10, 55, 100):
        report.progress(done, 100, "Writing at 0x00010000")
    assert shown == [("Writing at 0x00010000", 0), ("Writing at 0x00010000", 10), ("Writing at 0x00010000", 55), None]
    report.progress(40, 100, "Writing at 0x00020000")
    report.message("error", "flash failed: No more data to read")  # a failed job takes its bar along
    assert shown[-1] is None


def test_flash_project_then_monitor_over_rfc2217_opens_the_port_once(monkeypatch, capfd, opens, sim_server):
    """The same as over sim://, across processes: the board's own record says it saw one
    connection, which stayed open from the write to the boot log."""
    board = sim_server("esp32")
    code, out, err = _run(monkeypatch, capfd, ["flash", board.url, "--project", str(PROJECT / "esp32"), "--monitor"],
                          "expect --timeout 10 demo: processing 3 work items\nexit\n")
    assert code == 0, err
    assert err.count("Hash of data verified.") == 3
    assert "the chip was reset on the same port" in err
    assert "demo: hello from espmon-demo" in out
    assert len(opens) == 1
    board.stop()
    events = [r["event"] for r in board.records() if r.get("event", "").startswith("host-")]
    assert events == ["host-open", "host-close"]


@pytest.mark.parametrize("argv", [
    ["flash", "{url}", "--monitor", "0x10000", "{app}"],
    ["flash", "--monitor", "{url}", "0x10000", "{app}"],
    ["flash", "-p", "{url}", "0x10000", "{app}", "--monitor"],
    ["flash", "-p", "{url}", "--monitor", "0x10000", "{app}"],
])
def test_options_may_come_between_the_port_and_the_images(monkeypatch, capfd, argv):
    app = ROOT / "samples" / "firmware" / "esp32" / "app.bin"
    url = "sim://esp32?firmware=demo&name=intermixed"
    argv = [a.format(url=url, app=app) for a in argv]
    code, out, err = _run(monkeypatch, capfd, argv, "exit\n")
    assert code == 0, err
    assert "Hash of data verified." in err


def test_console_flash_jobs_follow_the_set_encryption_and_after(tmp_path):
    """`:flash` writes what the set says, as `espmon flash` does: encrypted entries encrypted
    (the virtual chip has no key: esptool refuses, in one line) and the set's --after."""
    from espmon.flash.flash_set import FlashFile, FlashSet
    from espmon.flash.jobs import FlashJobs
    from espmon.session import Session

    app = ROOT / "samples" / "firmware" / "esp32" / "app.bin"
    session = Session("sim://esp32?firmware=demo&name=jobs-encrypted", 115200)
    session.start()
    try:
        report = Lines()
        jobs = FlashJobs(session, report)
        thread = jobs.flash(FlashSet([FlashFile(0x10000, app, "app", encrypted=True)], after="no_reset"))
        thread.join(60)
        errors = [text for level, text in report.messages if level == "error"]
        assert len(errors) == 1 and "encrypt" in errors[0].lower(), report.text()
        report = Lines()
        jobs.report = report
        thread = jobs.flash(FlashSet([FlashFile(0x10000, app, "app")], after="no_reset"))
        thread.join(60)
        assert "the chip was not reset (--after no-reset)" in report.text(), report.text()
    finally:
        session.stop()
