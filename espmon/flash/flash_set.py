"""What to write: ``ADDR FILE`` pairs from the command line, or an ESP-IDF build directory.

ESP-IDF (4.0 to master) writes ``build/flasher_args.json`` (offsets and files, flash
settings, ``extra_esptool_args``) and ``build/project_description.json`` (the app ELF,
the project name, the target). Key spellings changed between releases (``partition_table``
and ``partition-table``, ``hard_reset`` and ``hard-reset``, ``"encrypted": "false"`` or a
boolean), so every lookup here accepts both. Paths are relative to the build directory the
file is in (the ``build_dir`` inside may name another machine's disk).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from espmon.errors import UserError

__all__ = ["FlashFile", "FlashSet", "parse_pairs", "load_project", "parse_address"]


@dataclass(frozen=True)
class FlashFile:
    offset: int
    path: Path
    name: str = ""  # bootloader, app, partition-table, ... (project sets)
    encrypted: bool = False

    def read(self) -> bytes:
        try:
            return self.path.read_bytes()
        except OSError as exc:
            raise UserError(f"{self.path}: cannot read it: {exc.strerror or exc}") from None


@dataclass
class FlashSet:
    files: list[FlashFile]
    flash_mode: str = "keep"
    flash_size: str = "keep"
    flash_freq: str = "keep"
    chip: str | None = None
    before: str | None = None
    after: str | None = None
    stub: bool | None = None
    app_elf: Path | None = None
    project_name: str | None = None
    source: str = "the command line"
    extra: dict[str, Any] = field(default_factory=dict)

    def app_only(self) -> FlashSet:
        apps = [f for f in self.files if f.name == "app"]
        if not apps:
            raise UserError(f"{self.source}: no 'app' entry to flash with --app-only")
        return dataclasses.replace(self, files=apps)


def parse_address(text: str, what: str = "address") -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise UserError(f"{text!r}: expected a flash {what} such as 0x10000") from None
    if value < 0:
        raise UserError(f"{text}: a flash {what} is not negative")
    return value


def parse_pairs(words: list[str]) -> list[FlashFile]:
    """``["0x1000", "bootloader.bin", "0x10000", "app.bin"]`` -> files, each checked to exist."""
    if len(words) % 2:
        raise UserError(f"expected ADDR FILE pairs, got {len(words)} words (the last, {words[-1]!r}, has no pair)")
    files = []
    for addr, name in zip(words[::2], words[1::2]):
        path = Path(name)
        if not path.is_file():
            raise UserError(f"{name}: no such file (after address {addr})")
        files.append(FlashFile(parse_address(addr), path))
    return files


def _flag(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("true", "1", "yes")


def _load_json(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}:{exc.lineno}: not JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data


def _get(table: dict[str, Any], key: str, default: Any = None) -> Any:
    """``key`` in either spelling (``flash_mode`` / ``flash-mode``)."""
    for spelling in (key, key.replace("_", "-"), key.replace("-", "_")):
        if spelling in table:
            return table[spelling]
    return default


def load_project(build_dir: str | Path) -> FlashSet:
    build = Path(build_dir)
    if build.is_file() and build.name == "flasher_args.json":
        build = build.parent
    args_path = build / "flasher_args.json"
    if not args_path.is_file():
        raise UserError(f"{build}: no flasher_args.json (expected an ESP-IDF build directory, after idf.py build)")
    args = _load_json(args_path)
    files_table = args.get("flash_files")
    if not isinstance(files_table, dict) or not files_table:
        raise UserError(f"{args_path}: no 'flash_files' table of offset -> file")
    names: dict[str, tuple[str, bool]] = {}  # file -> (entry name, encrypted)
    for name, entry in args.items():
        if isinstance(entry, dict) and "offset" in entry and "file" in entry:
            names[str(entry["file"])] = (name.replace("_", "-"), _flag(entry.get("encrypted", False)))
    files = []
    for offset, rel in sorted(files_table.items(), key=lambda item: parse_address(str(item[0]))):
        path = build / str(rel)
        if not path.is_file():
            raise UserError(f"{args_path}: flash_files names {rel} at {offset}, which is not in {build}")
        name, encrypted = names.get(str(rel), ("", False))
        files.append(FlashFile(parse_address(str(offset)), path, name, encrypted))
    settings = args.get("flash_settings") or {}
    extra = args.get("extra_esptool_args") or {}
    chip = _get(extra, "chip")
    flash_set = FlashSet(
        files,
        flash_mode=str(_get(settings, "flash_mode", "keep")),
        flash_size=str(_get(settings, "flash_size", "keep")),
        flash_freq=str(_get(settings, "flash_freq", "keep")),
        chip=str(chip) if chip else None,
        before=str(_get(extra, "before")).replace("_", "-") if _get(extra, "before") else None,
        after=str(_get(extra, "after")).replace("_", "-") if _get(extra, "after") else None,
        stub=_flag(_get(extra, "stub")) if _get(extra, "stub") is not None else None,
        source=str(args_path),
    )
    description = build / "project_description.json"
    if description.is_file():
        project = _load_json(description)
        flash_set.project_name = project.get("project_name")
        elf = project.get("app_elf")
        if elf:
            flash_set.app_elf = build / Path(str(elf)).name if Path(str(elf)).is_absolute() else build / str(elf)
        if not flash_set.chip and project.get("target"):
            flash_set.chip = str(project["target"])
    return flash_set
