"""Where the monitor gets its ESP knowledge: the device-log parser, the annotations, the
boot-loop detector and the ELF symbolizer (modules owned by other parts of espmon).

Imported when a monitor starts, so that ``espmon --help`` imports none of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from espmon.errors import UserError

__all__ = ["Knowledge", "load_knowledge", "load_symbolizer"]


class Knowledge:
    """The parser, annotate() and the loop detector of one monitor session."""

    def __init__(self, parser: Any, annotate: Callable[[Any, str | None], str | None], loop_detector: Any) -> None:
        self.parser = parser
        self.annotate = annotate
        self.loop_detector = loop_detector


def load_knowledge(chip: str | None = None) -> Knowledge:
    from espmon.diagnose.findings import guide_for_event
    from espmon.monitor.annotate import BootLoopDetector, annotate
    from parsers.device_log import DeviceLogParser

    def explained(event: Any, chip_info: Any) -> str | None:
        """annotate()'s note, with the troubleshooting guide's section when the diagnosis
        rule table (the one ``espmon doctor`` uses) has a rule for the event."""
        note = annotate(event, chip_info)
        if note is None:
            return None
        try:
            guide = guide_for_event(event, chip_info if not isinstance(chip_info, str) else None)
        except Exception:  # a note must never take the console down
            guide = None
        return f"{note} (guide: \u201c{guide[1]}\u201d)" if guide else note

    return Knowledge(DeviceLogParser(chip=chip), explained, BootLoopDetector())


def load_symbolizer(elf_paths: list[str]) -> Any:
    """A Symbolizer over the given ELFs; a UserError naming the file when one is unusable."""
    if not elf_paths:
        return None
    for path in elf_paths:
        if not Path(path).is_file():
            raise UserError(f"--elf {path}: no such file")
    from espmon.elf.symbols import Symbolizer

    try:
        return Symbolizer([str(p) for p in elf_paths])
    except (OSError, ValueError) as exc:
        raise UserError(f"--elf: cannot read {', '.join(elf_paths)}: {exc}") from None
    except Exception as exc:  # pyelftools raises ELFError and friends on a bad file
        if type(exc).__module__.startswith("elftools"):
            raise UserError(f"--elf: {', '.join(elf_paths)} is not a usable ELF file: {exc}") from None
        raise
