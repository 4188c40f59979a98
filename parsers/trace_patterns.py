"""What the lines of an esptool ``--trace`` dump look like: the patterns
:class:`parsers.trace.TraceParser` reads them with, the bytes printed on a record's own line,
and the record whose bytes continue on hexdump lines (a :class:`Dump`)."""

from __future__ import annotations

import re

from parsers.hexdump import parse_inline_hex, parse_joined_dump

__all__ = ["ANSI", "PREFIX", "BYTES", "CMD_HEX", "CMD_V5", "COUNT", "TIMEOUTS", "BYTE_LABELS", "FOREIGN", "FENCE",
           "PLAIN_BYTES", "PLAIN_CMD", "MAX_DIGITS", "JUNK_HEAD", "inline_bytes", "Dump"]

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
PREFIX = re.compile(r"TRACE \+(-?\d+(?:\.\d*)?)(\s*)")
BYTES = re.compile(r"(Write|Read) (\d+) bytes:(.*)")
CMD_HEX = re.compile(
    r"command op=0x([0-9a-fA-F]{1,2}) data len=(\d+) wait_response=(\d+) timeout=(\d+(?:\.\d*)?) data=(.*)"
)
CMD_V5 = re.compile(
    r"--- Cmd (?:\[[^\]]*\])?([A-Za-z0-9_]+)(?:\[/[^\]]*\])? \(0x([0-9a-fA-F]{1,2})\) \| data_len (\d+)"
    r" \| wait_response (\d+) \| timeout (\d+(?:\.\d*)?) \| data(.*)"
)
COUNT = re.compile(r"Packet content transfer stopped ?(?:\(received (\d+) bytes\))?")
TIMEOUTS = (
    "Timed out waiting for packet",  # 2.2-3.1
    "No serial data received",  # 3.2+
    "Serial data stream stopped",  # 3.2+
    "Packet content transfer stopped",  # 3.2+
)
BYTE_LABELS = (
    ("Received full packet:", "packet"),
    ("Full packet:", "packet"),  # 2.2-2.3
    ("Read invalid data:", "invalid"),
    ("Remaining data in serial buffer:", "remaining"),
)
# esptool-js prints `TRACE 4983.000 Read 1 bytes: ...` (absolute ms, no +);
# esp-serial-flasher prints `--- WRITE ---` style dumps. Neither is esptool's.
FOREIGN = (
    (re.compile(r"\s*TRACE \d+(?:\.\d+)? "), "esptool-js"),
    (re.compile(r"\s*-{2,} ?(?:WRITE|READ)\b"), "esp-serial-flasher"),
)
FENCE = re.compile(r"\s*(?:```|~~~)\S*\s*$")
# The bulk of a trace, as esptool prints it: one byte record with its bytes inline, or
# its dump to follow. Lines of this exact shape take the short way in ``feed`` (what
# ``_record`` would do for them, without its general checks); anything else, the long way.
# The hex is one character class (twice as fast as pairs): the caller sends an odd
# number of digits the long way.
PLAIN_BYTES = re.compile(
    r"\s*TRACE \+(\d{1,9}\.\d{1,6})(\s*)(?:(Write|Read) (\d{1,15}) bytes:|(Received full packet:))"
    r"\s*([0-9a-f]*)\s*$"
)
# The same for an esptool 5 command header with its payload inline (or its dump to follow).
PLAIN_CMD = re.compile(
    r"\s*TRACE \+(\d{1,9}\.\d{1,6})\s*--- Cmd ([A-Za-z0-9_]+) \(0x([0-9a-fA-F]{1,2})\) \| data_len (\d{1,15})"
    r" \| wait_response (\d+) \| timeout (\d+(?:\.\d*)?) \| data\s*([0-9a-f]*)\s*(?:---)?\s*$"
)
#: No count in a real trace has more digits (a byte count or payload length of esptool is
#: far below 10**15); longer runs are damage, and Python refuses int() of > 4,300 digits.
MAX_DIGITS = 15
JUNK_HEAD = frozenset({"`", "```", "*", "**", ">"})


def inline_bytes(rest: str, declared: int | None) -> tuple[bytes | None, str]:
    """Bytes printed on the record's own line, and any text glued after them."""
    data = parse_inline_hex(rest)
    if data is not None:
        return data, ""
    if "|" in rest:
        data = parse_joined_dump(rest, declared)
        if data is not None:
            return data, ""
    head, _, tail = rest.partition(" ")
    data = parse_inline_hex(head)
    if data is not None and (declared is None or len(data) == declared):
        return data, tail.strip()
    return None, ""


class Dump:
    """A record whose bytes continue on hexdump lines (the parser's open dump)."""

    __slots__ = ("kind", "line", "t", "expected", "chunks", "got", "cmd", "resumed", "lost")

    def __init__(self, kind: str, line: int, t: float, expected: int | None,
                 cmd: tuple | None = None, resumed: bool = False) -> None:
        self.kind = kind
        self.line = line
        self.t = t
        self.expected = expected  # None: length unknown, take dump lines while they come
        self.chunks: list[bytes] = []
        self.got = 0
        self.cmd = cmd  # (op, name, data_len, wait_response, timeout) for a command
        self.resumed = resumed
        self.lost = False
