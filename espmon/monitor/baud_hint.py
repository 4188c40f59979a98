"""A baud mismatch, noticed: runs of bytes that do not decode, said once with the likely baud.

ESP8266's ROM (and 26 MHz-crystal parts) print their boot messages at 74880 baud; read at
115200 that is a wall of ``\\xNN`` with no newline in it, glued to the first good line of
the app (which prints at 115200). A wrong ``-b`` looks the same without the good lines.
``BaudHint.check`` cuts such a block before the first good log line (so the garbage run ends
on its own line) and returns the advice once, until a reset or a baud change re-arms it.

Only blocks that are not valid UTF-8 are looked at (``bytes.isascii`` and one strict decode
keep the usual stream on its fast path).
"""

from __future__ import annotations

import re

__all__ = ["BaudHint", "ROM_BAUD_8266"]

ROM_BAUD_8266 = 74880
APP_BAUD = 115200
MIN_GARBAGE = 16  # undecodable bytes before we call it a mismatch (line noise is a byte or two)
_LONG_RUN = 1024  # an unfinished garbage line this long is cut while data still streams
# bytes a UART at the wrong rate produces: high bytes and C0 controls a log never has
_GARBAGE = re.compile(rb"[\x80-\xff\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]")
_LOG_START = re.compile(rb"(?:\x1b\[[0-9;]*m)?[EWIDV] \(\d+\) [^:\r\n]{1,40}: ")


def _mostly_garbage(data: bytes) -> int:
    """The number of garbage bytes in ``data`` when they are at least a third of it, else 0."""
    bad = len(_GARBAGE.findall(data))
    return bad if bad * 3 >= len(data) else 0


class BaudHint:
    def __init__(self) -> None:
        self._said = False
        self._said_at: int | None = None  # the baud we were at when we said it

    def rearm(self) -> None:
        """A reset: the next garbage run is said again."""
        self._said = False

    def cuts_partial(self, partial: bytes, baud: int | None, idle: bool) -> bool:
        """Should an unfinished line be ended now? A wrong baud may never send a newline:
        a garbage run not said yet at this baud becomes a line (and gets its hint) when the
        stream pauses, or when it is long (while it streams, a good line may still follow it)."""
        if (len(partial) < (MIN_GARBAGE if idle else _LONG_RUN) or partial.isascii()
                or (self._said and self._said_at == baud)):
            return False
        return _mostly_garbage(partial) >= MIN_GARBAGE

    def check(self, block: bytes, baud: int | None) -> tuple[bytes, int, int, bool]:
        """``(block, garbage, cut, glued)``: the block with each garbage run cut from a good
        log line glued to it; the garbage bytes to report (0: nothing to say); the offset in
        the block just after the last garbage line (where the hint goes); whether good log
        lines came right after garbage. Call only when ``not block.isascii()``."""
        try:
            block.decode("utf-8")
            return block, 0, 0, False  # text in UTF-8, not noise
        except UnicodeDecodeError:
            pass
        lines = block.split(b"\n")
        garbage = last = 0
        glued = False
        for i, line in enumerate(lines):
            if len(line) < MIN_GARBAGE or not _GARBAGE.search(line):
                continue
            good = _LOG_START.search(line, 1)
            head = line[: good.start()] if good else line
            bad = _mostly_garbage(head)
            if not bad:
                continue
            garbage += bad
            last = i
            if good:
                lines[i] = head + b"\n" + line[good.start():]
                glued = True
        if not garbage:
            return block, 0, 0, False
        glued = glued or any(_LOG_START.match(line) for line in lines[last + 1 :])
        cut = sum(len(line) + 1 for line in lines[:last]) + len(lines[last].split(b"\n", 1)[0]) + 1
        block = b"\n".join(lines)
        if garbage < MIN_GARBAGE or (self._said and self._said_at == baud):
            return block, 0, cut, glued
        self._said, self._said_at = True, baud
        return block, garbage, cut, glued


def advice(garbage: int, baud: int | None, switch: str, glued: bool) -> str:
    """The note: what was seen, the likely baud, how to switch (``switch`` has ``{baud}``)."""
    at = f" at {baud} baud" if baud else ""
    if baud in (APP_BAUD, None):
        target = ROM_BAUD_8266
        if glued:
            return (f"{garbage} bytes did not decode{at}, the app's lines after them did: ESP8266's ROM (and "
                    f"26 MHz-crystal chips') boot messages are at {ROM_BAUD_8266}; to read them: "
                    + switch.format(baud=target))
        likely = f"likely {ROM_BAUD_8266} (ESP8266's ROM, 26 MHz-crystal chips) or the rate the app was built with"
    else:
        target = APP_BAUD
        likely = f"likely {APP_BAUD} (ESP-IDF's default)"
    return f"{garbage} bytes did not decode{at}: a baud mismatch, {likely}; {switch.format(baud=target)}"
