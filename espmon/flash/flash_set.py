"""What to write: ``ADDR FILE`` pairs from the command line, or an ESP-IDF build directory.

ESP-IDF (4.0 to master) writes ``build/flasher_args.json`` (offsets and files, flash
settings, ``extra_esptool_args``) and ``build/project_description.json`` (the app ELF,
the project name, the target). Keys, spellings and value types changed between releases
(samples/idf-build-files/SOURCES.md has the table, from real files): ``partition_table``
became ``partition-table`` (4.4), ``stub`` was the string ``"TRUE"`` (4.1) before it was a
boolean (4.2), ``encrypted`` is the string ``"true"``/``"false"`` (4.3 on), ``--flash_mode``
and ``hard_reset`` became ``--flash-mode`` and ``hard-reset`` (6.0). Every lookup accepts
both spellings; values esptool would refuse are refused here, naming the file and the key.
Paths are relative to the build directory the file is in (the ``build_dir`` inside may
name another machine's disk).

Entries marked ``"encrypted": "true"`` are written encrypted (esptool's ``encrypt_files``,
as ``idf.py encrypted-flash`` does). What the file alone shows cannot work is refused when
the set is read: encryption on an ESP8266 (it has none), on an ESP32 with ``"stub": false``
(its ROM loader cannot write encrypted), at an offset the chip cannot write encrypted. A
chip whose flash encryption key is not programmed is found by esptool after connecting.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
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


# What esptool 5 accepts (its --before/--after choices; write-flash's -fm/-ff/-fs forms).
_BEFORE = ("default-reset", "usb-reset", "no-reset", "no-reset-no-sync")
_AFTER = ("hard-reset", "soft-reset", "no-reset", "no-reset-stub", "watchdog-reset")
_FLASH_MODES = ("keep", "qio", "qout", "dio", "dout")
_FLASH_FORMS = {
    "flash_mode": (re.compile("|".join(_FLASH_MODES)), "one of " + ", ".join(_FLASH_MODES)),
    "flash_freq": (re.compile(r"keep|\d+m"), "keep or a frequency such as 80m"),
    "flash_size": (re.compile(r"keep|detect|\d+(kb|mb)"), "keep, detect or a size such as 4MB"),
}
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")
# esptool's FLASH_ENCRYPTED_WRITE_ALIGN: the ESP32 writes encrypted in 32-byte blocks, later chips in 16.
_ENCRYPTED_ALIGN = {"esp32": 32}


def _spellings(key: str) -> tuple[str, ...]:
    return key, key.replace("_", "-"), key.replace("-", "_")


def _get(table: dict[str, Any], key: str, default: Any = None) -> Any:
    """``key`` in either spelling (``flash_mode`` / ``flash-mode``)."""
    for spelling in _spellings(key):
        if spelling in table:
            return table[spelling]
    return default


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number")


def _flag(value: Any, where: str) -> bool:
    """``true``/``false`` as JSON booleans or as the strings ESP-IDF writes (``"TRUE"``, ``"false"``)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, (str, int)) else None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise UserError(f"{where} is {value!r}; expected true or false")


def _load_json(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: byte {exc.start}: not UTF-8 text (expected JSON)") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}:{exc.lineno}: not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object, found {_kind(data)}")
    return data


def _table(data: dict[str, Any], key: str, path: Path, what: str) -> dict[str, Any]:
    value = _get(data, key, {})
    if not isinstance(value, dict):
        raise UserError(f"{path}: '{key}' is {_kind(value)}; expected an object of {what}")
    return value


def _text(value: Any, where: str, expected: str) -> str:
    if not isinstance(value, str):
        raise UserError(f"{where} is {_kind(value)}; expected {expected}")
    return value.strip()


def _choice(table: dict[str, Any], key: str, choices: tuple[str, ...], where: str) -> str | None:
    """``before``/``after``: ``hard_reset`` (up to 5.x) and ``hard-reset`` (6.0) are the same reset."""
    value = _get(table, key)
    if value is None or value == "":
        return None
    text = _text(value, f"{where}.{key}", "one of " + ", ".join(choices)).lower().replace("_", "-")
    if text not in choices:
        raise UserError(f"{where}.{key} is {value!r}; expected one of {', '.join(choices)}")
    return text


def _write_flash_args(args: dict[str, Any], path: Path) -> dict[str, str]:
    """``["--flash_mode", "dio", ...]`` (or ``--flash-mode``, 6.0) as ``{"flash_mode": "dio"}``."""
    words = _get(args, "write_flash_args", [])
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise UserError(f"{path}: 'write_flash_args' is {_kind(words)}; expected a list of esptool options")
    found = {}
    for option, value in zip(words, words[1:]):
        key = option.lstrip("-").replace("-", "_")
        if option.startswith("--") and key in _FLASH_FORMS:
            found[key] = value
    return found


def _flash_settings(args: dict[str, Any], path: Path) -> dict[str, str]:
    settings = _table(args, "flash_settings", path, "flash_mode, flash_size, flash_freq")
    fallback = _write_flash_args(args, path)
    result = {}
    for key, (form, expected) in _FLASH_FORMS.items():
        value = _get(settings, key, fallback.get(key, "keep"))
        text = _text(value, f"{path}: flash_settings.{key}", expected).lower()
        if not form.fullmatch(text):
            raise UserError(f"{path}: flash_settings.{key} is {value!r}; expected {expected}")
        result[key] = text.upper() if key == "flash_size" and text[0].isdigit() else text  # esptool's 4MB
    return result


def _named_entries(args: dict[str, Any], path: Path) -> dict[str, tuple[str, bool]]:
    """file -> (entry name, encrypted), from ``"app": {"offset": ..., "file": ..., "encrypted": ...}``."""
    names: dict[str, tuple[str, bool]] = {}
    for name, entry in args.items():
        if isinstance(entry, dict) and "offset" in entry and "file" in entry:
            encrypted = _flag(entry.get("encrypted", False), f"{path}: {name}.encrypted")
            names[str(entry["file"])] = (name.replace("_", "-"), encrypted)
    return names


def _offset(text: Any, rel: Any, path: Path) -> int:
    if not isinstance(text, str) or not text.strip():
        raise UserError(f"{path}: flash_files gives {rel!r} no offset; expected an address such as 0x10000")
    try:
        return parse_address(text)
    except UserError:
        raise UserError(f"{path}: flash_files offset {text!r} (for {rel!r}) is not an address such as 0x10000") \
            from None


def _files(args: dict[str, Any], build: Path, path: Path) -> list[FlashFile]:
    table = _get(args, "flash_files")
    if not isinstance(table, dict) or not table:
        found = "no 'flash_files'" if table is None else f"'flash_files' is {_kind(table) if table else 'empty'}"
        raise UserError(f"{path}: {found}; expected an object of offset -> image file")
    names = _named_entries(args, path)
    files = []
    for offset_text, rel in table.items():
        offset = _offset(offset_text, rel, path)
        rel = _text(rel, f"{path}: flash_files[{offset_text!r}]", "an image file name")
        image = build / rel
        if not image.is_file():
            raise UserError(f"{path}: flash_files names {rel} at {offset_text}, which is not in {build}")
        name, encrypted = names.get(rel, ("", False))
        files.append(FlashFile(offset, image, name, encrypted))
    files.sort(key=lambda f: f.offset)
    for before, after in zip(files, files[1:]):
        if before.offset == after.offset:
            raise UserError(f"{path}: flash_files puts {before.path.name} and {after.path.name} both at "
                            f"{before.offset:#x}; expected one image per offset")
    return files


def _check_encryption(flash_set: FlashSet) -> None:
    """Refuse, before any port is opened, an encrypted set the file itself shows cannot be written."""
    encrypted = [f for f in flash_set.files if f.encrypted]
    if not encrypted:
        return
    names = ", ".join(f.name or f.path.name for f in encrypted)
    chip = (flash_set.chip or "").lower().replace("-", "")
    if chip == "esp8266":
        raise UserError(f"{flash_set.source}: {names} marked encrypted, but the ESP8266 has no flash encryption")
    if chip == "esp32" and flash_set.stub is False:
        raise UserError(f"{flash_set.source}: {names} marked encrypted with \"stub\": false; the ESP32's ROM "
                        f"loader cannot write encrypted (only esptool's stub can)")
    align = _ENCRYPTED_ALIGN.get(chip, 16)
    for f in encrypted:
        if f.offset % align:
            raise UserError(f"{flash_set.source}: {f.name or f.path.name} at {f.offset:#x} is marked encrypted; "
                            f"{chip or 'the chip'} writes encrypted only at {align}-byte aligned offsets")


def _elf_path(elf: str, build: Path, build_dir: Any) -> Path:
    """``app_elf`` is relative to ``build_dir`` (the machine that built it); a path under it maps to ``build``."""
    for flavour in (PurePosixPath, PureWindowsPath):
        if flavour(elf).is_absolute():
            if isinstance(build_dir, str) and build_dir:
                with contextlib.suppress(ValueError):
                    return build / flavour(elf).relative_to(flavour(build_dir)).as_posix()
            return build / flavour(elf).name
    return build / elf


def _describe(flash_set: FlashSet, build: Path) -> None:
    path = build / "project_description.json"
    if not path.is_file():
        return
    project = _load_json(path)
    name = project.get("project_name")
    if name is not None:
        flash_set.project_name = _text(name, f"{path}: project_name", "the project's name")
    elf = project.get("app_elf")
    if elf:
        flash_set.app_elf = _elf_path(_text(elf, f"{path}: app_elf", "the app's ELF file name"), build,
                                      project.get("build_dir"))
    target = project.get("target")
    if target is not None:
        target = _text(target, f"{path}: target", "a chip name such as esp32s3").lower()
        flash_set.chip = flash_set.chip or target or None  # ESP-IDF 4.0 names no chip in flasher_args.json


def load_project(build_dir: str | Path) -> FlashSet:
    """The flash set an ESP-IDF build directory (or its ``flasher_args.json``) describes."""
    build = Path(build_dir)
    if build.is_file() and build.name == "flasher_args.json":
        build = build.parent
    path = build / "flasher_args.json"
    if not path.is_file():
        raise UserError(f"{build}: no flasher_args.json (expected an ESP-IDF build directory, after idf.py build)")
    args = _load_json(path)
    files = _files(args, build, path)
    settings = _flash_settings(args, path)
    extra = _table(args, "extra_esptool_args", path, "after, before, stub, chip")
    where = f"{path}: extra_esptool_args"
    chip = _get(extra, "chip")
    chip = _text(chip, f"{where}.chip", "a chip name such as esp32s3").lower() if chip is not None else ""
    stub = _get(extra, "stub")
    flash_set = FlashSet(
        files, **settings,
        chip=chip or None,
        before=_choice(extra, "before", _BEFORE, where),
        after=_choice(extra, "after", _AFTER, where),
        stub=None if stub is None or stub == "" else _flag(stub, f"{where}.stub"),
        source=str(path),
    )
    _describe(flash_set, build)
    _check_encryption(flash_set)
    return flash_set
