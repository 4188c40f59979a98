"""``load_project`` against real build directories: the flasher_args.json and project_description.json
files public repositories committed, written by ESP-IDF 4.0 to 6.0 (samples/idf-build-files/SOURCES.md).

Those repositories hold no images: each test copies a directory to a temporary one and writes a
placeholder image of every listed name. What each file says is written out below by hand, from
reading the files, so the loader is checked against the files and not against itself.
"""

from __future__ import annotations

import io
import json
import shutil
import sys
from pathlib import Path

import pytest

from espmon import cli
from espmon.errors import UserError
from espmon.flash.flash_set import load_project

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "idf-build-files"

BOOT, PT = "bootloader/bootloader.bin", "partition_table/partition-table.bin"
# directory: (offset, entry name, encrypted, file) per image; (mode, size, freq); chip; before; after;
# stub; app ELF; project name. The loader spells reset names and entry names the hyphen way.
EXPECTED = {
    "idf4.0-esp32": (
        [(0x1000, "bootloader", False, BOOT), (0x8000, "partition-table", False, PT),
         (0x10000, "app", False, "ESP32-BMP180.bin")],
        ("dio", "detect", "40m"), None, "default-reset", "hard-reset", None, "ESP32-BMP180.elf", "ESP32-BMP180"),
    "idf4.2-esp32s2": (
        [(0x1000, "bootloader", False, BOOT), (0x8000, "partition-table", False, PT),
         (0x10000, "app", False, "ESP32_AIRCON_TIMER.bin")],
        ("dio", "detect", "80m"), "esp32s2", "default-reset", "hard-reset", True, "ESP32_AIRCON_TIMER.elf",
        "ESP32_AIRCON_TIMER"),
    "idf4.4dev-esp32": (
        [(0x1000, "bootloader", False, BOOT), (0x8000, "partition-table", False, PT),
         (0x10000, "app", False, "balance_car.bin")],
        ("dio", "detect", "80m"), "esp32", "default-reset", "hard-reset", True, "balance_car.elf", "balance_car"),
    "idf4.4dev-esp32s3": (
        [(0x0, "bootloader", False, BOOT), (0x8000, "partition-table", False, PT), (0x10000, "app", False, "main.bin")],
        ("dio", "detect", "80m"), "esp32s3", "default-reset", "hard-reset", True, "main.elf", "main"),
    "idf4.4-esp32": (
        [(0x1000, "bootloader", False, BOOT), (0x8000, "partition-table", False, PT),
         (0x10000, "app", False, "ESP32-Wireless-Easrphones-Controller.bin")],
        ("dio", "detect", "40m"), "esp32", "default-reset", "hard-reset", True,
        "ESP32-Wireless-Easrphones-Controller.elf", "ESP32-Wireless-Easrphones-Controller"),
    "idf4.4.1-esp32c3": (
        [(0x0, "bootloader", False, BOOT), (0x8000, "partition-table", False, PT),
         (0x10000, "app", False, "ADS1256.bin")],
        ("dio", "detect", "80m"), "esp32c3", "default-reset", "hard-reset", True, "ADS1256.elf", "ADS1256"),
    "idf4.4.2-esp32": (
        [(0x1000, "bootloader", False, BOOT), (0x8000, "partition-table", False, PT),
         (0x10000, "app", False, "OTA_ESP32.bin")],
        ("dio", "detect", "40m"), "esp32", "default-reset", "hard-reset", True, "OTA_ESP32.elf", "OTA_ESP32"),
    "idf4.3.1-esp32": (
        [(0x1000, "bootloader", False, BOOT), (0x8000, "partition-table", False, PT),
         (0x10000, "app", False, "smart_alarm.bin")],
        ("dio", "detect", "40m"), "esp32", "default-reset", "hard-reset", True, "smart_alarm.elf", "smart_alarm"),
    "idf4.4.3-esp32-encrypted": (
        [(0x1000, "bootloader", True, BOOT), (0x10000, "partition-table", True, PT),
         (0x20000, "app", True, "rsa_encrypt_decrypt.bin")],
        ("dio", "detect", "40m"), "esp32", "default-reset", "no-reset", True, "rsa_encrypt_decrypt.elf",
        "rsa_encrypt_decrypt"),
    "idf5.0.1-esp32": (
        [(0x1000, "bootloader", False, BOOT), (0x8000, "partition-table", False, PT),
         (0x10000, "app", False, "praca_inzynierska_device.bin")],
        ("dio", "2MB", "40m"), "esp32", "default-reset", "hard-reset", True, "praca_inzynierska_device.elf",
        "praca_inzynierska_device"),
    "idf5.0.2-esp32s3-encrypted-nostub": (
        [(0x0, "bootloader", True, BOOT), (0x8000, "partition-table", True, PT),
         (0x20000, "app", True, "wifi_softAP.bin"), (0x120000, "storage", False, "storage.bin")],
        ("dio", "8MB", "80m"), "esp32s3", "default-reset", "no-reset", False, "wifi_softAP.elf", "wifi_softAP"),
    "idf5.1dev-esp32s2": (
        [(0x1000, "bootloader", False, BOOT), (0x8000, "partition-table", False, PT),
         (0x10000, "app", False, "read_rotary.bin")],
        ("dio", "2MB", "80m"), "esp32s2", "default-reset", "hard-reset", True, "read_rotary.elf", "read_rotary"),
    "idf5.2.2-esp32s3": (
        [(0x0, "bootloader", False, BOOT), (0x8000, "partition-table", False, PT),
         (0x10000, "app", False, "foc_knob_example.bin")],
        ("dio", "2MB", "80m"), "esp32s3", "default-reset", "hard-reset", True, None, None),
    "idf5.2.2dev-esp32": (
        [(0x1000, "bootloader", False, BOOT), (0x8000, "partition-table", False, PT),
         (0x10000, "app", False, "persistent_sockets.bin")],
        ("dio", "2MB", "40m"), "esp32", "default-reset", "hard-reset", True, None, None),
    "idf5.1.4dev-esp32": (
        [(0x1000, "bootloader", False, BOOT), (0x8000, "partition-table", False, PT),
         (0x10000, "app", False, "eassi_lora-mesher.bin")],
        ("dio", "detect", "40m"), "esp32", "default-reset", "hard-reset", True, None, None),
    "idf5.2-esp32s3": (
        [(0x0, "bootloader", False, BOOT), (0x8000, "partition-table", False, PT),
         (0xD000, "otadata", False, "ota_data_initial.bin"), (0x10000, "app", False, "ats_04_fw.bin")],
        ("dio", "16MB", "80m"), "esp32s3", "default-reset", "hard-reset", True, None, None),
    "idf5.3.2-esp32": (
        [(0x1000, "bootloader", False, BOOT), (0x8000, "partition-table", False, PT),
         (0x9000, "otadata", False, "ota_data_initial.bin"), (0x210000, "app", False, "TrafficLight.bin")],
        ("dio", "128MB", "40m"), "esp32", "default-reset", "hard-reset", True, None, None),
    "idf5.4-esp32-otadata": (
        [(0x1000, "bootloader", False, BOOT), (0x8000, "partition-table", False, PT),
         (0xE000, "otadata", False, "ota_data_initial.bin"), (0x20000, "app", False, "esp32-lifecycle-manager.bin")],
        ("dio", "4MB", "40m"), "esp32", "default-reset", "hard-reset", True, None, None),
    "idf5.4.1-esp32": (
        [(0x1000, "bootloader", False, BOOT), (0x8000, "partition-table", False, PT),
         (0x10000, "app", False, "practice.bin")],
        ("dio", "2MB", "40m"), "esp32", "default-reset", "hard-reset", True, None, None),
    "idf5.4.1-esp32c6": (
        [(0x0, "bootloader", False, BOOT), (0x8000, "partition-table", False, PT),
         (0x10000, "app", False, "plantie.bin")],
        ("dio", "2MB", "80m"), "esp32c6", "default-reset", "hard-reset", True, None, None),
    "idf5.4.3-esp32p4": (
        [(0x2000, "bootloader", False, BOOT), (0x8000, "partition-table", False, PT),
         (0x10000, "app", False, "shengyu_tongxing_v2.bin")],
        ("dio", "16MB", "80m"), "esp32p4", "default-reset", "hard-reset", True, None, None),
    "idf5.5.1-esp32p4-otadata": (
        [(0x2000, "bootloader", False, BOOT), (0x8000, "partition-table", False, PT),
         (0x10000, "app", False, "ENIP-Scale.bin"), (0x310000, "otadata", False, "ota_data_initial.bin")],
        ("dio", "detect", "80m"), "esp32p4", "default-reset", "hard-reset", True, "ENIP-Scale.elf", "ENIP-Scale"),
    "idf6.0-esp32-hyphens-storage": (
        [(0x1000, "bootloader", False, BOOT), (0x8000, "partition-table", False, PT),
         (0xF000, "otadata", False, "ota_data_initial.bin"), (0x20000, "app", False, "iothub.bin"),
         (0x3E0000, "storage", False, "storage.bin")],
        ("dio", "4MB", "40m"), "esp32", "default-reset", "hard-reset", True, None, None),
    "idf6.0dev-esp32s3": (
        [(0x0, "bootloader", False, BOOT), (0x8000, "partition-table", False, PT),
         (0x10000, "app", False, "stepper_controller.bin")],
        ("dio", "2MB", "80m"), "esp32s3", "default-reset", "hard-reset", True, None, None),
}
# Real files that cannot be flashed as they are: the one-line error each gives.
REFUSED = {
    "idf4.2dev-esp32-stub-string": r"flasher_args.json: flash_files gives 'blink.bin' no offset; expected an address",
}


def _build(name: str, tmp_path: Path, edit=None) -> Path:
    """A copy of samples/idf-build-files/NAME with a placeholder image for every listed file."""
    build = tmp_path / name
    shutil.copytree(SAMPLES / name, build)
    args_path = build / "flasher_args.json"
    if edit is not None:
        args = json.loads(args_path.read_text())
        edit(args)
        args_path.write_text(json.dumps(args, indent=4))
    for rel in json.loads((SAMPLES / name / "flasher_args.json").read_text())["flash_files"].values():
        (build / rel).parent.mkdir(parents=True, exist_ok=True)
        (build / rel).write_bytes(bytes(4096))
    return build


def _one_line_error(build: Path, pattern: str) -> str:
    with pytest.raises(UserError, match=pattern) as caught:
        load_project(build)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_every_collected_directory_has_an_expectation():
    assert sorted(p.name for p in SAMPLES.iterdir() if p.is_dir()) == sorted(EXPECTED | REFUSED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_real_build_directory_loads_as_its_files_say(name, tmp_path):
    files, settings, chip, before, after, stub, elf, project = EXPECTED[name]
    build = _build(name, tmp_path)
    flash_set = load_project(build)
    assert [(f.offset, f.name, f.encrypted, f.path) for f in flash_set.files] == \
        [(offset, entry, encrypted, build / rel) for offset, entry, encrypted, rel in files]
    assert (flash_set.flash_mode, flash_set.flash_size, flash_set.flash_freq) == settings
    assert (flash_set.chip, flash_set.before, flash_set.after, flash_set.stub) == (chip, before, after, stub)
    assert flash_set.app_elf == (build / elf if elf else None)
    assert flash_set.project_name == project
    assert flash_set.source == str(build / "flasher_args.json")
    assert [f.name for f in flash_set.app_only().files] == ["app"]
    assert load_project(build / "flasher_args.json").files == flash_set.files  # the file itself names the set


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_real_file_that_cannot_be_flashed_is_one_line(name, tmp_path):
    message = _one_line_error(_build(name, tmp_path), REFUSED[name])
    assert str(tmp_path) in message


def test_the_4_1_stub_string_and_both_reset_spellings_are_read(tmp_path):
    def mend(args):  # the 4.2-dev file, with the offset its app lacked
        args["flash_files"]["0x10000"] = args["flash_files"].pop("")
        args["app"]["offset"] = "0x10000"

    flash_set = load_project(_build("idf4.2dev-esp32-stub-string", tmp_path, mend))
    assert (flash_set.stub, flash_set.chip, flash_set.after, flash_set.before) == \
        (True, "esp32", "hard-reset", "default-reset")
    assert flash_set.app_elf == tmp_path / "idf4.2dev-esp32-stub-string" / "blink.elf"


@pytest.mark.parametrize("stub, expected", [("FALSE", False), ("false", False), ("TRUE", True), (0, False),
                                            (True, True), ("", None)])
def test_stub_in_every_type_esp_idf_wrote(stub, expected, tmp_path):
    flash_set = load_project(_build("idf5.4.1-esp32", tmp_path,
                                    lambda a: a["extra_esptool_args"].__setitem__("stub", stub)))
    assert flash_set.stub is expected


def test_odd_spellings_hyphen_keys_upper_case_values_and_settings_from_write_flash_args(tmp_path):
    def oddly(args):
        extra = args.pop("extra_esptool_args")
        args["extra-esptool-args"] = {"after": "NO_RESET_STUB", "before": "no-reset-no-sync", "chip": "ESP32",
                                      "stub": "1"}
        args.pop("flash_settings")
        args["write_flash_args"] = ["--flash-mode", "QIO", "--flash_size", "4mb", "--flash-freq", "80m"]
        args["partition_table"] = args.pop("partition-table")
        args["app"]["encrypted"] = False  # a boolean, not the string ESP-IDF writes
        assert extra["chip"] == "esp32"

    flash_set = load_project(_build("idf5.4.1-esp32", tmp_path, oddly))
    assert (flash_set.flash_mode, flash_set.flash_size, flash_set.flash_freq) == ("qio", "4MB", "80m")
    assert (flash_set.after, flash_set.before, flash_set.chip, flash_set.stub) == \
        ("no-reset-stub", "no-reset-no-sync", "esp32", True)
    assert [f.name for f in flash_set.files] == ["bootloader", "partition-table", "app"]


def test_an_absolute_app_elf_from_another_machine_is_found_in_this_build_dir(tmp_path):
    build = _build("idf5.0.1-esp32", tmp_path)
    description = json.loads((build / "project_description.json").read_text())
    assert description["build_dir"] == "C:/Users/ADAM/praca_inzynierska_device/build"
    description["app_elf"] = "C:/Users/ADAM/praca_inzynierska_device/build/sub/app.elf"
    (build / "project_description.json").write_text(json.dumps(description))
    assert load_project(build).app_elf == build / "sub" / "app.elf"
    description["app_elf"] = "/elsewhere/app.elf"
    (build / "project_description.json").write_text(json.dumps(description))
    assert load_project(build).app_elf == build / "app.elf"


# -- what cannot be flashed here ------------------------------------------------------------


def test_an_encrypted_set_the_file_shows_cannot_be_written_is_refused_before_any_port(tmp_path):
    def on(chip, stub=True):
        return lambda a: a["extra_esptool_args"].update(chip=chip, stub=stub)

    _one_line_error(_build("idf4.4.3-esp32-encrypted", tmp_path / "a", on("esp8266")),
                    r"flasher_args.json: bootloader, partition-table, app marked encrypted, but the ESP8266 has no")
    _one_line_error(_build("idf4.4.3-esp32-encrypted", tmp_path / "b", on("esp32", False)),
                    r"with \"stub\": false; the ESP32's ROM loader cannot write encrypted")

    def misaligned(args):
        args["flash_files"]["0x20010"] = args["flash_files"].pop("0x20000")

    _one_line_error(_build("idf4.4.3-esp32-encrypted", tmp_path / "c", misaligned),
                    r"app at 0x20010 is marked encrypted; esp32 writes encrypted only at 32-byte aligned offsets")
    # The ESP32-S3's ROM loader does write encrypted: the real no-stub set loads.
    assert load_project(_build("idf5.0.2-esp32s3-encrypted-nostub", tmp_path / "d")).stub is False


def _run(monkeypatch, capfd, argv):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code = cli.main(argv)
    out, err = capfd.readouterr()
    return code, out, err


def test_an_encrypted_set_on_a_board_without_a_flash_encryption_key_is_one_line_error(monkeypatch, capfd, tmp_path):
    build = _build("idf4.4.3-esp32-encrypted", tmp_path)
    code, out, err = _run(monkeypatch, capfd, ["flash", "sim://esp32?name=public-encrypted", "--project", str(build)])
    assert code == 2
    assert "Traceback" not in out + err
    errors = [line for line in err.splitlines() if line.startswith("espmon: error:")]
    assert errors == ["espmon: error: writing the flash failed: Can't perform encrypted flash write, consult Flash "
                      "Encryption documentation for more information."]
    assert "Flash encryption key is not programmed." in out
    assert f"{build / 'flasher_args.json'}: bootloader, partition-table, app marked encrypted" in out


@pytest.mark.parametrize("name, board", [("idf6.0-esp32-hyphens-storage", "esp32"), ("idf5.2.2-esp32s3", "esp32s3")])
def test_a_real_set_flashes_on_the_virtual_board(name, board, monkeypatch, capfd, tmp_path):
    build = _build(name, tmp_path)
    code, out, err = _run(monkeypatch, capfd, ["flash", f"sim://{board}?name=public-{board}", "--project", str(build)])
    assert code == 0, err
    count = len(EXPECTED[name][0])
    assert out.count("Hash of data verified.") == count
    assert f"flashed {count} image(s), {count * 4096:,} bytes" in out


def test_after_no_reset_from_the_file_is_obeyed_and_said(monkeypatch, capfd, tmp_path):
    build = _build("idf5.4.1-esp32", tmp_path, lambda a: a["extra_esptool_args"].__setitem__("after", "no_reset"))
    code, out, err = _run(monkeypatch, capfd, ["flash", "sim://esp32?name=public-no-reset", "--project", str(build)])
    assert code == 0, err
    assert "Hard resetting" not in out
    assert f"the chip was not reset (--after no-reset, from {build / 'flasher_args.json'})" in out


# -- malformed files --------------------------------------------------------------------------


def test_a_missing_image_is_named(tmp_path):
    build = _build("idf6.0-esp32-hyphens-storage", tmp_path)
    (build / "storage.bin").unlink()
    _one_line_error(build, r"flasher_args.json: flash_files names storage.bin at 0x3e0000, which is not in ")


def test_a_directory_without_flasher_args_json(tmp_path):
    _one_line_error(tmp_path, r"no flasher_args.json \(expected an ESP-IDF build directory")


def test_truncated_json_names_the_line(tmp_path):
    build = _build("idf5.4.1-esp32", tmp_path)
    text = (SAMPLES / "idf5.4.1-esp32" / "flasher_args.json").read_text()
    (build / "flasher_args.json").write_text(text[: len(text) // 2])
    _one_line_error(build, r"flasher_args.json:1[0-9]: not JSON \(")


@pytest.mark.parametrize("content, pattern", [
    (b"\x7fELF\x01\x01\x01\x00\xff\xfe", r"flasher_args.json: byte 8: not UTF-8 text \(expected JSON\)"),
    (b"write_flash_args = dio\n", r"flasher_args.json:1: not JSON \(Expecting value at column 1\)"),
    (b"[1, 2]", r"flasher_args.json: expected a JSON object, found a list"),
])
def test_a_file_that_is_not_a_json_object(content, pattern, tmp_path):
    (tmp_path / "flasher_args.json").write_bytes(content)
    _one_line_error(tmp_path, pattern)


def _set(path, value):
    def edit(args):
        table = args
        for key in path[:-1]:
            table = table[key]
        if value is KeyError:
            del table[path[-1]]
        else:
            table[path[-1]] = value
    return edit


@pytest.mark.parametrize("path, value, pattern", [
    (("flash_files",), KeyError, r"no 'flash_files'; expected an object of offset -> image file"),
    (("flash_files",), ["0x1000", "bootloader.bin"], r"'flash_files' is a list; expected an object of offset"),
    (("flash_files",), {}, r"'flash_files' is empty; expected an object of offset"),
    (("flash_files", "0x10000"), 42, r"flash_files\['0x10000'\] is a number; expected an image file name"),
    (("flash_files", "0xZZ"), "practice.bin", r"flash_files offset '0xZZ' \(for 'practice.bin'\) is not an address"),
    (("flash_settings",), "dio", r"'flash_settings' is a string; expected an object of flash_mode, flash_size"),
    (("flash_settings", "flash_mode"), "quad", r"flash_settings.flash_mode is 'quad'; expected one of keep, qio"),
    (("flash_settings", "flash_size"), 4, r"flash_settings.flash_size is a number; expected keep, detect or a size"),
    (("flash_settings", "flash_freq"), "fast", r"flash_settings.flash_freq is 'fast'; expected keep or a frequency"),
    (("write_flash_args",), "--flash_mode dio", r"'write_flash_args' is a string; expected a list of esptool"),
    (("extra_esptool_args",), ["hard_reset"], r"'extra_esptool_args' is a list; expected an object of after"),
    (("extra_esptool_args", "after"), "reboot", r"extra_esptool_args.after is 'reboot'; expected one of hard-reset"),
    (("extra_esptool_args", "before"), 1, r"extra_esptool_args.before is a number; expected one of default-reset"),
    (("extra_esptool_args", "stub"), "maybe", r"extra_esptool_args.stub is 'maybe'; expected true or false"),
    (("extra_esptool_args", "chip"), ["esp32"], r"extra_esptool_args.chip is a list; expected a chip name"),
    (("app", "encrypted"), "perhaps", r"flasher_args.json: app.encrypted is 'perhaps'; expected true or false"),
])
def test_wrong_types_and_values_name_the_file_the_key_and_what_was_expected(path, value, pattern, tmp_path):
    build = _build("idf5.4.1-esp32", tmp_path, _set(path, value))
    assert str(build) in _one_line_error(build, pattern)


def test_two_images_at_one_offset(tmp_path):
    build = _build("idf5.4.1-esp32", tmp_path, _set(("flash_files", "65536"), "practice.bin"))
    _one_line_error(build, r"puts practice.bin and practice.bin both at 0x10000; expected one image per offset")


@pytest.mark.parametrize("content, pattern", [
    ('{"app_elf": "x.elf",', r"project_description.json:1: not JSON"),
    ('{"app_elf": 7}', r"project_description.json: app_elf is a number; expected the app's ELF file name"),
    ('{"target": ["esp32"]}', r"project_description.json: target is a list; expected a chip name"),
    ('"esp32"', r"project_description.json: expected a JSON object, found a string"),
])
def test_a_malformed_project_description_is_named(content, pattern, tmp_path):
    build = _build("idf5.4.1-esp32", tmp_path)
    (build / "project_description.json").write_text(content)
    _one_line_error(build, pattern)
