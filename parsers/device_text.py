"""Device console text as a recogniser should see it.

Serial captures carry CR debris, ANSI colour codes (or what is left of them once a paste
lost the ESC byte), garbage bytes after a reset, and prefixes that terminal programs add
(Arduino IDE, PlatformIO, ESPHome, CoolTerm-style brackets, e-mail quoting). ``clean_line``
removes all of that, cheaply on the common case.
"""

from __future__ import annotations

import re

__all__ = ["clean_line", "CHANGED_START"]

_SGR = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b")
_BARE_SGR = re.compile(r"\[[0-9;]*m")
_JUNK = re.compile(r"[^\x20-\x7e]+")
# Prefixes terminal programs add (tried only when the line starts with a digit, '[' or '>'):
#   "12:34:56.789 -> " Arduino IDE, "12:34:56.789 > " PlatformIO, "[12:34:56]" ESPHome,
#   "[Tue Feb 19 18:02:49.225 2019] ", "[19:46:42:120] ", "2019-12-12 09:45:36,678 # ",
#   "2017.07.27, 13:20:11.866, ", "> " (e-mail quoting, but not ">>>stack>>>")
_PREFIX = re.compile(
    r"\d\d:\d\d:\d\d(?:[.:,]\d+)?\s*(?:->|>)\s?"
    r"|\[[^\]]{0,40}?\d\d:\d\d:\d\d[^\]]{0,24}\]\s?"
    r"|\d{4}[-./]\d\d[-./]\d\d,?[ T]\d\d:\d\d:\d\d(?:[.,]\d+)?\s*[#,>|-]?\s?"
    r"|>(?!>)\s?"
)


# The starts of a line (no ESC, no CR in it) that ``clean_line`` may cut away: indentation,
# markdown quotes, bracketed or ``>`` prefixes, terminal timestamps, junk bytes. A line that
# starts otherwise comes out of ``clean_line`` as it went in, bar trailing ``␊``/``␍`` glyphs:
# the parser's block pre-filter (``device_scan``) relies on that, so keep the two in step.
# (No newline in the class: the pre-filter matches line starts across a whole block.)
CHANGED_START = r"[^\x21-\x7e\n]|[`\[>]|\d\d:|\d{4}[-./]"


def _drop_sgr(m: re.Match) -> str:
    """Remove an escape sequence, except a colour that starts a log line in mid-line (a new
    line glued to garbage or to an unfinished one): that one keeps its ``[0;32m`` so the
    parser sees where the glued line starts."""
    code, end, text = m[0], m.end(), m.string
    if m.start() > 0 and code.startswith("\x1b[0;3") and text[end + 1:end + 3] == " (" and text[end:end + 1] in "EWIDV":
        return code[1:]
    return ""


def clean_line(line: str) -> str:
    """The text a recogniser should see: no CR debris, colours, terminal prefixes or reset junk."""
    if "\r" in line:
        line = line.rstrip("\r\n")
        if "\r" in line:  # progress output overwritten in place: the terminal shows the last part
            line = line[line.rindex("\r") + 1:]
    if "\x1b" in line:
        if line.startswith("\x1b["):
            j = line.find("m", 2, 12)
            if j > 0:
                line = line[j + 1:]
        if line.endswith("\x1b[0m"):
            line = line[:-4]
        if "\x1b" in line:
            line = _SGR.sub(_drop_sgr, line)
    for _ in range(4):
        c = line[:1]
        if not c or ("A" <= c <= "Z" or "a" <= c <= "z" or c in "*-/"):
            break
        if c == " " or c == "\t" or c == "`":  # indentation, markdown code quotes
            line = line.lstrip(" \t`")
        elif c == "[" and (m := _BARE_SGR.match(line)):  # ESC lost in a paste: "[0;32mI (34) boot: ..."
            line = line[m.end():]
            if line.endswith("[0m"):
                line = line[:-3]
                if line[-1:] > "~":  # the ESC shown as a glyph: "␛[0m", "�[0m"
                    line = line[:-1]
        elif c in "[>0123456789" and (m := _PREFIX.match(line)):
            line = line[m.end():]
        elif not (" " <= c <= "~"):
            line = _JUNK.sub("", line, 1)
        else:
            break
    if line[-1:] in ("␊", "␍"):
        line = line.rstrip("␍␊")
    return line
