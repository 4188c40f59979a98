"""`espmon doctor`: each fault of the virtual board diagnosed with the right rule first, clean
sessions with none, each rule on public inputs (samples/doctor/), pastes, non-inputs, --json."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from espmon.cli import main
from espmon.commands.doctor import diagnose
from espmon.diagnose.advice import advice_for
from espmon.diagnose.rules import RULES, RULES_BY_ID
from espmon.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
MANIFEST = json.loads((SAMPLES / "traces" / "manifest.json").read_text())
EXPECTED = json.loads((SAMPLES / "doctor" / "expected.json").read_text())

# esptool < 3.2 says "Timed out waiting for packet header" for dead-tx, dead-rx (the trace
# holds nothing else: the two cannot be told apart) and no-autoreset (the boot log shows it)
FAULT_RULE = {"no-autoreset": "wrong-boot-mode", "dead-tx": "no-serial-data", "dead-rx": "no-sync-reply",
              "noise": "invalid-head", "brownout": "brownout"}


def _old(version: str) -> bool:
    return tuple(int(p) for p in version.split(".")[:2]) < (3, 2)


def doctor_text(text: str, name: str = "paste") -> dict:
    return diagnose(iter([text]), name)


def doctor_file(path: Path, elf: list[str] | None = None) -> dict:
    from espmon.commands.decode import read_text_chunks

    sym = None
    if elf:
        from espmon.monitor.knowledge import load_symbolizer

        sym = load_symbolizer(elf)
    with open(path, "rb") as f:
        return diagnose(read_text_chunks(f, str(path)), str(path), sym)


def rules(report: dict) -> list[str]:
    return [f["rule"] for f in report["findings"]]


@pytest.mark.parametrize("entry", [e for e in MANIFEST if e["fault"]], ids=lambda e: f"{e['version']}-{e['name']}")
def test_each_fault_trace_is_diagnosed_with_its_rule_first(entry):
    report = doctor_file(SAMPLES / "traces" / entry["trace"])
    want = FAULT_RULE[entry["fault"]]
    if entry["fault"] == "dead-rx" and _old(entry["version"]):
        want = "no-serial-data"
    assert report["input"] == "trace"
    assert rules(report)[0] == want
    for finding in report["findings"]:
        assert finding["evidence"], finding


@pytest.mark.parametrize("entry", [e for e in MANIFEST if not e["fault"]], ids=lambda e: f"{e['version']}-{e['name']}")
def test_a_clean_session_has_no_findings(entry):
    report = doctor_file(SAMPLES / "traces" / entry["trace"])
    assert report["input"] == "trace"
    assert report["findings"] == []
    assert report["chip"] == entry["chip"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_collected_inputs_get_their_rule_first_and_not_the_others(name):
    want = EXPECTED[name]
    report = doctor_file(SAMPLES / "doctor" / name)
    got = rules(report)
    assert (got[0] if got else None) == want["first"], got
    for rule in want.get("not", ()):
        assert rule not in got
    if "chip" in want:
        assert report["chip"] == want["chip"]


@pytest.mark.parametrize("log,first", [
    ("sim_esp32_panic_boot_loop", "panic"), ("sim_esp32c3_panic_stack_memory", "panic"),
    ("sim_esp32s2_no_bootloader", "missing-bootloader"), ("sim_esp32s3_download", "download-mode"),
    ("sim_esp8266_exception_loop", "panic"), ("sim_esp32c6_boot", None),
])
def test_the_boards_serial_output_per_fault(log, first):
    got = rules(doctor_file(SAMPLES / "logs" / f"{log}.txt"))
    assert (got[0] if got else None) == first


def test_every_rule_is_exercised_by_some_sample():
    fired = set()
    for name in EXPECTED:
        fired.update(rules(doctor_file(SAMPLES / "doctor" / name)))
    for path in sorted((SAMPLES / "logs").glob("*.txt")):
        fired.update(rules(doctor_file(path)))
    for entry in MANIFEST:
        if entry["fault"]:
            fired.update(rules(doctor_file(SAMPLES / "traces" / entry["trace"])))
    untested = {r.id for r in RULES} - fired
    assert not untested, untested


def test_the_generic_rules_fire_when_nothing_more_specific_does():
    assert rules(doctor_text("esptool.py v4.7.0\nA serial exception error occurred: write failed: "
                             "[Errno 22] Invalid argument\n")) == ["serial-exception"]
    assert rules(doctor_text("esptool.py v2.5.0\nSerial port COM5\nConnecting........_____....._____\n"
                             "A fatal error occurred: Failed to connect to ESP32: Invalid argument\n")) \
        == ["failed-to-connect"]


# --- pastes ------------------------------------------------------------------------

_NOISE = (SAMPLES / "doctor" / "board" / "esptool-fault-no-autoreset.txt").read_text()
_LOOP = (SAMPLES / "logs" / "sim_esp32s2_no_bootloader.txt").read_text()


@pytest.mark.parametrize("dress", [
    lambda t: "```\n" + t + "```\n",
    lambda t: "".join("$ " + ln if ln.startswith("esptool") else ln for ln in t.splitlines(True)),
    lambda t: "".join("> " + ln for ln in t.splitlines(True)),
    lambda t: "".join("12:34:56.789 -> " + ln for ln in t.splitlines(True)),
    lambda t: "".join(ln.lstrip(" ") for ln in t.splitlines(True)),
    lambda t: t.replace("\n", "\r\n"),
], ids=["fence", "prompt", "quote", "timestamp", "indent", "crlf"])
def test_pastes_are_read_like_the_original(dress):
    for text, first in ((_NOISE, "wrong-boot-mode"), (_LOOP, "missing-bootloader")):
        report = doctor_text(dress(text))
        assert rules(report)[0] == first


def test_a_mix_of_esptool_output_and_a_boot_log():
    report = doctor_text(_NOISE + "\n" + _LOOP)
    assert report["input"] == "mixed"
    assert rules(report)[:2] == ["wrong-boot-mode", "missing-bootloader"]
    offset = _NOISE.count("\n") + 1
    assert min(report["findings"][1]["evidence"]) > offset  # line numbers are the file's


# --- not an input ------------------------------------------------------------------

@pytest.mark.parametrize("path", ["README.md", "ARCHITECTURE.md", "pyproject.toml", "samples/traces/manifest.json"])
def test_a_file_that_is_none_of_these_says_so_in_one_line(path, capsys):
    assert main(["doctor", str(ROOT / path)]) != 0
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and "not a trace, a device log or esptool's output" in err


def test_binary_and_empty_inputs(tmp_path):
    (tmp_path / "b.bin").write_bytes(b"\x00\x01\x02" * 100)
    (tmp_path / "e.txt").write_text("")
    for name in ("b.bin", "e.txt"):
        with pytest.raises(UserError):
            doctor_file(tmp_path / name)


# --- the report ----------------------------------------------------------------------

def test_json_follows_the_contract(capsys):
    assert main(["doctor", "--json", "--elf", str(SAMPLES / "firmware" / "esp32" / "app.elf"),
                 str(SAMPLES / "logs" / "sim_esp32_panic_boot_loop.txt")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"input", "chip", "resets", "panics", "findings"} <= set(report)
    assert report["input"] == "device-log" and report["chip"] == "esp32"
    reset = report["resets"][1]
    assert set(reset) == {"line", "rst", "name", "meaning", "boot", "boot_name", "mode"}
    assert (reset["rst"], reset["name"], reset["boot"], reset["boot_name"], reset["mode"]) == \
        (0xC, "SW_CPU_RESET", 0x13, "SPI_FAST_FLASH_BOOT", "flash")
    panic = report["panics"][0]
    assert set(panic) == {"line", "cause", "core", "pc", "fault_address", "backtrace", "corrupted", "frames"}
    assert panic["cause"] == "StoreProhibited" and panic["core"] == 0 and panic["fault_address"] == 0
    assert panic["backtrace"][0] == [0x400D025B, 0x3FFB5FD0]
    assert [f["function"] for f in panic["frames"]][:3] == ["store_reading", "crash_here", "do_work"]
    assert all(set(f) == {"pc", "function", "file", "line"} for f in panic["frames"])
    finding = report["findings"][0]
    assert set(finding) == {"rule", "title", "cause", "advice", "guide_section", "evidence"}
    assert finding["rule"] == "panic" and finding["guide_section"] == "Early Stage Crash"
    assert finding["evidence"] == [p["line"] for p in report["panics"]]


def test_riscv_panic_is_unwound_from_its_stack_dump_with_the_elf():
    report = doctor_file(SAMPLES / "logs" / "sim_esp32c3_panic_stack_memory.txt",
                         [str(SAMPLES / "firmware" / "esp32c3" / "app.elf")])
    names = [f["function"] for f in report["panics"][0]["frames"]]
    assert names[:2] == ["store_reading", "crash_here"] and "app_main" in names


def test_text_output_names_the_rule_the_lines_and_the_guide(capsys):
    assert main(["doctor", str(SAMPLES / "logs" / "sim_esp32s2_no_bootloader.txt")]) == 0
    out = capsys.readouterr().out
    assert "No bootloader at the bootloader offset [missing-bootloader] (lines 4, 5," in out
    assert "\u201cMissing Bootloader\u201d" in out and "0x1000" in out


def test_advice_names_the_users_chip():
    c3 = (SAMPLES / "logs" / "sim_esp32s2_no_bootloader.txt").read_text().replace(
        "ESP-ROM:esp32s2-rc4-20191025", "ESP-ROM:esp32c3-api1-20210207")
    report = doctor_text(c3)
    assert report["chip"] == "esp32c3"
    finding = report["findings"][0]
    assert "On ESP32-C3, the bootloader image should be flashed by ESP-IDF at offset 0x0." in finding["advice"]
    assert "--chip esp32c3" in finding["cause"]
    noise = doctor_text("Chip is ESP32-C3 (QFN32) (revision v0.4)\n"
                        "A fatal error occurred: Invalid head of packet (0x49): Possible serial noise or corruption.\n")
    assert "--chip esp32c3 ..." in noise["findings"][0]["advice"]
    assert "ESP-IDF log line" in noise["findings"][0]["cause"]


def test_decode_and_the_flash_engine_take_their_advice_from_the_table():
    for text, rule in (("Failed to connect to ESP32: Timed out waiting for packet header", "no-serial-data"),
                       ("Wrong boot mode detected (0x13)!", "wrong-boot-mode"),
                       ("the chip printed 'Brownout detector was triggered'", "brownout"),
                       ("could not open port /dev/ttyUSB0: [Errno 16] Device or resource busy", "port-busy")):
        sections = advice_for(text)
        assert [s["section"] for s in sections][0] in RULES_BY_ID[rule].sections[0]


def test_stdin(monkeypatch, capsys):
    data = (SAMPLES / "doctor" / "public" / "port_busy_macos.txt").read_bytes()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert main(["doctor", "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["findings"][0]["rule"] == "port-busy"


def test_a_long_log_streams_and_keeps_bounded_facts():
    from espmon.diagnose.facts import KEEP

    block = (SAMPLES / "logs" / "sim_esp32_panic_boot_loop.txt").read_text()
    copies = 400  # 1200 boots, 1200 panics

    def chunks():
        for _ in range(copies):
            yield block

    report = diagnose(chunks(), "long")
    assert report["reset_count"] == 3 * copies and len(report["resets"]) == KEEP
    assert report["panic_count"] == 3 * copies and len(report["panics"]) == KEEP
    assert rules(report) == ["panic", "boot-loop"]
    assert report["lines"] == block.count("\n") * copies


@pytest.mark.parametrize("line,rule", [
    ("A fatal error occurred: Failed to write to target Flash after seq 12 (got response: 0x05)", "write-part-way"),
    ("A fatal error occurred: MD5 of file does not match data in flash!", "write-part-way"),
    ("A fatal error occurred: Corrupt data, expected 0x4000 bytes but received 0x3ff0 bytes", "write-part-way"),
    ("serial.serialutil.SerialException: could not open port 'COM3': PermissionError(13, 'Access is denied.', None, 5)",
     "port-busy"),
    ("serial.serialutil.SerialException: [Errno 2] could not open port /dev/ttyUSB9: [Errno 2] No such file or "
     "directory: '/dev/ttyUSB9'", "port-missing"),
    ("A fatal error occurred: This chip has encrypt functionality in UART download mode disabled. This is the Flash "
     "Encryption configuration for Production mode instead of Development mode. Secure Download Mode is enabled",
     "secure-download"),
    ("A serial exception error occurred: device reports readiness to read but returned no data (device disconnected "
     "or multiple access on port?)", "usb-port-vanished"),
])
def test_each_esptool_error_alone_in_a_file_is_found(line, rule):
    assert rules(doctor_text(line + "\n"))[0] == rule


def test_the_consoles_notes_name_the_guide_section_from_the_same_table():
    from espmon.diagnose.findings import guide_for_event
    from espmon.monitor.knowledge import load_knowledge

    knowledge = load_knowledge()
    notes = []
    for line in (SAMPLES / "logs" / "sim_esp32s2_no_bootloader.txt").read_text().splitlines():
        for event in knowledge.parser.feed(line):
            note = knowledge.annotate(event, knowledge.parser.chip)
            guide = guide_for_event(event, knowledge.parser.chip)
            if guide:
                assert guide[0] == "missing-bootloader"
                assert note.endswith(f"(guide: \u201c{guide[1]}\u201d)")
                notes.append(note)
    assert notes
