"""The byte renderings found in esptool ``--trace`` text, parsed back into bytes.

esptool 2.4 and later print bytes with its ``HexFormatter``: up to 16 bytes as one run
of lowercase hex on the message line, more as continuation lines of 16 bytes each::

    ····0707122055555555·5555555555555555·|·...·UUUUUUUUUUUU

(4 spaces, two 8-byte groups padded to 16 columns, `` | `` at column 38, the ASCII
view). esptool 2.2-2.3 printed Python ``repr()`` of the bytes instead. Pastes lose the
indentation, collapse runs of spaces, strip trailing spaces and sometimes glue a whole
dump onto one line; every parser here accepts those forms and returns ``None`` (never
raises) for text that is not a dump.
"""

from __future__ import annotations

import re

__all__ = [
    "parse_inline_hex",
    "parse_dump_line",
    "parse_joined_dump",
    "parse_repr_bytes",
    "format_hexdump",
    "is_cut_marker",
]

_HEX_RUN = re.compile(r"[0-9a-fA-F]*")
# A continuation line however a paste mangled it: 1 or 2 groups of whole bytes, then
# `|` and the ASCII view (missing when a paste cut it, or at the end of a V5 command).
_DUMP_LINE = re.compile(
    r"\s*(?P<h1>(?:[0-9a-fA-F]{2}){1,8})(?:[ \t]+(?P<h2>(?:[0-9a-fA-F]{2}){1,8}))?"
    r"(?:[ \t]*\|(?P<ascii>.*)|[ \t]*(?:---)?[ \t]*)$"
)


def parse_inline_hex(text: str) -> bytes | None:
    """``"c0000a04..."`` -> bytes; ``""`` -> ``b""``; anything else -> None.

    Groups of whole bytes separated by spaces (``"c0 00 0a 04"``) are accepted too."""
    text = text.strip()
    if " " in text or "\t" in text:
        groups = text.split()
        if any(len(g) % 2 for g in groups):
            return None
        text = "".join(groups)
    if len(text) % 2 or _HEX_RUN.fullmatch(text) is None:
        return None
    return bytes.fromhex(text)


def parse_dump_line(line: str) -> bytes | None:
    """One continuation line of a ``HexFormatter`` dump -> its bytes, or None."""
    # Fast path: an unmangled line has its bar at column 38 and two hex groups before it.
    if len(line) > 38 and line[38] == "|" and line.startswith("    "):
        try:
            data = bytes.fromhex(line[4:37])
        except ValueError:
            data = None
        if data:
            return data
    m = _DUMP_LINE.match(line)
    if m is None:
        return None
    h1, h2 = m.group("h1"), m.group("h2")
    if h2 is not None and len(h1) != 16:
        return None  # the first group always holds 8 whole bytes when a second follows
    return bytes.fromhex(h1 + (h2 or ""))


def parse_joined_dump(text: str, expected: int | None = None) -> bytes | None:
    """A dump whose continuation lines were glued onto one line with single spaces.

    ``"c0000824... 0007071220555555 | ...$........ UUU 5555... | UUUU"``: each row is one
    or two hex groups, ``|``, one space and exactly as many ASCII characters as the row
    has bytes, so the rows can be split again without guessing.
    """
    out = bytearray()
    pos = 0
    n = len(text)
    while pos < n:
        while pos < n and text[pos] == " ":
            pos += 1
        if pos >= n:
            break
        bar = text.find("|", pos)
        if bar < 0:
            # A last row cut before its ASCII view.
            row = parse_inline_hex(text[pos:].replace(" ", ""))
            if row is None or len(row) > 16:
                return None
            out += row
            break
        groups = text[pos:bar].split()
        if not 1 <= len(groups) <= 2 or (len(groups) == 2 and len(groups[0]) != 16):
            return None
        row = parse_inline_hex("".join(groups))
        if not row or len(row) > 16:
            return None
        out += row
        # Skip "| " and the ASCII view of this row (one character per byte).
        pos = bar + 2 + len(row)
        if expected is not None and len(out) >= expected:
            break
    if expected is not None and len(out) > expected:
        return None
    return bytes(out)


def is_cut_marker(line: str) -> bool:
    """A line a user put in place of dump lines they cut (``.``, ``...``, ``[...]``)."""
    s = line.strip().strip("[]()")
    return bool(s) and s.strip(".…") == ""


_REPR_ESCAPES = {"\\": 0x5C, "'": 0x27, '"': 0x22, "n": 0x0A, "r": 0x0D, "t": 0x09,
                 "a": 0x07, "b": 0x08, "f": 0x0C, "v": 0x0B, "0": 0x00}


def parse_repr_bytes(text: str) -> tuple[bytes, bool, str] | None:
    """Python 2 or 3 ``repr()`` of bytes at the start of ``text`` (esptool 2.2-2.3).

    Returns ``(bytes, closed, rest)``: ``closed`` is False when the literal was cut
    before its closing quote (a truncated paste); ``rest`` is the text after it.
    None when ``text`` does not start with a bytes or str literal.
    """
    s = text.lstrip()
    i = 0
    if s[:1] == "b":
        i = 1
    if i >= len(s) or s[i] not in "'\"":
        return None
    quote = s[i]
    i += 1
    out = bytearray()
    n = len(s)
    while i < n:
        c = s[i]
        if c == quote:
            return bytes(out), True, s[i + 1:]
        if c == "\\" and i + 1 < n:
            e = s[i + 1]
            if e == "x" and _HEX_RUN.fullmatch(s[i + 2:i + 4]) and i + 3 < n:
                out.append(int(s[i + 2:i + 4], 16))
                i += 4
                continue
            code = _REPR_ESCAPES.get(e)
            if code is not None:
                out.append(code)
                i += 2
                continue
            out.append(0x5C)
            i += 1
            continue
        code = ord(c)
        out.append(code if code < 256 else 0x3F)
        i += 1
    return bytes(out), False, ""


def _ascii_view(row: bytes) -> str:
    return "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in row)


def format_hexdump(data: bytes) -> str:
    """``HexFormatter``'s rendering: inline up to 16 bytes, else ``\\n``-led rows."""
    if len(data) <= 16:
        return data.hex()
    rows = []
    for i in range(0, len(data), 16):
        row = data[i:i + 16]
        rows.append(f"\n    {row[:8].hex():<16} {row[8:].hex():<16} | {_ascii_view(row)}")
    return "".join(rows)
