"""How an esptool session ended, from the evidence only.

``ok`` needs esptool's closing line (what it prints for ``--after``, once the command
succeeded) and nothing left unfinished; a fatal error, a failure esptool never recovered
from or an MD5 that does not match is ``failed``; a session that stops before its end (the
trace is cut while a request waits, a write region has blocks missing, a flash read is
short, the closing line never comes) is ``incomplete``, with the reasons; ``unknown`` when
no command was decoded at all.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from espmon.conversation.story import Story

__all__ = ["OUTCOMES", "CLOSING", "outcome", "unfinished"]

OUTCOMES = ("ok", "failed", "incomplete", "unknown")

#: esptool's last line of a session that went well: its ``--after`` action (2.x .. 5.x).
CLOSING = re.compile(r"Hard resetting|Soft resetting|Staying in bootloader|Staying in flasher stub|"
                     r"Custom reset sequence executed")


def unfinished(story: Story) -> list[str]:
    """What the session started and the trace does not show finished."""
    out = []
    for r in story.regions:
        if r.failed is None and r.acked < r.blocks_expected:
            out.append(f"the write at 0x{r.offset:08x} (line {r.line}) has {r.acked} of its "
                       f"{r.blocks_expected} blocks acknowledged")
    for rd in story.reads:
        if rd.received < rd.length:
            out.append(f"the flash read at 0x{rd.offset:08x} (line {rd.line}) has {rd.received:,} of its "
                       f"{rd.length:,} bytes")
        elif rd.md5 is None and rd is story.reads[-1] and story.reading is not None:
            out.append(f"the flash read at 0x{rd.offset:08x} (line {rd.line}) never got its MD5 digest")
    return out


def outcome(story: Story) -> tuple[str, list[str]]:
    """(outcome, errors): the errors first, then why the outcome is what it is."""
    errors = list(story.errors)
    if story.fatal:
        return "failed", [story.fatal] + errors
    awaiting = story.awaiting is not None and story.wait_reply
    if story.truncated or (awaiting and not story.closed):
        why = (f"the trace ends while {story.awaiting.op} (line {story.awaiting.line}) waits for its reply"
               if awaiting and story.awaiting is not None else "the trace ends in the middle of a reply")
        return "incomplete", errors + [why] + unfinished(story)
    if story.last_failure and not story.done:
        return "failed", errors + [f"inferred from the trace: {story.last_failure}"]
    if any(c.get("result") == "mismatch" for c in story.md5_checks):
        return "failed", errors
    left = unfinished(story)
    if left:
        return "incomplete", errors + left
    if not story.commands:
        return "unknown", errors
    if not story.closed:
        return "incomplete", errors + ["the trace ends before esptool's closing line (\"Hard resetting via "
                                       "RTS pin...\" or what --after chose)"]
    return "ok", errors
