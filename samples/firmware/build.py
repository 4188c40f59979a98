#!/usr/bin/env python3
"""Build the sample firmware: a real app, 2nd-stage bootloader and partition table per chip.

    python samples/firmware/build.py [--chip esp32 ...] [--out DIR]

Needs Debian's riscv64-unknown-elf-gcc and xtensa-lx106-elf-gcc (with their binutils)
and esptool 5 in the running Python. Writes ``<out>/<chip>/`` (default: next to this
script) and ``<out>/frames.json``: each panic frame of the vboard record with what GNU
addr2line says about it, the reference that tests compare espmon's symbolizer with.

Two links per app: the first one is disassembled to find the faulting store and the
return addresses of the crash chain and read their stack frame sizes from the CFI; the
second one bakes those numbers into the vboard record (data only, the code is unchanged,
which is checked).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHAIN = ("crash_here", "do_work", "app_main", "main_task")  # innermost first
CFLAGS = ["-O1", "-g", "-ffreestanding", "-fno-builtin", "-nostdlib", "-fno-common",
          "-Wall", "-Wextra", "-Werror", f"-fdebug-prefix-map={HERE}=."]
XTENSA_FLAGS = ["-mlongcalls", "-mtext-section-literals"]
DWARF4_COPY = ("esp32c3",)  # also ship app-dwarf4.elf: DWARF 4 as older toolchains emit it
PARTITIONS = (  # ESP-IDF's "single factory app" table: name, type, subtype, offset, size
    ("nvs", 0x01, 0x02, 0x9000, 0x6000),
    ("phy_init", 0x01, 0x01, 0xF000, 0x1000),
    ("factory", 0x00, 0x00, 0x10000, 0x100000),
)


@dataclass(frozen=True)
class Target:
    chip: str
    name: str  # as the app prints it
    arch: str  # "riscv" or "xtensa" (always compiled by the LX106 compiler)
    march: tuple[str, ...]
    uart0: int
    stack_top: int  # initial SP of the main task, in DRAM
    flash_freq: str
    bootloader_offset: int | None  # None: no 2nd-stage bootloader (ESP8266 v1 image)

    @property
    def prefix(self) -> str:
        return "riscv64-unknown-elf-" if self.arch == "riscv" else "xtensa-lx106-elf-"


TARGETS = {t.chip: t for t in (
    Target("esp32", "ESP32", "xtensa", (), 0x3FF40000, 0x3FFB6000, "40m", 0x1000),
    Target("esp32s2", "ESP32-S2", "xtensa", (), 0x3F400000, 0x3FFCA000, "80m", 0x1000),
    Target("esp32s3", "ESP32-S3", "xtensa", (), 0x60000000, 0x3FC9A000, "80m", 0x0),
    Target("esp32c3", "ESP32-C3", "riscv", ("-march=rv32imc", "-mabi=ilp32"),
           0x60000000, 0x3FC8F400, "80m", 0x0),
    Target("esp32c6", "ESP32-C6", "riscv", ("-march=rv32imac", "-mabi=ilp32"),
           0x60000000, 0x4081A000, "80m", 0x0),
    Target("esp8266", "ESP8266", "xtensa", (), 0x60000000, 0x3FFFFFB0, "40m", None),
)}


def run(cmd: list[str], **kwargs) -> str:
    done = subprocess.run(cmd, cwd=HERE, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        sys.exit(f"build.py: command failed: {' '.join(cmd)}\n{done.stdout}{done.stderr}")
    return done.stdout


def compile_and_link(t: Target, sources: list[str], script: str, elf: Path,
                     defines: dict[str, str], extra: tuple[str, ...] = ()) -> None:
    flags = [*CFLAGS, *extra, *t.march, *(XTENSA_FLAGS if t.arch == "xtensa" else ()),
             f'-DCHIP_NAME="{t.name}"', f"-DUART0_BASE={t.uart0:#x}u",
             *(f"-D{k}={v}" for k, v in sorted(defines.items()))]
    objects = []
    for src in sources:
        obj = elf.with_name(f"{elf.stem}-{Path(src).stem}.o")
        run([f"{t.prefix}gcc", *flags, "-c", src, "-o", str(obj)])
        objects.append(str(obj))
    run([f"{t.prefix}gcc", *flags, "-nostartfiles", "-Lld", f"-Tld/{script}",
         *objects, "-lgcc", "-o", str(elf)])


# --- reading the first link ---------------------------------------------------------

_FUNC = re.compile(r"^([0-9a-f]+) <(\w+)>:$")


def disassemble(t: Target, elf: Path) -> dict[str, list[tuple[int, str, str]]]:
    """function name -> [(address, mnemonic, operands)] of its instructions."""
    funcs: dict[str, list[tuple[int, str, str]]] = {}
    current: list[tuple[int, str, str]] | None = None
    for line in run([f"{t.prefix}objdump", "-d", "--no-show-raw-insn", str(elf)]).splitlines():
        if m := _FUNC.match(line):
            current = funcs.setdefault(m.group(2), [])
        elif current is not None and (m := re.match(r"^\s*([0-9a-f]+):\s+([a-z][\w.]*)\s*(.*)$", line)):
            current.append((int(m.group(1), 16), m.group(2), m.group(3)))
        elif not line.strip():
            current = None
    return funcs


def fault_pc(t: Target, insns: list[tuple[int, str, str]]) -> int:
    """The store through the NULL pointer: the first store not relative to the stack pointer."""
    stores = ("sw", "c.sw") if t.arch == "riscv" else ("s32i", "s32i.n")
    for addr, mnem, ops in insns:
        if mnem in stores and not re.search(r"\(sp\)|, a1, ", ops):
            return addr
    sys.exit(f"build.py: {t.chip}: no NULL store found in crash_here")


def return_address(t: Target, insns: list[tuple[int, str, str]], callee: str) -> int:
    """Address of the instruction after the call to ``callee`` (what RA/a0 holds)."""
    for i, (_addr, mnem, ops) in enumerate(insns):
        if mnem in ("jal", "jalr", "call0", "callx0", "c.jal") and f"<{callee}>" in ops:
            return insns[i + 1][0]
    sys.exit(f"build.py: {t.chip}: no call to {callee} found")


def cfa_rule(elf: Path, pc: int) -> tuple[int, int, dict[int, int]]:
    """(CFA register, CFA offset, {register: offset from CFA}) of the CFI row covering pc."""
    from elftools.dwarf.callframe import FDE
    from elftools.elf.elffile import ELFFile

    with open(elf, "rb") as f:
        dwarf = ELFFile(f).get_dwarf_info()
        for entry in dwarf.CFI_entries():
            if not isinstance(entry, FDE):
                continue
            start = entry["initial_location"]
            if not start <= pc < start + entry["address_range"]:
                continue
            row = [r for r in entry.get_decoded().table if r["pc"] <= pc][-1]
            saved = {reg: rule.arg for reg, rule in row.items()
                     if isinstance(reg, int) and rule.type == "OFFSET"}
            return row["cfa"].reg, row["cfa"].offset, saved
    sys.exit(f"build.py: {elf.name}: no CFI covers {pc:#x}")


def vboard_frames(t: Target, elf: Path) -> tuple[dict[str, str], list[tuple[int, int]]]:
    """The -D values for app_desc.c and the [(pc, sp)] they produce."""
    funcs = disassemble(t, elf)
    starts = {name: insns[0][0] for name, insns in funcs.items() if insns}
    pcs = [fault_pc(t, funcs[CHAIN[0]])]
    pcs += [return_address(t, funcs[caller], callee) for callee, caller in zip(CHAIN, CHAIN[1:])]
    sp_reg, ra_reg = (2, 1) if t.arch == "riscv" else (1, 0)
    sizes = []
    for i, pc in enumerate(pcs):
        reg, offset, saved = cfa_rule(elf, pc if i == 0 else pc - 1)
        if reg != sp_reg:
            sys.exit(f"build.py: {t.chip}: CFA of {CHAIN[i]} is not SP-based")
        if ra_reg in saved and saved[ra_reg] != -4:
            sys.exit(f"build.py: {t.chip}: {CHAIN[i]} saves RA at CFA{saved[ra_reg]}, not CFA-4")
        sizes.append(offset)
    sps = [0] * len(pcs)
    sp = t.stack_top
    for i in reversed(range(len(pcs))):
        sp -= sizes[i]  # CFA of frame i == SP of its caller
        sps[i] = sp
    defines = {}
    for i, (name, pc) in enumerate(zip(CHAIN, pcs)):
        defines[f"VB_PC{i}_OFF"] = f"{pc - starts[name]:#x}"
        defines[f"VB_SP{i}"] = f"{sps[i]:#x}u"
    return defines, list(zip(pcs, sps))


def section_bytes(elf: Path, names: tuple[str, ...]) -> bytes:
    from elftools.elf.elffile import ELFFile

    with open(elf, "rb") as f:
        e = ELFFile(f)
        return b"".join(e.get_section_by_name(n).data() for n in names if e.get_section_by_name(n))


def read_vboard(data: bytes) -> list[tuple[int, int]]:
    at = data.index(b"VBOARD1\0")
    n = struct.unpack_from("<I", data, at + 8)[0]
    return [struct.unpack_from("<II", data, at + 12 + 8 * i) for i in range(n)]


# --- images -------------------------------------------------------------------------

def esptool(*args: str) -> None:
    run([sys.executable, "-m", "esptool", *args])


def partition_table() -> bytes:
    """ESP-IDF's binary partition table: 32-byte entries, an MD5 entry, 0xFF to 0xC00."""
    table = b"".join(struct.pack("<2sBBII16sI", b"\xAA\x50", ptype, subtype, offset, size,
                                 name.encode(), 0)
                     for name, ptype, subtype, offset, size in PARTITIONS)
    table += b"\xEB\xEB" + b"\xFF" * 14 + hashlib.md5(table).digest()
    return table + b"\xFF" * (0xC00 - len(table))


def addr2line(t: Target, elf: Path, address: int) -> list[dict[str, object]]:
    out = run([f"{t.prefix}addr2line", "-fi", "-e", str(elf), f"{address:#x}"]).splitlines()
    frames = []
    for i in range(0, len(out), 2):
        file, _, line = out[i + 1].rpartition(":")
        line = line.split()[0]
        frames.append({"function": out[i], "file": file.removeprefix("./"),
                       "line": int(line) if line.isdigit() else None, "inlined": i + 2 < len(out)})
    return frames


def backtrace_pc(t: Target, index: int, pc: int) -> int:
    """What the panic prints for the frame: ESP-IDF's Xtensa backtrace subtracts 3 from
    every PC (call-site PCs); RISC-V prints MEPC, and RA / the stack hold return addresses."""
    return pc - 3 if t.arch == "xtensa" else pc


def lookup_address(t: Target, index: int, pc: int) -> int:
    """The address whose line is the frame's line: the fault PC, else inside the call."""
    if index == 0:
        return pc
    return pc - 3 if t.arch == "xtensa" else pc - 1


def build_chip(t: Target, out: Path, work: Path) -> dict[str, object]:
    dest = out / t.chip
    dest.mkdir(parents=True, exist_ok=True)
    app_sources = ["src/app.c", "src/app_desc.c"]
    first = work / "first.elf"
    compile_and_link(t, app_sources, f"{t.chip}.app.ld", first, {})
    defines, frames = vboard_frames(t, first)
    elf = work / "app.elf"
    compile_and_link(t, app_sources, f"{t.chip}.app.ld", elf, defines)
    code = (".flash.text", ".iram0.text", ".irom0.text", ".text")
    if section_bytes(first, code) != section_bytes(elf, code):
        sys.exit(f"build.py: {t.chip}: code changed between the two links")
    if read_vboard(section_bytes(elf, (".flash.rodata", ".irom0.rodata"))) != frames:
        sys.exit(f"build.py: {t.chip}: vboard record does not hold the measured frames")
    shutil.copyfile(elf, dest / "app.elf")
    if t.chip in DWARF4_COPY:  # the same app with DWARF 4 debug info, for symbolizer tests
        dwarf4 = work / "app-dwarf4.elf"
        compile_and_link(t, app_sources, f"{t.chip}.app.ld", dwarf4, defines, ("-gdwarf-4",))
        if section_bytes(dwarf4, code) != section_bytes(elf, code):
            sys.exit(f"build.py: {t.chip}: -gdwarf-4 changed the code")
        shutil.copyfile(dwarf4, dest / "app-dwarf4.elf")
    size = ["--flash-size", "2MB", "--flash-freq", t.flash_freq]

    if t.bootloader_offset is None:  # ESP8266: the ROM boots a version 1 image at 0x0
        esptool("--chip", t.chip, "elf2image", "--flash-mode", "dio", *size,
                "-o", str(dest / "app-"), str(dest / "app.elf"))
        irom = dest / "app-0x10000.bin"
        data = bytearray(irom.read_bytes())  # app_elf_sha256, as esptool does for ESP32 images
        data[0x90:0xB0] = hashlib.sha256((dest / "app.elf").read_bytes()).digest()
        irom.write_bytes(bytes(data))
        parts = [(0x0, "app-0x00000.bin"), (0x10000, "app-0x10000.bin")]
    else:
        boot = work / "bootloader.elf"
        compile_and_link(t, ["src/bootloader.c"], f"{t.chip}.bootloader.ld", boot, {})
        shutil.copyfile(boot, dest / "bootloader.elf")
        (dest / "partition-table.bin").write_bytes(partition_table())
        variants = [("dio", "")] + ([("qio", "-qio")] if t.chip == "esp32" else [])
        for mode, suffix in variants:
            for name in ("bootloader", "app"):
                esptool("--chip", t.chip, "elf2image", "--flash-mode", mode, *size,
                        "-o", str(dest / f"{name}{suffix}.bin"), str(dest / f"{name}.elf"))
            if suffix:
                esptool("--chip", t.chip, "merge-bin", "-o", str(dest / f"merged{suffix}.bin"),
                        f"{t.bootloader_offset:#x}", str(dest / f"bootloader{suffix}.bin"),
                        "0x8000", str(dest / "partition-table.bin"),
                        "0x10000", str(dest / f"app{suffix}.bin"))
        parts = [(t.bootloader_offset, "bootloader.bin"), (0x8000, "partition-table.bin"),
                 (0x10000, "app.bin")]
    esptool("--chip", t.chip, "merge-bin", "-o", str(dest / "merged.bin"),
            *(str(x) for offset, name in parts for x in (f"{offset:#x}", dest / name)))
    lines = [f"--flash-mode dio --flash-freq {t.flash_freq} --flash-size 2MB"]
    lines += [f"{offset:#x} {name}" for offset, name in parts]
    (dest / "flash_args").write_text("\n".join(lines) + "\n")

    return {
        "chip": t.chip, "arch": t.arch, "elf": f"{t.chip}/app.elf", "fault_addr": 0,
        "frames": [{
            "function": CHAIN[i], "pc": f"{pc:#010x}", "sp": f"{sp:#010x}",
            "backtrace_pc": f"{backtrace_pc(t, i, pc):#010x}",
            "lookup": f"{lookup_address(t, i, pc):#010x}",
            "addr2line": addr2line(t, dest / "app.elf", lookup_address(t, i, pc)),
        } for i, (pc, sp) in enumerate(frames)],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chip", action="append", choices=sorted(TARGETS),
                        help="build only this chip (repeatable); default: all")
    parser.add_argument("--out", type=Path, default=HERE, help="output directory")
    args = parser.parse_args(argv)
    chips = args.chip or list(TARGETS)
    missing = sorted({f"{TARGETS[c].prefix}gcc" for c in chips} - {
        p for p in (f"{TARGETS[c].prefix}gcc" for c in chips) if shutil.which(p)})
    if missing:
        sys.exit(f"build.py: not found on PATH: {', '.join(missing)} "
                 "(apt-get install gcc-riscv64-unknown-elf gcc-xtensa-lx106)")
    out = args.out.resolve()
    manifest_path = out / "frames.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    for chip in chips:
        with tempfile.TemporaryDirectory(prefix=f"fw-{chip}-") as work:
            manifest[chip] = build_chip(TARGETS[chip], out, Path(work))
        print(f"built {chip}: {', '.join(sorted(p.name for p in (out / chip).iterdir()))}")
    ordered = {c: manifest[c] for c in TARGETS if c in manifest}
    manifest_path.write_text(json.dumps(ordered, indent=1) + "\n")
    if out == HERE:  # the ESP-IDF style build directories of samples/project/
        subprocess.run([sys.executable, str(HERE / "make_project.py")], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
