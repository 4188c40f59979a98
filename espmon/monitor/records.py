"""Display records: what the engine hands to the screen, the plain printer and the text log.

A record is a ``str``. A device line is stored as its sanitized text (which never contains
a control character below TAB, see ``sanitize``), so the other kinds are told apart by one
leading marker character below TAB. Plain strings keep the 100k-line scrollback small
(no per-line object besides the string itself) and make the hot path allocation-free.
"""

from __future__ import annotations

__all__ = [
    "ALERT", "ANNOTATION", "CRASH", "DECODED", "DEVICE", "HEX", "KIND_NAMES", "NOTE", "RESET", "SENT",
    "body", "kind", "plain_text",
]

DEVICE = ""
ANNOTATION = "\x01"  # dim explanation of the line above (annotate())
DECODED = "\x02"  # an address turned into function and file:line
ALERT = "\x03"  # boot loop called out
NOTE = "\x04"  # espmon's own message: reset, reconnect, log file...
SENT = "\x05"  # local echo of what was sent to the device
HEX = "\x06"  # hex view line
CRASH = "\x07"  # explanation of a panic/abort line (the console can freeze on it)
RESET = "\x08"  # explanation of a reset line (rst:0x.., boot:0x..)

KIND_NAMES = {
    DEVICE: "device", ANNOTATION: "annotation", DECODED: "decoded", ALERT: "alert", NOTE: "note",
    SENT: "sent", HEX: "hex", CRASH: "crash", RESET: "reset",
}
_PREFIX = {
    ANNOTATION: "--- ", DECODED: "--- ", ALERT: "--- !!! ", NOTE: "--- ", SENT: "--> ", HEX: "",
    CRASH: "--- ", RESET: "--- ",
}


def kind(record: str) -> str:
    """The marker of a record ("" for a device line)."""
    if record and record[0] < "\t":
        return record[0]
    return DEVICE


def body(record: str) -> str:
    return record[1:] if record and record[0] < "\t" else record


def plain_text(record: str) -> str:
    """The record as one line of plain text (for pipes and the text log); SGR kept."""
    if record and record[0] < "\t":
        return _PREFIX[record[0]] + record[1:]
    return record
