"""The committed sample firmware: esptool accepts it and it holds what the board reads."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile
from esptool.bin_image import LoadFirmwareImage
from esptool.cmds import image_info

FIRMWARE = Path(__file__).resolve().parent.parent / "samples" / "firmware"
CHIPS = ("esp32", "esp32s2", "esp32s3", "esp32c3", "esp32c6", "esp8266")
ESP32_FAMILY = CHIPS[:-1]
BOOTLOADER_OFFSET = {"esp32": 0x1000, "esp32s2": 0x1000, "esp32s3": 0x0, "esp32c3": 0x0,
                     "esp32c6": 0x0}
BOOTLOADER_LOADS = {  # the load: lines a real ESP-IDF bootloader makes the ROM print, DRAM first
    "esp32": (0x3FFF0030, 0x40078000, 0x40080400),
    "esp32s2": (0x3FFE6100, 0x4004C000, 0x40050000),
    "esp32s3": (0x3FCE3818, 0x403C9700, 0x403CC700),
    "esp32c3": (0x3FCD5820, 0x403CC710, 0x403CE710),
    "esp32c6": (0x40875728, 0x4086C410, 0x4086E610),
}
CHIP_TEXT = {"esp32": "ESP32", "esp32s2": "ESP32-S2", "esp32s3": "ESP32-S3",
             "esp32c3": "ESP32-C3", "esp32c6": "ESP32-C6", "esp8266": "ESP8266"}
DRAM = {"esp32": (0x3FFAE000, 0x40000000), "esp32s2": (0x3FFB0000, 0x40000000),
        "esp32s3": (0x3FC88000, 0x3FD00000), "esp32c3": (0x3FC80000, 0x3FCE0000),
        "esp32c6": (0x40800000, 0x40880000), "esp8266": (0x3FFE8000, 0x40000000)}
APP_DESC = struct.Struct("<II8s32s32s16s16s32s32sHHB3s72s")


def images(chip: str) -> list[Path]:
    d = FIRMWARE / chip
    if chip == "esp8266":
        return [d / "app-0x00000.bin"]
    names = ["app.bin", "bootloader.bin"]
    if chip == "esp32":
        names += ["app-qio.bin", "bootloader-qio.bin"]
    return [d / n for n in names]


def flash_args(chip: str) -> list[tuple[int, Path]]:
    lines = (FIRMWARE / chip / "flash_args").read_text().splitlines()
    assert lines[0].startswith("--flash-mode dio ")
    return [(int(off, 16), FIRMWARE / chip / name) for off, name in (ln.split() for ln in lines[1:])]


def flash(chip: str) -> dict[int, bytes]:
    """vaddr -> bytes of every flash-mapped or loaded segment of the app."""
    if chip == "esp8266":
        image = LoadFirmwareImage(chip, str(FIRMWARE / chip / "app-0x00000.bin"))
        segs = {s.addr: s.data for s in image.segments}
        segs[0x40210000] = (FIRMWARE / chip / "app-0x10000.bin").read_bytes()
        return segs
    image = LoadFirmwareImage(chip, str(FIRMWARE / chip / "app.bin"))
    return {s.addr: s.data for s in image.segments}


def read_vaddr(segments: dict[int, bytes], vaddr: int, size: int) -> bytes:
    for addr, data in segments.items():
        if addr <= vaddr and vaddr + size <= addr + len(data):
            return data[vaddr - addr:vaddr - addr + size]
    raise AssertionError(f"{vaddr:#x} is in no segment")


def vboard_record(chip: str) -> tuple[list[tuple[int, int]], int, int]:
    blob = b"".join(flash(chip).values())
    at = blob.index(b"VBOARD1\0")
    n = struct.unpack_from("<I", blob, at + 8)[0]
    frames = [struct.unpack_from("<II", blob, at + 12 + 8 * i) for i in range(n)]
    fault, log_vaddr = struct.unpack_from("<II", blob, at + 12 + 64)
    return frames, fault, log_vaddr


def functions(elf_path: Path) -> dict[str, tuple[int, int]]:
    with open(elf_path, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        return {s.name: (s["st_value"], s["st_value"] + s["st_size"])
                for s in symtab.iter_symbols() if s["st_info"]["type"] == "STT_FUNC"}


@pytest.mark.parametrize("image", [p for c in CHIPS for p in images(c)],
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_image_info_accepts_image(image: Path) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        image_info(str(image))
    text = out.getvalue()
    assert "(invalid)" not in text
    assert "Checksum:" in text and "(valid)" in text
    assert f"Detected image type: {CHIP_TEXT[image.parent.name]}" in text
    if image.name.startswith("app") and image.parent.name != "esp8266":
        assert "Project name: espmon-demo" in text
    mode = "QIO" if "qio" in image.name else "DIO"
    assert f"Flash mode: {mode}" in text


@pytest.mark.parametrize("chip", CHIPS)
def test_app_descriptor_at_0x20(chip: str) -> None:
    if chip == "esp8266":  # no image header in the flash-mapped part: the descriptor leads it
        desc = (FIRMWARE / chip / "app-0x10000.bin").read_bytes()[:256]
    else:
        desc = (FIRMWARE / chip / "app.bin").read_bytes()[0x20:0x120]
    (magic, _secure, _r1, version, project, time, date, idf, sha, *_rest) = APP_DESC.unpack(desc)
    assert magic == 0xABCD5432
    assert project.rstrip(b"\0") == b"espmon-demo"
    assert version.rstrip(b"\0") == b"1.0.0"
    assert (time.rstrip(b"\0"), date.rstrip(b"\0")) == (b"12:00:00", b"Jan  1 2024")
    assert idf.rstrip(b"\0") == b"v5.2.1"
    assert sha == hashlib.sha256((FIRMWARE / chip / "app.elf").read_bytes()).digest()


@pytest.mark.parametrize("chip", CHIPS)
def test_vboard_record_points_into_real_functions(chip: str) -> None:
    frames, fault, log_vaddr = vboard_record(chip)
    funcs = functions(FIRMWARE / chip / "app.elf")
    chain = ("crash_here", "do_work", "app_main", "main_task")
    assert len(frames) == len(chain)
    for (pc, sp), name in zip(frames, chain):
        lo, hi = funcs[name]
        assert lo < pc < hi, f"{name}: {pc:#x} not inside [{lo:#x}, {hi:#x})"
        assert DRAM[chip][0] <= sp < DRAM[chip][1] and sp % 16 == 0
    sps = [sp for _pc, sp in frames]
    assert sps == sorted(sps), "the stack grows down: callers have higher SPs"
    assert fault == 0
    manifest = json.loads((FIRMWARE / "frames.json").read_text())[chip]["frames"]
    assert [(int(f["pc"], 16), int(f["sp"], 16)) for f in manifest] == frames

    segments = flash(chip)
    blob = read_vaddr(segments, log_vaddr, 64)
    lines = []
    while True:  # NUL-separated lines ending in an empty one
        end = blob.index(b"\0")
        if end == 0:
            break
        lines.append(blob[:end].decode())
        log_vaddr += end + 1
        blob = read_vaddr(segments, log_vaddr, min(128, max(1, _room(segments, log_vaddr))))
    assert lines[0] == f"I (312) demo: hello from espmon-demo on {CHIP_TEXT[chip]}"
    assert len(lines) == 4 and all(line[0] in "IWE" for line in lines)


def _room(segments: dict[int, bytes], vaddr: int) -> int:
    for addr, data in segments.items():
        if addr <= vaddr < addr + len(data):
            return addr + len(data) - vaddr
    return 0


@pytest.mark.parametrize("chip", CHIPS)
def test_merged_bin_matches_flash_args(chip: str) -> None:
    merged = (FIRMWARE / chip / "merged.bin").read_bytes()
    parts = flash_args(chip)
    expected_offsets = ([(0x0, "app-0x00000.bin"), (0x10000, "app-0x10000.bin")]
                        if chip == "esp8266" else
                        [(BOOTLOADER_OFFSET[chip], "bootloader.bin"),
                         (0x8000, "partition-table.bin"), (0x10000, "app.bin")])
    assert [(off, p.name) for off, p in parts] == expected_offsets
    covered = bytearray(b"\xff" * len(merged))
    for offset, path in parts:
        data = path.read_bytes()
        assert merged[offset:offset + len(data)] == data, path.name
        covered[offset:offset + len(data)] = data
    assert bytes(covered) == merged, "bytes outside the parts are 0xFF padding"
    assert len(merged) == parts[-1][0] + parts[-1][1].stat().st_size


def test_esp32_qio_variant_differs_only_in_flash_mode() -> None:
    d = FIRMWARE / "esp32"
    for name in ("app", "bootloader"):
        dio = LoadFirmwareImage("esp32", str(d / f"{name}.bin"))
        qio = LoadFirmwareImage("esp32", str(d / f"{name}-qio.bin"))
        assert (dio.flash_mode, qio.flash_mode) == (2, 0)
        assert [(s.addr, s.data) for s in dio.segments] == [(s.addr, s.data) for s in qio.segments]
    merged = (d / "merged-qio.bin").read_bytes()
    app = (d / "app-qio.bin").read_bytes()
    assert merged[0x10000:0x10000 + len(app)] == app
    boot = (d / "bootloader-qio.bin").read_bytes()
    assert merged[0x1000:0x1000 + len(boot)] == boot and boot[2] == 0  # header byte 2: QIO


@pytest.mark.parametrize("chip", ESP32_FAMILY)
def test_partition_table(chip: str) -> None:
    table = (FIRMWARE / chip / "partition-table.bin").read_bytes()
    assert len(table) == 0xC00
    entries = []
    pos = 0
    while table[pos:pos + 2] == b"\xaa\x50":
        _magic, ptype, subtype, offset, size, label, flags = struct.unpack_from(
            "<2sBBII16sI", table, pos)
        entries.append((label.rstrip(b"\0").decode(), ptype, subtype, offset, size, flags))
        pos += 32
    assert entries == [("nvs", 1, 2, 0x9000, 0x6000, 0), ("phy_init", 1, 1, 0xF000, 0x1000, 0),
                       ("factory", 0, 0, 0x10000, 0x100000, 0)]
    assert table[pos:pos + 16] == b"\xeb\xeb" + b"\xff" * 14
    assert table[pos + 16:pos + 32] == hashlib.md5(table[:pos]).digest()
    assert table[pos + 32:] == b"\xff" * (0xC00 - pos - 32)


@pytest.mark.parametrize("chip", ESP32_FAMILY)
def test_bootloader_loads_at_real_addresses(chip: str) -> None:
    image = LoadFirmwareImage(chip, str(FIRMWARE / chip / "bootloader.bin"))
    addrs = [s.addr for s in image.segments]
    assert sorted(addrs) == sorted(BOOTLOADER_LOADS[chip])
    assert addrs[0] == BOOTLOADER_LOADS[chip][0], "the DRAM segment (descriptor) comes first"
    assert image.segments[0].data[0] == 0x50, "esp_bootloader_desc_t leads the first segment"
    assert any(s.addr <= image.entrypoint < s.addr + len(s.data) for s in image.segments)


@pytest.mark.slow
def test_rebuild_is_reproducible(tmp_path: Path) -> None:
    if not (shutil.which("riscv64-unknown-elf-gcc") and shutil.which("xtensa-lx106-elf-gcc")):
        pytest.skip("cross compilers not installed (apt-get install gcc-riscv64-unknown-elf "
                    "gcc-xtensa-lx106)")
    done = subprocess.run([sys.executable, str(FIRMWARE / "build.py"), "--out", str(tmp_path)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    built = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    committed = [p.relative_to(FIRMWARE) for c in CHIPS for p in (FIRMWARE / c).iterdir()]
    assert built == sorted(committed + [Path("frames.json")])
    for rel in built:
        assert (tmp_path / rel).read_bytes() == (FIRMWARE / rel).read_bytes(), str(rel)
