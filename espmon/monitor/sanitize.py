"""Untrusted device text -> text that is safe to put on a terminal.

Only SGR colour sequences (``ESC [ params m``) pass. Every other control character or
escape sequence is made visible as text: ``ESC ] 52 ; ...`` (an OSC clipboard write)
becomes the nine characters ``\\x1b]52;...``, a bell becomes ``\\x07``, C1 controls (some
terminals read U+009B as CSI) become ``\\x9b``. Nothing is dropped. Tabs stay.

Invalid UTF-8 is turned into ``\\xNN`` by the decoder (``errors="backslashreplace"``),
so a line is never lost to a decoding error either.
"""

from __future__ import annotations

import codecs
import re

__all__ = ["clean_block", "decode", "has_unsafe", "sanitize", "strip_sgr", "SGR"]

SGR = re.compile(r"\x1b\[[0-9;:]*m")
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# What sanitize() rewrites: any control character except TAB and the ESC that starts an SGR
# sequence (those are left alone, so the substitution's callback runs only for the rare
# unsafe character, not for the two colour codes of every ESP-IDF log line).
_NOT_SGR = re.compile(r"\x1b(?!\[[0-9;:]*m)|[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f-\x9f]")
_SAFE_ASCII = bytes(range(0x20, 0x7F)) + b"\t\n"
_NAMED = {"\r": "\\r", "\x0b": "\\v", "\x0c": "\\f", "\x08": "\\b"}


def _escape(match: re.Match[str]) -> str:
    s = match.group()
    return _NAMED.get(s) or f"\\x{ord(s):02x}"


def has_unsafe(text: str) -> bool:
    """Cheap pre-check for a whole block: does anything need escaping (or is there ESC)?"""
    if text.isascii():  # the usual case: a C-speed byte filter instead of a regex scan
        return bool(text.encode("ascii").translate(None, _SAFE_ASCII))
    return _UNSAFE.search(text) is not None


def sanitize(text: str) -> str:
    """Escape every control character except tab and the ESC of SGR sequences."""
    if not has_unsafe(text):
        return text
    return _NOT_SGR.sub(_escape, text)


def strip_sgr(text: str) -> str:
    return SGR.sub("", text) if "\x1b" in text else text


def decode(data: bytes, encoding: str = "utf-8") -> str:
    """Bytes -> str, invalid bytes as ``\\xNN`` (never dropped, never an exception)."""
    try:
        return data.decode(encoding, "backslashreplace")
    except LookupError:
        return data.decode("utf-8", "backslashreplace")


# --- whole blocks ----------------------------------------------------------------------
# For UTF-8 (the usual case) the unsafe characters of a decoded block are found on its bytes
# with C-speed passes instead of a regex walking every character: an ASCII control decodes
# from its own byte only, a C1 control only from b"\xc2\x80".."\xc2\x9f", and an invalid
# byte turns into "\\xNN" text.
_NOT_CONTROL = bytes(range(0x20, 0x7F)) + b"\t\n" + bytes(range(0x80, 0x100))
_C1_UTF8 = re.compile(rb"\xc2[\x80-\x9f]")
_LONE_CR = re.compile(rb"\r(?!\n)")
_LONE_ESC = re.compile(r"\x1b(?!\[[0-9;:]*m)")
_UTF8_NAMES: dict[str, bool] = {}


def _is_utf8(encoding: str) -> bool:
    known = _UTF8_NAMES.get(encoding)
    if known is None:
        try:
            known = codecs.lookup(encoding).name == "utf-8"
        except LookupError:
            known = True  # decode() falls back to UTF-8
        _UTF8_NAMES[encoding] = known
    return known


def _escape_chars(text: str, chars: set[str]) -> str:
    """``sanitize`` for a text whose unsafe characters besides ESC are ``chars``: one C-speed
    replace each (every escape starts with a backslash, which no SGR parameter is, so the
    replacements neither make nor break a colour sequence, in any order)."""
    for ch in sorted(chars):
        text = text.replace(ch, _NAMED.get(ch) or f"\\x{ord(ch):02x}")
    return text


def clean_block(block: bytes, encoding: str = "utf-8") -> tuple[str, str]:
    """A block of complete lines as read -> (text to show, plain text), decoded and safe.

    CRLF becomes LF. The shown text keeps SGR colours, the plain text (for the parser,
    filters, the text log) has none; with nothing to remove both are the same object.
    Equal to ``decode`` then ``sanitize`` and ``strip_sgr`` on each line, in bulk.
    """
    if b"\r" in block:
        # CR and LF are never inside a multi-byte character: fine to do before decoding
        block = block.replace(b"\r\n", b"\n") if _LONE_CR.search(block) else block.replace(b"\r", b"")
    text = decode(block, encoding)
    if not _is_utf8(encoding):
        return _clean_text(text)
    controls = block.translate(None, _NOT_CONTROL)
    chars: set[str] = set()
    if controls and controls.translate(None, b"\x1b"):
        chars = {chr(c) for c in set(controls) if c != 0x1B}
    if b"\xc2" in block:
        chars.update(m.decode() for m in set(_C1_UTF8.findall(block)))
    if b"\x1b" not in controls:
        text = _escape_chars(text, chars)
        return text, text
    plain = SGR.sub("", text)
    if "\x1b" not in plain:  # every ESC starts a colour: escaping commutes with removing them
        if not chars:
            return text, plain
        return _escape_chars(text, chars), _escape_chars(plain, chars)
    text = _LONE_ESC.sub("\\\\x1b", _escape_chars(text, chars))  # an ESC that is not a colour
    return text, SGR.sub("", text)


def _clean_text(text: str) -> tuple[str, str]:
    """``clean_block`` for a text decoded from another encoding (regex passes)."""
    if has_unsafe(text):
        plain = SGR.sub("", text) if "\x1b" in text else text
        if has_unsafe(plain):  # something besides colours: escape it
            text = sanitize(text)
            plain = SGR.sub("", text)
        return text, plain
    return text, text
