#!/usr/bin/env python3
"""Make ESP-IDF style build directories from the built sample firmware (no compiler needed).

    python samples/firmware/make_project.py            # samples/project/<chip>/

Each directory holds what ``idf.py build`` leaves for flashing: ``flasher_args.json`` (as
ESP-IDF 5.x writes it: underscore spellings, ``"encrypted": "false"`` strings),
``project_description.json`` (the app ELF, project name, target), the bootloader,
partition-table and app images and the app ELF. ``build.py`` runs this at its end.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT = "espmon-demo"  # the name the demo app's esp_app_desc_t carries
CHIPS = ("esp32", "esp32s2", "esp32s3", "esp32c3", "esp32c6")
BOOTLOADER_OFFSET = {"esp32": 0x1000, "esp32s2": 0x1000}


def make(chip: str, firmware: Path, out: Path) -> None:
    src = firmware / chip
    build = out / chip
    (build / "bootloader").mkdir(parents=True, exist_ok=True)
    (build / "partition_table").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src / "bootloader.bin", build / "bootloader" / "bootloader.bin")
    shutil.copyfile(src / "partition-table.bin", build / "partition_table" / "partition-table.bin")
    shutil.copyfile(src / "app.bin", build / f"{PROJECT}.bin")
    shutil.copyfile(src / "app.elf", build / f"{PROJECT}.elf")
    boot = f"0x{BOOTLOADER_OFFSET.get(chip, 0):x}"
    entries = {
        "bootloader": (boot, "bootloader/bootloader.bin"),
        "app": ("0x10000", f"{PROJECT}.bin"),
        "partition-table": ("0x8000", "partition_table/partition-table.bin"),
    }
    args = {
        "write_flash_args": ["--flash_mode", "dio", "--flash_size", "2MB", "--flash_freq", "40m"],
        "flash_settings": {"flash_mode": "dio", "flash_size": "2MB", "flash_freq": "40m"},
        "flash_files": {offset: path for offset, path in entries.values()},
        **{name: {"offset": offset, "file": path, "encrypted": "false"} for name, (offset, path) in entries.items()},
        "extra_esptool_args": {"after": "hard_reset", "before": "default_reset", "stub": True, "chip": chip},
    }
    description = {
        "version": "1.2", "project_name": PROJECT, "project_version": "1.0.0",
        "build_dir": f"/home/dev/{PROJECT}/build", "app_elf": f"{PROJECT}.elf", "app_bin": f"{PROJECT}.bin",
        "target": chip, "monitor_baud": "115200",
    }
    (build / "flasher_args.json").write_text(json.dumps(args, indent=4) + "\n")
    (build / "project_description.json").write_text(json.dumps(description, indent=4) + "\n")


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else HERE.parent / "project"
    for chip in CHIPS:
        make(chip, HERE, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
