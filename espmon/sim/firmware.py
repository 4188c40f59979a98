"""Find the sample firmware (``samples/firmware/<chip>/``) a board can start with."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["samples_dir", "firmware_image", "PRESETS"]

PRESETS = ("demo",)


def samples_dir() -> Path | None:
    """``samples/firmware`` next to the espmon package (a source checkout), else under
    the current directory; ``ESPMON_SAMPLES`` overrides both."""
    candidates = []
    if os.environ.get("ESPMON_SAMPLES"):
        candidates.append(Path(os.environ["ESPMON_SAMPLES"]))
    candidates.append(Path(__file__).resolve().parents[2] / "samples" / "firmware")
    candidates.append(Path.cwd() / "samples" / "firmware")
    for path in candidates:
        if path.is_dir():
            return path
    return None


def firmware_image(chip: str, preset: str = "demo") -> bytes:
    """The merged flash image (everything at its offset, loaded at 0x0) of a preset.

    ``preset`` is ``demo`` (the samples shipped in the repository) or a directory that
    holds ``<chip>/merged.bin``. Raises FileNotFoundError with a one-line reason.
    """
    if preset in PRESETS:
        root = samples_dir()
        if root is None:
            raise FileNotFoundError(
                "sample firmware not found: no samples/firmware directory in the espmon "
                "checkout or the current directory (set ESPMON_SAMPLES)")
    else:
        root = Path(preset)
    path = root / chip / "merged.bin"
    if not path.is_file():
        raise FileNotFoundError(f"sample firmware not found: {path} does not exist")
    return path.read_bytes()
