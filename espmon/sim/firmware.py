"""Find the demo firmware a board can start with, and its ELFs.

The images and ELFs are built into ``samples/firmware/<chip>/`` (``samples/firmware/build.py``)
and ship as package data ``espmon/sim/demo/<chip>/`` (``merged.bin``, ``app.elf``,
``bootloader.elf``; see pyproject.toml), so ``sim://esp32?firmware=demo`` and ``--elf demo``
work in an installed espmon as in a clone.
"""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path

__all__ = ["samples_dir", "firmware_image", "demo_elfs", "expand_demo_elf", "PRESETS"]

PRESETS = ("demo",)
_INSTALLED = Path(__file__).resolve().parent / "demo"  # package data of an installed espmon
_CHECKOUT = Path(__file__).resolve().parents[2] / "samples" / "firmware"


def samples_dir() -> Path | None:
    """``ESPMON_SAMPLES`` when set, else the installed package data, else ``samples/firmware``
    of the source checkout, else under the current directory."""
    candidates = []
    if os.environ.get("ESPMON_SAMPLES"):
        candidates.append(Path(os.environ["ESPMON_SAMPLES"]))
    candidates += [_INSTALLED, _CHECKOUT, Path.cwd() / "samples" / "firmware"]
    for path in candidates:
        if path.is_dir():
            return path
    return None


def _demo_root() -> Path:
    root = samples_dir()
    if root is None:
        raise FileNotFoundError(
            "sample firmware not found: neither installed with espmon (espmon/sim/demo) nor a "
            "samples/firmware directory in the checkout or the current directory (set ESPMON_SAMPLES)")
    return root


def firmware_image(chip: str, preset: str = "demo") -> bytes:
    """The merged flash image (everything at its offset, loaded at 0x0) of a preset.

    ``preset`` is ``demo`` (the samples shipped with espmon) or a directory that holds
    ``<chip>/merged.bin``. Raises FileNotFoundError with a one-line reason.
    """
    root = _demo_root() if preset in PRESETS else Path(preset)
    path = root / chip / "merged.bin"
    if not path.is_file():
        raise FileNotFoundError(f"sample firmware not found: {path} does not exist")
    return path.read_bytes()


def demo_elfs(chip: str) -> list[str]:
    """The demo app's ELF and its bootloader's, for ``chip`` (FileNotFoundError if absent)."""
    folder = _demo_root() / chip
    paths = [str(folder / name) for name in ("app.elf", "bootloader.elf") if (folder / name).is_file()]
    if not paths:
        raise FileNotFoundError(f"sample firmware not found: no app.elf in {folder}")
    return paths


def expand_demo_elf(elfs: list[str], chip: str | None, url: str | None) -> list[str]:
    """``--elf`` values with ``demo`` replaced by the demo ELFs of the board's chip: ``chip``
    (a chip key such as ``esp32c3``) or the chip of a ``sim://CHIP`` URL. ValueError when
    neither says which chip; FileNotFoundError when the demo is not there."""
    if "demo" not in elfs:
        return list(elfs)
    if chip is None and url and url.startswith("sim://"):
        chip = urllib.parse.urlsplit(url).netloc.lower() or None
    if chip is None:
        raise ValueError("--elf demo: which chip's demo? give --chip CHIP (or a sim://CHIP port)")
    out: list[str] = []
    for elf in elfs:
        out += demo_elfs(chip) if elf == "demo" else [elf]
    return out
