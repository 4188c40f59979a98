"""What a text that holds no esptool trace looks like, said in a few words for an error line.

Pure: a sample of the text in, a phrase out (``"a device log"``, ``"JSON"``, ...), with the
command that reads it where espmon has one.
"""

from __future__ import annotations

import re

__all__ = ["describe_text"]

_DEVICE = re.compile(
    r"(?:ets [A-Z][a-z]{2} |ESP-ROM:|rst:0x|rst cause:|[IWEDV] \(\d+\) \S+:|Guru Meditation|Backtrace:"
    r"|abort\(\) was called|CORRUPT HEAP|Fatal exception|Exception \(\d+\)|Soft WDT reset|load:0x|entry 0x"
    r"|Brownout detector|[IWE] \(\d+\)|>>>stack>>>|--------------- CUT HERE|waiting for download)")
_ESPTOOL = re.compile(r"^(?:esptool(?:\.py)? v\d|Connecting\.\.\.|Serial port \S+|A fatal error occurred)", re.M)


def _is_json(text: str) -> bool:
    """The whole sample, or its first line (JSON Lines), parses as JSON."""
    import json

    for candidate in (text, text.split("\n", 1)[0]):
        try:
            json.loads(candidate)
            return True
        except ValueError:
            continue
    return len(text) >= 60000 and text[:1] == "{"  # a big document cut by the sample size


def describe_text(sample: str) -> str:
    text = sample.lstrip("\ufeff")
    if not text.strip():
        return "empty input"
    first = text.lstrip()
    if first[:1] in "{[" and _is_json(first):
        return "JSON, not a trace"
    if re.match(r"#{1,6} \S", first):
        return "Markdown text, not a trace"
    if _ESPTOOL.search(text):
        return "esptool's console output without --trace: run the command again with esptool --trace"
    if _DEVICE.search(text):
        return "a device log (what the chip prints; espmon monitor shows one live, annotated)"
    return "text without esptool trace lines"
