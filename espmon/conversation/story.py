"""The session story an esptool trace tells: chip, ROM or stub, baud changes, flash
regions written/read/erased with their MD5 checks, and how the session ended.

:class:`Story` is fed by :class:`espmon.conversation.analyzer.Analyzer` as packets are paired, and
:meth:`Story.summary` returns the ``summary`` record of the JSON Lines schema.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from espmon.conversation.outcome import CLOSING, outcome
from espmon.diagnose.advice import advice_for
from parsers.capture_trace import HOST_CLOSED
from parsers.chips import (
    CHIP_DETECT_MAGIC_REG,
    UART_DATE_REG_V1,
    Chip,
    chip_by_chip_id,
    chip_by_magic,
    chip_by_uart_date,
    find_chip,
)
from parsers.protocol import Opcode, Request
from parsers.trace import FORMAT_HEX, FORMAT_REPR, FORMAT_V5

if TYPE_CHECKING:
    from espmon.conversation.records import CommandRecord, ResponseRecord
    from parsers.trace_frames import PartialFrame

__all__ = ["Story", "Region", "FlashRead"]

# Chips chips.py has no facts for, by GET_SECURITY_INFO chip id / magic (esptool targets/*.py).
_CHIP_IDS = {12: "ESP32-C2", 16: "ESP32-H2", 18: "ESP32-P4", 20: "ESP32-C61", 23: "ESP32-C5",
             25: "ESP32-H21", 28: "ESP32-H4", 31: "ESP32-E22", 32: "ESP32-S31"}
_MAGICS = {0x6F51306F: "ESP32-C2", 0x7C41A06F: "ESP32-C2", 0xD7B73E80: "ESP32-H2"}
_CHIP_NAMES = ("ESP8266", "ESP32", "ESP32-S2", "ESP32-S3", "ESP32-C2", "ESP32-C3", "ESP32-C5", "ESP32-C6",
               "ESP32-C61", "ESP32-H2", "ESP32-H21", "ESP32-H4", "ESP32-P4", "ESP32-E22", "ESP32-S31")

# esptool's own lines that say something about the session (2.x .. 5.x wordings).
_FATAL = re.compile(r"(A fatal error occurred: .*|A serial exception error occurred: .*|"
                    r"(?:esptool\.)?(?:util\.)?FatalError: .*)")
_VERSION = re.compile(r"\besptool(?:\.py)? v(\d+\.\d+(?:\.\d+)?(?:[-.\w]*)?)")
_CHIP_TEXT = re.compile(r"(?:Chip is |Chip type: +|Detecting chip type\.\.\. ?|Connected to )(ESP[\w-]+)")
_DONE = re.compile(r"Hard resetting|^Leaving\.\.\.|Staying in bootloader|Hash of data verified|"
                   r"Flash memory erased|Chip erase completed|Erase completed|^Read \d+ bytes at|"
                   r"^Read \d+ bytes from|^Chip ID:|^Detected flash size|^MAC:|^Manufacturer:")
# The line that closes a traceback: an exception name, maybe dotted, maybe ": message".
_EXCEPTION = re.compile(r"(?!(?:raise|pass|return|continue|break|yield)\b)[A-Za-z_][\w.]*(?::\s.*)?$")
_STUB_TEXT = re.compile(r"Stub running|Stub flasher running|Stub is already running")
# Words each of those patterns needs: a line without them skips the search (a regex of
# many alternatives costs ~20 us on a long line, and most of esptool's lines are none of these).
_FATAL_WORD = "rror"
_DONE_WORDS = ("Hard resetting", "Leaving...", "Staying in bootloader", "Hash of data verified", "Flash memory erased",
               "rase completed", "Read ", "Chip ID:", "Detected flash size", "MAC:", "Manufacturer:")
_BOOT_TEXT = re.compile(rb"Brownout detector was triggered|brown.?out[\w]*", re.I)
_BOOT_LOG = re.compile(rb"(?:rst:0x[0-9a-f]+[^\r\n]*|boot:0x[0-9a-f]+[^\r\n]*|invalid header: 0x[0-9a-f]+|"
                       rb"ets [A-Z][a-z]{2} [ \d]\d \d{4}[^\r\n]*|ESP-ROM:[^\r\n]*)")

_VERSIONS = {FORMAT_REPR: "2.2-2.3", FORMAT_V5: "5.x"}
# The ops Story.command and Story.response look at: any other op (most of a session's
# register traffic) skips their chains of comparisons.
_COMMAND_OPS = frozenset({Opcode.FLASH_BEGIN, Opcode.FLASH_DEFL_BEGIN, Opcode.FLASH_DATA, Opcode.FLASH_DEFL_DATA,
                          Opcode.FLASH_ENCRYPT_DATA, Opcode.MEM_BEGIN, Opcode.MEM_END, Opcode.CHANGE_BAUDRATE,
                          Opcode.ERASE_FLASH, Opcode.ERASE_REGION, Opcode.SPI_FLASH_MD5, Opcode.READ_FLASH})
_RESPONSE_OPS = frozenset({Opcode.READ_REG, Opcode.GET_SECURITY_INFO, Opcode.SYNC, Opcode.FLASH_DATA,
                           Opcode.FLASH_DEFL_DATA, Opcode.FLASH_ENCRYPT_DATA, Opcode.SPI_FLASH_MD5, Opcode.READ_FLASH})


@dataclass
class Region:
    """One FLASH_BEGIN / FLASH_DEFL_BEGIN .. data blocks of a write."""

    offset: int
    size: int  # what the begin announced (uncompressed size; rounded up by ROMs)
    blocks_expected: int
    block_size: int
    compressed: bool
    encrypted: bool
    line: int
    t0: float
    t_last: float | None = None
    blocks: int = 0  # sent (each seq once)
    acked: int = 0  # answered OK
    wire_bytes: int = 0
    next_seq: int = 0
    failed: str | None = None
    md5: str | None = None  # "ok", "mismatch" or None when not checked
    damaged: bool = False  # block bytes are missing from the trace: no MD5 of our own
    missing: int = 0  # block bytes the trace lost (esptool 5.6 dropped dump rows, a cut paste)
    damaged_blocks: int = 0
    _inflate: Any = None
    _hash: Any = field(default_factory=hashlib.md5)
    _held: bytes = b""  # the newest plain bytes, not hashed yet (the MD5 may stop inside them)
    _hashed: int = 0

    def lost(self, seq: int, declared: int | None, got: int) -> None:
        """Block ``seq`` reached the trace short: ``got`` of the ``declared`` bytes of its header."""
        self.damaged = True
        if seq == self.next_seq:
            self.damaged_blocks += 1
            if declared is not None and declared > got:
                self.missing += declared - got
                self.wire_bytes += declared - got  # the block's header says what was sent

    def add_block(self, seq: int, data: bytes, t: float) -> None:
        if seq != self.next_seq:
            return  # a resend of a block already counted, or a gap we cannot hash across
        self.next_seq += 1
        self.blocks += 1
        self.wire_bytes += len(data)
        if self.compressed:
            if self._inflate is False:
                return  # the stream broke at an earlier block: nothing after it can be inflated or hashed
            if self._inflate is None:
                self._inflate = zlib.decompressobj()
            try:
                data = self._inflate.decompress(data)
            except zlib.error:
                self._inflate = False  # type: ignore[assignment]
                return
        if self._held:
            self._hash.update(self._held)
            self._hashed += len(self._held)
        self._held = data

    @property
    def written(self) -> int:
        return self._hashed + len(self._held)

    def md5_of(self, size: int) -> str | None:
        """MD5 of the first ``size`` bytes written, as the chip computes it."""
        if self.damaged or self._inflate is False or size < self._hashed or size > self.written:
            return None
        h = self._hash.copy()
        h.update(self._held[: size - self._hashed])
        return h.hexdigest()

    def to_json(self) -> dict[str, Any]:
        seconds = None if self.t_last is None else round(self.t_last - self.t0, 3)
        size = self.written if self.compressed and self._inflate not in (None, False) else self.size
        done = min(size, self.written or self.wire_bytes)
        return {
            "offset": self.offset, "size": size, "compressed_size": self.wire_bytes if self.compressed else None,
            "blocks": self.acked, "blocks_sent": self.blocks, "blocks_expected": self.blocks_expected,
            "block_size": self.block_size,
            "encrypted": self.encrypted, "seconds": seconds,
            "kbit_s": round(done * 8 / seconds / 1000, 1) if seconds else None,
            "md5": self.md5, "complete": self.acked >= self.blocks_expected and self.failed is None,
            "line": self.line, "missing_bytes": self.missing, "damaged_blocks": self.damaged_blocks,
        }


@dataclass
class FlashRead:
    """A stub READ_FLASH: data frames, the host's acks and the final MD5 digest."""

    offset: int
    length: int
    line: int
    t0: float
    received: int = 0
    t_last: float | None = None
    md5: str | None = None
    _hash: Any = field(default_factory=hashlib.md5)

    def to_json(self) -> dict[str, Any]:
        seconds = None if self.t_last is None else round(self.t_last - self.t0, 3)
        return {"offset": self.offset, "size": self.length, "received": self.received, "seconds": seconds,
                "md5": self.md5, "line": self.line}


class Story:
    """Everything the summary says, accumulated as the records go by."""

    def __init__(self) -> None:
        self.format: str | None = None
        self.esptool: str | None = None
        self.chip: str | None = None
        self.chip_evidence: str | None = None
        self.chip_facts: Chip | None = None
        self._chip_from_wire = False
        self.stub = False
        self.stub_line: int | None = None
        self.baud: list[int] = []
        self.regions: list[Region] = []
        self.reads: list[FlashRead] = []
        self.erased: list[dict[str, Any]] = []
        self.ram: list[dict[str, Any]] = []
        self.md5_checks: list[dict[str, Any]] = []
        self.commands = self.responses = self.timeouts = self.invalid = 0
        self.retries = self.warnings = self.echoes = self.error_replies = 0
        self.fatal: str | None = None
        self.fatal_line: int | None = None
        self.errors: list[str] = []
        self.done = False  # esptool printed a line it prints when a command succeeded
        self.closed = False  # esptool printed its closing line (the --after action)
        self.old_timeouts: bool | None = None
        self.reading: FlashRead | None = None
        self._region: Region | None = None
        self._md5_request: tuple[int, int, int] | None = None  # (address, size, line)
        self.awaiting: CommandRecord | None = None  # last request with no reply yet
        self.wait_reply: bool = True
        self.last_failure: str | None = None
        self.truncated = False
        self._boot_evidence: str | None = None
        self._traceback: int | None = None

    # --- facts from the wire -------------------------------------------------------

    @property
    def status_len(self) -> int | None:
        if self.stub:
            return 2
        return self.chip_facts.rom_status_len if self.chip_facts is not None else None

    def set_format(self, family: str) -> None:
        self.format = family

    def _set_chip(self, name: str, evidence: str, wire: bool) -> None:
        if self._chip_from_wire and not wire:
            return
        self.chip, self.chip_evidence = name, evidence
        self._chip_from_wire = wire
        self.chip_facts = find_chip(name)

    def command(self, rec: CommandRecord, pkt: Request, wait: bool = True, complete: bool = True) -> None:
        self.commands += 1
        self.awaiting = rec
        self.wait_reply = wait
        if rec.retry:
            self.retries += 1
        op, f = pkt.op, pkt.fields
        if self.reading is not None:
            self.reading = None
        if op not in _COMMAND_OPS:
            return
        if op in (Opcode.FLASH_BEGIN, Opcode.FLASH_DEFL_BEGIN) and "offset" in f and (f["erase_size"] or f["blocks"]):
            self._region = Region(f["offset"], f["erase_size"], f["blocks"], f["block_size"],
                                  op == Opcode.FLASH_DEFL_BEGIN, bool(f.get("encrypted")), rec.line, rec.t)
            self.regions.append(self._region)
        elif op in (Opcode.FLASH_DATA, Opcode.FLASH_DEFL_DATA, Opcode.FLASH_ENCRYPT_DATA) and "seq" in f:
            if self._region is not None:
                data = f.get("data", b"")
                if not complete:
                    self._region.lost(f["seq"], f.get("data_len"), len(data))
                self._region.add_block(f["seq"], data, rec.t)
        elif op == Opcode.MEM_BEGIN and "offset" in f:
            self.ram.append({"offset": f["offset"], "size": f["size"], "blocks": f["blocks"], "line": rec.line})
        elif op == Opcode.MEM_END and "entry" in f:
            if self.ram:
                self.ram[-1]["entry"] = f["entry"]
        elif op == Opcode.CHANGE_BAUDRATE and "new_baud" in f:
            # The stub is told the current rate too (the ROM gets 0): start the list with it.
            if not self.baud and f.get("old_baud"):
                self.baud.append(f["old_baud"])
            self.baud.append(f["new_baud"])
        elif op == Opcode.ERASE_FLASH:
            self.erased.append({"offset": 0, "size": None, "line": rec.line})
        elif op == Opcode.ERASE_REGION and "offset" in f:
            self.erased.append({"offset": f["offset"], "size": f["size"], "line": rec.line})
        elif op == Opcode.SPI_FLASH_MD5 and "address" in f:
            self._md5_request = (f["address"], f["size"], rec.line)
        elif op == Opcode.READ_FLASH and "offset" in f:
            self.reads.append(FlashRead(f["offset"], f["length"], rec.line, rec.t))

    def response(self, rec: ResponseRecord, cmd: CommandRecord | None) -> None:
        self.responses += 1
        if cmd is None or rec.repeat:
            return
        self.awaiting = None
        op = rec.opcode
        if not rec.ok:
            if op == Opcode.GET_SECURITY_INFO:
                return  # ESP32/ESP8266 ROMs: unsupported; esptool falls back to the magic register
            self.error_replies += 1
            what = f"{rec.op} (line {cmd.line}) failed: status {rec.status}"
            if rec.error is not None:
                what += f", error 0x{rec.error:02x} ({rec.error_text})"
            self.errors.append(what)
            self.last_failure = what
            if self._region is not None and op in (Opcode.FLASH_DATA, Opcode.FLASH_DEFL_DATA,
                                                   Opcode.FLASH_ENCRYPT_DATA, Opcode.FLASH_BEGIN,
                                                   Opcode.FLASH_DEFL_BEGIN):
                self._region.failed = what
            return
        self.last_failure = None
        if op not in _RESPONSE_OPS:
            return
        if op == Opcode.READ_REG:
            address = cmd.fields.get("address")
            if address == CHIP_DETECT_MAGIC_REG:
                chip = chip_by_magic(rec.value)
                name = chip.name if chip else _MAGICS.get(rec.value)
                if name:
                    self._set_chip(name, f"CHIP_DETECT_MAGIC = 0x{rec.value:08x} (line {rec.line})", True)
            elif address == UART_DATE_REG_V1:
                chip = chip_by_uart_date(rec.value)
                if chip:
                    self._set_chip(chip.name, f"UART_DATE = 0x{rec.value:08x} (line {rec.line})", True)
        elif op == Opcode.GET_SECURITY_INFO and "chip_id" in rec.fields:
            chip = chip_by_chip_id(rec.fields["chip_id"])
            name = chip.name if chip else _CHIP_IDS.get(rec.fields["chip_id"])
            if name:
                self._set_chip(name, f"GET_SECURITY_INFO chip_id = {rec.fields['chip_id']} (line {rec.line})", True)
        elif op == Opcode.SYNC and rec.value == 0 and not self.stub:
            self.stub, self.stub_line = True, rec.line  # esptool 3+: value 0 means a stub answered
        elif op in (Opcode.FLASH_DATA, Opcode.FLASH_DEFL_DATA, Opcode.FLASH_ENCRYPT_DATA):
            if self._region is not None:
                self._region.t_last = rec.t
                self._region.acked += 1
        elif op == Opcode.SPI_FLASH_MD5 and self._md5_request is not None and "md5" in rec.fields:
            address, size, line = self._md5_request
            self._md5_request = None
            expected = None
            region = next((r for r in reversed(self.regions) if r.offset == address), None)
            if region is not None:
                expected = region.md5_of(size)
            result = None if expected is None else ("ok" if expected == rec.fields["md5"] else "mismatch")
            if region is not None:
                region.md5 = result
            self.md5_checks.append({"offset": address, "size": size, "md5": rec.fields["md5"],
                                    "expected": expected, "result": result, "line": line})
            if result == "mismatch":
                self.errors.append(f"MD5 of 0x{address:x}+0x{size:x} does not match the data written (line {line})")
        elif op == Opcode.READ_FLASH and self.reads:
            self.reading = self.reads[-1]

    def read_frame(self, data: bytes, t: float) -> tuple[str, dict[str, Any]]:
        """A chip frame during READ_FLASH: data, then the 16-byte MD5 of it all."""
        rd = self.reading
        assert rd is not None
        if rd.received < rd.length:
            start = rd.offset + rd.received
            rd.received += len(data)
            rd._hash.update(data)
            rd.t_last = t
            return "read_data", {"offset": start, "received": rd.received, "total": rd.length}
        self.reading = None
        if len(data) == 16:
            ok = data == rd._hash.digest()
            rd.md5 = "ok" if ok else "mismatch"
            if not ok:
                self.errors.append(f"READ_FLASH digest does not match the data received (line {rd.line})")
            return "read_md5", {"md5": data.hex(), "ok": ok}
        return "unknown", {"data": data[:32]}

    def ohai(self, line: int) -> None:
        self.stub, self.stub_line = True, line

    # --- evidence of trouble -------------------------------------------------------

    def timeout(self, line: int, t: float, message: str, pending: CommandRecord | None) -> None:
        self.timeouts += 1
        self.old_timeouts = message.startswith("Timed out")
        if self.reading is not None:
            self.reading = None
        self.awaiting = None
        self.last_failure = message

    def invalid_bytes(self, line: int, data: bytes) -> None:
        self.invalid += 1
        m = _BOOT_TEXT.search(data)
        if m is not None:
            self._boot_evidence = f"the chip printed {m.group(0).decode('ascii', 'replace')!r}: a brownout reset (line {line})"
        elif self._boot_evidence is None:
            m = _BOOT_LOG.search(data)
            if m is not None:
                self._boot_evidence = (f"the chip printed its boot log instead of answering: "
                                       f"{m.group(0).decode('ascii', 'replace').strip()!r} (line {line})")
        if data[:1] == b"\xdb" and len(data) == 2:
            self.last_failure = f"Invalid SLIP escape (0xdb, 0x{data[1]:02x})"
        else:
            self.last_failure = f"Invalid head of packet (0x{data[0]:02X}): Possible serial noise or corruption."

    def partial(self, event: PartialFrame) -> None:
        if event.reason == "end":
            self.truncated = True

    def message(self, line: int, message: str) -> None:
        """Other trace messages: retries are counted from the resent commands themselves.
        A capture's "the host closed the port" ends a session whose last request was
        answered, as esptool's closing line does."""
        if message.startswith(HOST_CLOSED) and not (self.awaiting is not None and self.wait_reply):
            self.closed = self.done = True

    def text(self, line: int, text: str) -> None:
        if text.startswith("Traceback (most recent call last)"):
            self._traceback = line
            return
        if self._traceback is not None and self.fatal is None and _EXCEPTION.match(text):
            # esptool crashed: the exception line closes the traceback.
            self.fatal, self.fatal_line = f"esptool crashed: {text.strip()}", line
            if text.strip() == "StopIteration" and self.last_failure:
                # esptool < 5 reads again from a reader that already failed: the failure
                # before the crash is the one that matters.
                self.errors.append(f"before the crash: {self.last_failure}")
            if "MarkupError" in text:
                self.errors.append("a bug of esptool 5.6's --trace (bytes that look like rich markup in a "
                                   "hexdump), not a problem of the board; trace with esptool <= 5.3")
            return
        m = _FATAL.search(text) if _FATAL_WORD in text else None
        if m is not None:
            if self.fatal is None:
                self.fatal, self.fatal_line = m.group(1).strip(), line
            return
        if self.esptool is None:
            m = _VERSION.search(text)
            if m is not None:
                self.esptool = m.group(1)
                return
        m = _CHIP_TEXT.search(text)
        if m is not None:
            name = _family(m.group(1))
            if name:
                self._set_chip(name, f"esptool said {text.strip()!r} (line {line})", False)
        if _STUB_TEXT.search(text):
            self.stub = True
            self.stub_line = self.stub_line or line
        if CLOSING.search(text):
            self.closed = self.done = True
        elif any(word in text for word in _DONE_WORDS) and _DONE.search(text.strip()):
            self.done = True
        if "brownout" in text.lower():
            self._boot_evidence = f"{text.strip()} (line {line})"

    # --- the end -------------------------------------------------------------------

    def versions(self) -> str | None:
        if self.format == FORMAT_HEX:
            if self.old_timeouts is None:
                return "2.4-4.x"
            return "2.4-3.1" if self.old_timeouts else "3.2-4.x"
        return _VERSIONS.get(self.format or "")

    def outcome(self) -> tuple[str, list[str]]:
        return outcome(self)

    def summary(self) -> dict[str, Any]:
        outcome, errors = self.outcome()
        if self.echoes and not self.responses and self._boot_evidence is None:
            self._boot_evidence = (f"all {self.echoes} replies were the requests coming back: a loopback "
                                   "port, or the board's TX wired to its RX")
        advice = advice_for(self._boot_evidence, self.fatal, self.last_failure, *self.errors) if outcome != "ok" else []
        return {
            "format": self.format, "esptool": self.esptool, "esptool_versions": self.versions(),
            "chip": self.chip, "chip_evidence": self.chip_evidence, "stub": self.stub, "stub_line": self.stub_line,
            "commands": self.commands, "responses": self.responses, "timeouts": self.timeouts,
            "invalid": self.invalid, "retries": self.retries, "echoes": self.echoes, "warnings": self.warnings,
            "baud": self.baud, "regions": [r.to_json() for r in self.regions],
            "reads": [r.to_json() for r in self.reads], "erased": self.erased, "ram": self.ram,
            "md5_checks": self.md5_checks, "outcome": outcome, "errors": errors,
            "error_line": self.fatal_line, "evidence": self._boot_evidence, "advice": advice,
        }


def _family(description: str) -> str | None:
    """``ESP32-D0WD-V3`` -> ``ESP32``, ``ESP32-S2FNR2`` -> ``ESP32-S2``: the longest chip
    name esptool knows that starts the description."""
    d = description.upper()
    best = None
    for name in _CHIP_NAMES:
        if d.startswith(name) and (best is None or len(name) > len(best)):
            nxt = d[len(name):len(name) + 1]
            # "ESP32-C61" must not be read as "ESP32-C6" + "1"; "ESP32-D0WD" is an ESP32.
            if nxt.isdigit():
                continue
            best = name
    return best
