"""espmon.elf.symbols against the sample firmware: addr2line's answers, with no toolchain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from elftools.dwarf.callframe import FDE
from elftools.elf.elffile import ELFFile

from espmon.elf.symbols import Location, Symbolizer, unwind_riscv
from espmon.errors import UserError

FIRMWARE = Path(__file__).resolve().parent.parent / "samples" / "firmware"
MANIFEST = json.loads((FIRMWARE / "frames.json").read_text())
CHIPS = list(MANIFEST)
RISCV = [c for c in CHIPS if MANIFEST[c]["arch"] == "riscv"]
XTENSA = [c for c in CHIPS if MANIFEST[c]["arch"] == "xtensa"]
# What a decoded backtrace of the sample app must show (samples/firmware/README.md).
EXPECTED = [
    [("store_reading", "src/app.c", 26, True), ("crash_here", "src/app.c", 32, False)],
    [("do_work", "src/app.c", 38, False)],
    [("app_main", "src/app.c", 46, False)],
    [("main_task", "src/app.c", 70, False)],
]


def elf(chip: str, name: str = "app.elf") -> str:
    return str(FIRMWARE / chip / name)


def frames(chip: str) -> list[tuple[int, int]]:
    return [(int(f["pc"], 16), int(f["sp"], 16)) for f in MANIFEST[chip]["frames"]]


def shape(locations: list[Location]) -> list[tuple[str | None, str | None, int | None, bool]]:
    return [(loc.function, loc.file, loc.line, loc.inlined) for loc in locations]


@pytest.fixture(scope="module", params=CHIPS)
def chip_symbolizer(request):
    with Symbolizer([elf(request.param)]) as sym:
        yield request.param, sym


def test_every_panic_frame_decodes_like_addr2line(chip_symbolizer) -> None:
    chip, sym = chip_symbolizer
    for i, frame in enumerate(MANIFEST[chip]["frames"]):
        address = int(frame["lookup"], 16)
        got = sym.lookup(address)
        reference = [(a["function"], a["file"], a["line"], a["inlined"]) for a in frame["addr2line"]]
        assert shape(got) == reference == EXPECTED[i], f"{chip} frame {i} at {address:#x}"
        assert all(loc.address == address and loc.elf == elf(chip) for loc in got)


def test_return_addresses_decode_to_the_call_line(chip_symbolizer) -> None:
    chip, sym = chip_symbolizer
    for i, (pc, _sp) in enumerate(frames(chip)[1:], start=1):
        got = sym.lookup_return_address(pc)
        assert shape(got) == EXPECTED[i]
        assert got[0].address == pc


def test_function_name_and_in_code(chip_symbolizer) -> None:
    chip, sym = chip_symbolizer
    names = ["crash_here", "do_work", "app_main", "main_task"]
    for (pc, sp), name in zip(frames(chip), names):
        assert sym.in_code(pc) and sym.function_name(pc) == name
        assert not sym.in_code(sp)
    assert sym.function_name(0x3FF00000) is None


@pytest.mark.parametrize("chip", XTENSA)
def test_xtensa_printed_pcs_and_windowed_return_addresses(chip: str) -> None:
    with Symbolizer([elf(chip)]) as sym:
        for i, frame in enumerate(MANIFEST[chip]["frames"]):
            # ESP-IDF prints pc - 3 for every frame, the faulting one included
            assert shape(sym.lookup(int(frame["backtrace_pc"], 16))) == EXPECTED[i]
        for i, (pc, _sp) in enumerate(frames(chip)[1:], start=1):
            for window in (0x80000000, 0xC0000000):  # A0 as call8 / call12 leave it
                raw = window | (pc & 0x3FFFFFFF)
                assert sym.in_code(raw)
                got = sym.lookup(raw)
                assert shape(got) == EXPECTED[i] and got[0].address == raw
                assert shape(sym.lookup_return_address(raw)) == EXPECTED[i]


@pytest.mark.parametrize("chip", RISCV)
def test_windowed_form_means_nothing_on_riscv(chip: str) -> None:
    with Symbolizer([elf(chip)]) as sym:
        pc = frames(chip)[1][0]
        raw = 0x80000000 | (pc & 0x3FFFFFFF)
        assert not sym.in_code(raw) and sym.lookup(raw) == []


@pytest.mark.parametrize("chip", CHIPS)
def test_addresses_outside_code_give_nothing(chip: str) -> None:
    with Symbolizer([elf(chip)]) as sym:
        _pc, sp = frames(chip)[0]
        with open(elf(chip), "rb") as f:
            e = ELFFile(f)
            desc = next(s for s in e.iter_sections() if s.name in (".flash.appdesc", ".irom0.rodata"))
            data = next(s for s in e.iter_sections() if s.name in (".dram0.data", ".data"))
            rodata_vaddr, data_vaddr = desc["sh_addr"], data["sh_addr"]
        for address in (0, 0x3, sp, rodata_vaddr, data_vaddr, 0x60000000, 0xFFFFFFFF, 0x40000000):
            assert not sym.in_code(address), hex(address)
            assert sym.lookup(address) == [], hex(address)


def test_lookups_are_cached_but_not_shared() -> None:
    with Symbolizer([elf("esp32c3")]) as sym:
        pc = frames("esp32c3")[0][0]
        first = sym.lookup(pc)
        first.clear()
        assert shape(sym.lookup(pc)) == EXPECTED[0]


def test_several_elfs_each_answer_for_their_code() -> None:
    paths = [elf("esp32c3"), elf("esp32c3", "bootloader.elf")]
    with Symbolizer(paths) as sym:
        assert sym.elf_paths == paths
        pc = frames("esp32c3")[0][0]
        assert [loc.elf for loc in sym.lookup(pc)] == [paths[0], paths[0]]
        with open(paths[1], "rb") as f:
            entry = ELFFile(f)["e_entry"]
        boot = sym.lookup(entry)
        assert [(loc.function, loc.file, loc.elf) for loc in boot] == [
            ("call_start_cpu0", "src/bootloader.c", paths[1])]
        assert sym.function_name(entry) == "call_start_cpu0"


@pytest.mark.parametrize("content, reason", [
    (b"hello world\n", "starts with b'hell'"),
    (b"", "empty file"),
    (b"\x7fELF" + b"\x01" * 12, None),  # an ELF identification and nothing behind it
])
def test_not_an_elf_is_one_line_user_error(tmp_path: Path, content: bytes, reason: str | None) -> None:
    bad = tmp_path / "app.elf"
    bad.write_bytes(content)
    with pytest.raises(UserError) as err:
        Symbolizer([elf("esp32"), bad])
    message = str(err.value)
    assert message.startswith(f"{bad}: not an ELF file (") and "\n" not in message
    if reason:
        assert reason in message


def test_missing_or_unreadable_file_is_user_error(tmp_path: Path) -> None:
    for path in (tmp_path / "missing.elf", tmp_path):
        with pytest.raises(UserError) as err:
            Symbolizer([path])
        assert str(err.value).startswith(f"{path}: cannot read: ")


def test_truncated_elf_is_user_error(tmp_path: Path) -> None:
    cut = tmp_path / "cut.elf"
    cut.write_bytes(Path(elf("esp32s3")).read_bytes()[:3000])
    with pytest.raises(UserError, match=r"cut\.elf: not an ELF file \("):
        Symbolizer([cut])


# --- RISC-V unwinding -----------------------------------------------------------------

def cfi_rule(path: str, pc: int) -> tuple[int, int, dict[int, int]]:
    """(CFA register, CFA offset, {register: offset from CFA}) straight from .debug_frame."""
    with open(path, "rb") as f:
        for entry in ELFFile(f).get_dwarf_info().CFI_entries():
            if isinstance(entry, FDE):
                start = entry["initial_location"]
                if start <= pc < start + entry["address_range"]:
                    row = [r for r in entry.get_decoded().table if r["pc"] <= pc][-1]
                    saved = {reg: rule.arg for reg, rule in row.items()
                             if isinstance(reg, int) and rule.type == "OFFSET"}
                    return row["cfa"].reg, row["cfa"].offset, saved
    raise AssertionError(f"no FDE for {pc:#x}")


def dump_from_cfi(chip: str, size: int = 256) -> tuple[bytes, int]:
    """A stack dump holding, where each frame's CFI says RA was saved, its caller's PC."""
    chain = frames(chip)
    base = chain[0][1]
    stack = bytearray(b"\xa5" * size)  # FreeRTOS' stack fill: never code
    for i, (pc, sp) in enumerate(chain[:-1]):
        reg, offset, saved = cfi_rule(elf(chip), pc if i == 0 else pc - 1)
        assert reg == 2  # SP-based CFA
        assert sp + offset == chain[i + 1][1], "the record's SPs follow the CFI"
        if 1 in saved:  # RA saved in this frame (not a leaf)
            at = sp + offset + saved[1] - base
            stack[at:at + 4] = chain[i + 1][0].to_bytes(4, "little")
    return bytes(stack), base


@pytest.mark.parametrize("chip", RISCV)
def test_unwind_stack_dump_built_from_cfi(chip: str) -> None:
    stack, base = dump_from_cfi(chip)
    chain = frames(chip)
    with Symbolizer([elf(chip)]) as sym:
        pcs = unwind_riscv(sym, pc=chain[0][0], ra=chain[1][0], sp=base, stack=stack, stack_base=base)
        assert pcs == [pc for pc, _sp in chain]
        decoded = [shape(sym.lookup(pcs[0]))] + [shape(sym.lookup_return_address(p)) for p in pcs[1:]]
        assert decoded == EXPECTED


@pytest.mark.parametrize("chip", RISCV)
def test_unwind_dump_made_by_the_board_rule(chip: str) -> None:
    """README rule: frames[i].pc at frames[i].sp - 4 for i >= 1, zeros elsewhere."""
    chain = frames(chip)
    base = chain[0][1]
    stack = bytearray(1024)
    for pc, sp in chain[1:]:
        if 0 <= sp - 4 - base < len(stack):
            stack[sp - 4 - base:sp - base] = pc.to_bytes(4, "little")
    with Symbolizer([elf(chip)]) as sym:
        pcs = unwind_riscv(sym, pc=chain[0][0], ra=chain[1][0], sp=base, stack=bytes(stack),
                           stack_base=base)
    assert pcs == [pc for pc, _sp in chain]


def test_unwind_stops_where_the_dump_ends_or_lies() -> None:
    stack, base = dump_from_cfi("esp32c3")
    chain = frames("esp32c3")
    with Symbolizer([elf("esp32c3")]) as sym:
        kwargs = {"pc": chain[0][0], "ra": chain[1][0], "sp": base, "stack_base": base}
        # dump cut before app_main's saved RA: crash_here (leaf, RA register) and do_work only
        cut = chain[2][1] - 4 - base
        assert unwind_riscv(sym, stack=stack[:cut], **kwargs) == [chain[0][0], chain[1][0]]
        assert unwind_riscv(sym, stack=stack, max_frames=2, **kwargs) == [chain[0][0], chain[1][0]]
        garbage = bytes(len(stack))  # no saved RA anywhere: the chain ends at RA
        assert unwind_riscv(sym, stack=garbage, **kwargs) == [chain[0][0], chain[1][0]]


def test_unwind_without_cfi_reports_pc_and_ra() -> None:
    chain = frames("esp32c3")
    with Symbolizer([elf("esp32c3")]) as sym:
        # MEPC 0: a call through a NULL function pointer; RA still names the caller
        assert unwind_riscv(sym, pc=0, ra=chain[1][0], sp=chain[0][1], stack=b"",
                            stack_base=chain[0][1]) == [0, chain[1][0]]
        assert unwind_riscv(sym, pc=0, ra=0x12345678, sp=None, stack=b"", stack_base=0) == [0]
        assert unwind_riscv(sym, pc=None, ra=None, sp=None, stack=b"", stack_base=0) == []


def test_dwarf4_elf_decodes_the_same() -> None:
    with Symbolizer([elf("esp32c3", "app-dwarf4.elf")]) as sym:
        for i, frame in enumerate(MANIFEST["esp32c3"]["frames"]):
            assert shape(sym.lookup(int(frame["lookup"], 16))) == EXPECTED[i]


@pytest.mark.parametrize("chip", ["esp32c3", "esp32"])
def test_corrupt_elfs_give_a_user_error_or_decode_without_raising(tmp_path: Path, chip: str) -> None:
    import random

    raw = Path(elf(chip)).read_bytes()
    rng = random.Random(chip)
    chain = frames(chip)
    probes = [pc for pc, _sp in chain] + [0, 0x800D0279, 0x3C000020]
    for n in range(40):
        data = bytearray(raw)
        for _ in range(rng.choice([1, 10, 200])):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if n % 5 == 0:
            data = data[:rng.randrange(16, len(data))]
        path = tmp_path / f"bad{n}.elf"
        path.write_bytes(bytes(data))
        try:
            sym = Symbolizer([path])
        except UserError as err:
            assert str(err).startswith(f"{path}: ") and "\n" not in str(err)
            continue
        with sym:
            for address in probes:
                sym.in_code(address)
                sym.lookup(address)
                sym.lookup_return_address(address)
                sym.function_name(address)
            unwind_riscv(sym, pc=chain[0][0], ra=chain[1][0], sp=chain[0][1], stack=bytes(64),
                         stack_base=chain[0][1])
