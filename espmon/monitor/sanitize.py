"""Untrusted device text -> text that is safe to put on a terminal.

Only SGR colour sequences (``ESC [ params m``) pass. Every other control character or
escape sequence is made visible as text: ``ESC ] 52 ; ...`` (an OSC clipboard write)
becomes the nine characters ``\\x1b]52;...``, a bell becomes ``\\x07``, C1 controls (some
terminals read U+009B as CSI) become ``\\x9b``. Nothing is dropped. Tabs stay.

Invalid UTF-8 is turned into ``\\xNN`` by the decoder (``errors="backslashreplace"``),
so a line is never lost to a decoding error either.
"""

from __future__ import annotations

import re

__all__ = ["decode", "has_unsafe", "sanitize", "strip_sgr", "SGR"]

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
