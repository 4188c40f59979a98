"""What the trace plots draw, reduced from the conversation records (no matplotlib here).

:func:`trace_data` takes the records of :mod:`espmon.conversation` in order, whatever made
them: ``analyze_lines`` over a ``--trace`` dump today, a capture's records later (the
capture format only has to give the same records; nothing here reads text). Each request
becomes an :class:`Exchange` (request -> first reply, or -> the timeout that ended the wait),
each data block a :class:`Block` for the throughput plot. Every item keeps its trace line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Exchange", "Block", "Mark", "TraceData", "trace_data", "WRITE_OPS", "BEGIN_OPS"]

WRITE_OPS = ("FLASH_DATA", "FLASH_DEFL_DATA")
BEGIN_OPS = ("FLASH_BEGIN", "FLASH_DEFL_BEGIN")

# Exchange.status values
OK, ERROR, TIMEOUT, NO_REPLY, SENT = "ok", "error", "timeout", "no reply", "sent"


@dataclass
class Exchange:
    op: str
    line: int
    start: float
    end: float | None = None  # the reply's (or the timeout's) time
    status: str = NO_REPLY  # ok, error (reply with a failure status), timeout, no reply, sent (none wanted)
    retry: int = 0
    error_text: str | None = None

    @property
    def latency(self) -> float | None:
        return None if self.end is None or self.status not in (OK, ERROR) else self.end - self.start


@dataclass(frozen=True)
class Block:
    """One data block: ``size`` payload bytes, sent (or received) at ``start``, done at ``end``."""
    op: str  # FLASH_DATA, FLASH_DEFL_DATA, or READ_FLASH for the chip's read_data frames
    line: int
    start: float
    end: float
    size: int
    region: int = 0  # how many FLASH_BEGIN / FLASH_DEFL_BEGIN came before it


@dataclass(frozen=True)
class Mark:
    """Something on the timeline that is not a request: invalid bytes, a flash region start."""
    what: str
    line: int
    t: float
    text: str = ""


@dataclass
class TraceData:
    exchanges: list[Exchange] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    invalid: list[Mark] = field(default_factory=list)
    regions: list[Mark] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def chip(self) -> str | None:
        return self.summary.get("chip")

    @property
    def span(self) -> float:
        """Seconds from the first to the last timed item (0 when the trace has no times)."""
        times = [e.start for e in self.exchanges] + [e.end for e in self.exchanges if e.end is not None]
        times += [m.t for m in self.invalid]
        return max(times) - min(times) if times else 0.0

    def ops(self) -> list[str]:
        """Request names in order of first appearance."""
        return list(dict.fromkeys(e.op for e in self.exchanges))


def _data_len(rec: Any) -> int:
    n = rec.fields.get("data_len")
    return int(n) if isinstance(n, int) else max(rec.size - 16, 0)


def trace_data(records: Iterable[Any]) -> TraceData:
    """The records of one conversation, in order -> what the plots need."""
    data = TraceData()
    by_line: dict[int, Exchange] = {}
    pending: Exchange | None = None  # the request whose reply (or timeout) comes next
    reading: Exchange | None = None  # a READ_FLASH being answered with data frames
    last_read_t = 0.0
    for rec in records:
        kind = rec.kind
        if kind == "command":
            ex = Exchange(rec.op, rec.line, rec.t, retry=rec.retry)
            if not rec.wait_response:
                ex.status, ex.end = SENT, rec.t
            data.exchanges.append(ex)
            by_line[rec.line] = ex
            pending = ex if rec.wait_response else None
            if rec.op in BEGIN_OPS:
                offset = rec.fields.get("offset")
                data.regions.append(Mark(rec.op, rec.line, rec.t, f"0x{offset:x}" if isinstance(offset, int) else ""))
            if rec.op in WRITE_OPS:
                data.blocks.append(Block(rec.op, rec.line, rec.t, rec.t, _data_len(rec), len(data.regions)))
            if rec.op == "READ_FLASH":
                reading, last_read_t = ex, rec.t
        elif kind == "response":
            if rec.repeat or rec.discarded or rec.command_line is None:
                continue  # SYNC's extra replies, replies esptool never read, unasked ones
            ex = by_line.get(rec.command_line)
            if ex is None or ex.end is not None:
                continue
            ex.end = rec.t
            ex.status = OK if rec.ok else ERROR
            ex.error_text = rec.error_text
            if ex is pending:
                pending = None
            if ex.op in WRITE_OPS and data.blocks and data.blocks[-1].line == ex.line:
                b = data.blocks[-1]
                data.blocks[-1] = Block(b.op, b.line, b.start, rec.t, b.size, b.region)  # timed by its reply
            if ex.op == "READ_FLASH":
                last_read_t = rec.t
        elif kind == "timeout":
            if pending is not None and pending.end is None:
                pending.end, pending.status = rec.t, TIMEOUT
                pending = None
        elif kind == "invalid":
            data.invalid.append(Mark("invalid", rec.line, rec.t, _invalid_text(rec)))
        elif kind == "frame":
            if rec.what == "read_data" and reading is not None:
                data.blocks.append(Block("READ_FLASH", rec.line, last_read_t, rec.t, rec.size, len(data.regions)))
                last_read_t = rec.t
        elif kind == "summary":
            data.summary = rec.data
    # a write block nobody answered (the chip reset mid-write) has no end to time it by
    data.blocks = [b for b in data.blocks if b.op == "READ_FLASH" or by_line[b.line].status in (OK, ERROR)]
    return data


def _invalid_text(rec: Any) -> str:
    shown = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in rec.data[:12])
    return f"0x{rec.byte:02x} {shown!r}" if len(rec.data) > 1 else f"0x{rec.byte:02x}"
