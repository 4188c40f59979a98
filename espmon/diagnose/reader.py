"""Read one input for ``espmon doctor``: any mix of an esptool trace, esptool's console output
and a device log, in blocks, into ``Facts``.

Streaming: text goes through in blocks of whole lines and nothing but the bounded facts is
kept. A block with no esptool or trace words goes to the device-log parser's block scan
(``iter_text``, which looks only at the few lines that can be more than a log line); other
blocks go line by line to both parsers, trace lines to neither (the trace analyzer reads
those). Line numbers are the file's: both parsers count every line.
"""

from __future__ import annotations

import re

from espmon.diagnose.facts import Facts
from parsers.device_events import LogLine
from parsers.device_log import DeviceLogParser
from parsers.esptool_output import (
    BaudChange,
    ChipName,
    Connecting,
    EsptoolBanner,
    EsptoolError,
    EsptoolOutputParser,
    FlashWrite,
    HardReset,
    SerialPort,
)

__all__ = ["DoctorReader", "TRACE_HINT"]

#: what only an esptool ``--trace`` prints
TRACE_HINT = re.compile(r"TRACE \+\d|^\s*TRACE \+|--- Cmd [A-Z_]+ \(0x", re.M)
# Is a block (partly) esptool's console output, or pySerial's errors under it? Then it is read
# line by line. What esptool prints starts a line (after a paste's prompt, quoting or time);
# an error quoted inside another line names esptool or an errno. (An alternation of all of
# esptool's words, or a find per word, costs 3-6x the parser's own block scan.)
_ESPTOOL_LINE = re.compile(
    r"^[ \t>$#\[\]0-9:.\-]*(?:esptool|Serial port|Connecting|Chip |Detecting chip|Writing|Wrote|A fatal|A serial"
    r"|Hard reset|Changing baud|Stub running|\S+ failed to connect|serial\.|OSError|IOError|PermissionError"
    r"|FileNotFoundError|Traceback|ERROR|Failed to|Could not)", re.M)
_ESPTOOL_WORDS = ("esptool", "Errno", "rror occurred")


def _has_esptool(text: str) -> bool:
    return any(word in text for word in _ESPTOOL_WORDS) or _ESPTOOL_LINE.search(text) is not None


_SGR = re.compile(r"\x1b\[[0-9;]*m")  # the colours of ESP-IDF's log (the parser reads any other escape)
_HEX_ROW = re.compile(r"\s+[0-9a-f]{2,16}(?: [0-9a-f]{2,16})*\s*\|")
# esptool events that only esptool's console prints (a command line alone is in READMEs too)
_STRONG = (EsptoolBanner, SerialPort, Connecting, ChipName, FlashWrite, HardReset, BaudChange, EsptoolError)


class DoctorReader:
    def __init__(self, trace: bool = False) -> None:
        self.facts = Facts()
        self.trace = trace
        self.device = DeviceLogParser()
        self.esptool = EsptoolOutputParser()
        self.device_lines = 0  # lines that made a device event
        self.esptool_lines = 0  # lines that made a strong esptool event
        self.lines = 0
        self._carry = ""

    def feed(self, chunk: str) -> None:
        text = self._carry + chunk
        cut = text.rfind("\n") + 1
        self._carry = text[cut:]
        if cut:
            self._block(text[:cut])

    def end(self) -> Facts:
        if self._carry:
            self._block(self._carry + "\n")
            self._carry = ""
        for event in self.device.end():
            self._device(event)
        self.facts.set_chip(self.device.chip, None)  # told by a log tag (boot.esp32c2) or the ESP8266's words
        self.facts.finish()
        return self.facts

    # ---------------------------------------------------------------------------------

    def _block(self, text: str) -> None:
        count = text.count("\n")
        self.lines += count
        if self.trace or _has_esptool(text):
            self._by_line(text)
            return
        if "\x1b" in text or "\r" in text:
            # as the monitor hands it over: the block scan is 6x faster on text without colours
            # and CRs, and removing them (C-speed passes) costs less than that (line numbers stay)
            text = _SGR.sub("", text.replace("\r\n", "\n"))
        facts = self.facts
        last = 0
        for start, end, events in self.device.iter_text(text):
            self._after_entry(text, last, start)
            self.device_lines += 1
            for event in events:
                if type(event) is not LogLine:
                    self._device(event)
                else:
                    facts.saw_output()
            last = end
        self._after_entry(text, last, len(text))
        self.esptool.skip(count)

    def _after_entry(self, text: str, start: int, end: int) -> None:
        boot = self.facts.boot
        if boot is not None and boot.entry_line is not None and not boot.output_after_entry:
            if text[start:end].strip():
                boot.output_after_entry = True

    def _by_line(self, text: str) -> None:
        facts, device, esptool = self.facts, self.device, self.esptool
        for line in text.split("\n")[:-1]:
            if self.trace and ("TRACE" in line or _HEX_ROW.match(line)):
                device.feed("")
                esptool.skip(1)
                continue
            found = False
            for event in esptool.feed(line):
                facts.add_esptool(event)
                found = found or isinstance(event, _STRONG)
            if found:
                self.esptool_lines += 1
            events = device.feed(line)
            if events:
                self.device_lines += 1
                for event in events:
                    if type(event) is not LogLine:
                        self._device(event)
                    else:
                        facts.saw_output()
            elif line.strip() and not found:
                facts.saw_output()

    def _device(self, event: object) -> None:
        self.facts.add_device(event, self.device.chip)  # type: ignore[arg-type]
