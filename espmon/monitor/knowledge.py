"""Where the monitor gets its ESP knowledge: the device-log parser, the annotations, the
boot-loop detector and the ELF symbolizer (modules owned by other parts of espmon).

Imported lazily, so the plain monitor still runs (without annotations) in a checkout where
one of them is missing, and so ``espmon --help`` imports none of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from espmon.errors import UserError

__all__ = ["Knowledge", "load_knowledge", "load_symbolizer"]


class _NullParser:
    chip = None

    def feed(self, line: str) -> list[Any]:
        return []

    def end(self) -> list[Any]:
        return []


class _NullLoopDetector:
    def feed(self, event: Any, t: float) -> Any:
        return None


class Knowledge:
    """The parser, annotate() and the loop detector of one monitor session."""

    def __init__(self, parser: Any, annotate: Callable[[Any, str | None], str | None], loop_detector: Any) -> None:
        self.parser = parser
        self.annotate = annotate
        self.loop_detector = loop_detector


def load_knowledge(chip: str | None = None) -> Knowledge:
    try:
        from parsers.device_log import DeviceLogParser

        parser: Any = DeviceLogParser(chip=chip)
    except ImportError:
        parser = _NullParser()
    try:
        from espmon.annotate import BootLoopDetector, annotate

        return Knowledge(parser, annotate, BootLoopDetector())
    except ImportError:
        return Knowledge(parser, lambda event, chip: None, _NullLoopDetector())


def load_symbolizer(elf_paths: list[str]) -> Any:
    """A Symbolizer over the given ELFs; a UserError naming the file when one is unusable."""
    if not elf_paths:
        return None
    for path in elf_paths:
        if not Path(path).is_file():
            raise UserError(f"--elf {path}: no such file")
    try:
        from espmon.symbols import Symbolizer
    except ImportError:
        raise UserError("--elf: address decoding is not available in this build (espmon.symbols missing)") from None
    try:
        return Symbolizer([str(p) for p in elf_paths])
    except (OSError, ValueError) as exc:
        raise UserError(f"--elf: cannot read {', '.join(elf_paths)}: {exc}") from None
    except Exception as exc:  # pyelftools raises ELFError and friends on a bad file
        if type(exc).__module__.startswith("elftools"):
            raise UserError(f"--elf: {', '.join(elf_paths)} is not a usable ELF file: {exc}") from None
        raise
