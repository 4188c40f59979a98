"""Records of :mod:`espmon.conversation.analyzer` as text for people: one line per packet, the story last.

``render_record`` gives the line(s) for one record (None to print nothing yet: repeated
SYNC replies are folded into one line with a count). Styles are one table of ANSI codes,
used only when the caller asks for colour.
"""

from __future__ import annotations

from typing import Any

from espmon.conversation.records import (
    CommandRecord,
    FrameRecord,
    InvalidRecord,
    MessageRecord,
    Record,
    ResponseRecord,
    Summary,
    TextRecord,
    TimeoutRecord,
    WarningRecord,
    printable,
)

__all__ = ["TextRenderer", "STYLES"]

STYLES = {
    "dim": "\x1b[2m", "bold": "\x1b[1m", "host": "\x1b[36m", "chip": "\x1b[35m", "ok": "\x1b[32m",
    "bad": "\x1b[1;31m", "warn": "\x1b[33m", "head": "\x1b[1;4m", "reset": "\x1b[0m",
}
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F)}

_OPNAME_WIDTH = 17


def _safe(text: str) -> str:
    """Text from a file may hold escape sequences: show them, never send them."""
    return text.translate(_CONTROL)


def _size(n: int | None) -> str:
    return "?" if n is None else f"{n:,}"


def _hex(v: int | None) -> str:
    return "?" if v is None else f"0x{v:08x}"


def _ms(seconds: float | None) -> str:
    """Trace times have millisecond resolution; say no more than that."""
    if seconds is None:
        return ""
    return "<1 ms" if seconds < 0.0005 else f"{seconds * 1000:,.0f} ms"


def _duration(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds >= 1 else _ms(seconds)


def _request_text(rec: CommandRecord) -> str:
    f = rec.fields
    op = rec.opcode
    if op == 0x08:
        return "" if f.get("valid", True) else "payload is not the SYNC pattern"
    if op == 0x0A:
        return f"{_hex(f.get('address'))} {f.get('register', '')}".rstrip()
    if op == 0x09:
        text = f"{_hex(f.get('address'))} {f.get('register', '')}".rstrip() + f" = {_hex(f.get('value'))}"
        if f.get("mask") not in (None, 0xFFFFFFFF):
            text += f" mask {_hex(f.get('mask'))}"
        if f.get("delay_us"):
            text += f", then wait {f['delay_us']} us"
        return text
    if op in (0x02, 0x10):
        text = (f"at {_hex(f.get('offset'))}, {_size(f.get('erase_size'))} bytes, "
                f"{f.get('blocks')} blocks of {_size(f.get('block_size'))}")
        return text + (", encrypted" if f.get("encrypted") else "")
    if op in (0x03, 0x07, 0x11, 0xD4):
        chk = {True: "checksum ok", False: "CHECKSUM BAD", None: ""}[f.get("checksum_ok")]
        return f"seq {f.get('seq')}, {_size(f.get('data_len'))} bytes, {chk}".rstrip(", ")
    if op in (0x04, 0x12):
        stay = f.get("stay")
        return "" if stay is None else ("stay in the loader" if stay else "reboot")
    if op == 0x05:
        return (f"at {_hex(f.get('offset'))}, {_size(f.get('size'))} bytes, "
                f"{f.get('blocks')} blocks of {_size(f.get('block_size'))}")
    if op == 0x06:
        return "no jump" if f.get("no_entry") else f"jump to {_hex(f.get('entry'))}"
    if op == 0x0B:
        return (f"flash {_size(f.get('total_size'))} bytes, block {_size(f.get('block_size'))}, "
                f"sector {_size(f.get('sector_size'))}, page {_size(f.get('page_size'))}")
    if op == 0x0D:
        return "default SPI pins" if not f.get("hspi_arg") else f"pins 0x{f['hspi_arg']:x}"
    if op == 0x0F:
        old = f.get("old_baud")
        return f"{_size(f.get('new_baud'))} baud" + (f" (from {old:,})" if old else "")
    if op in (0x13, 0xD1, 0x0E):
        return f"{_hex(f.get('address', f.get('offset')))} + {_size(f.get('size', f.get('length')))} bytes"
    if op == 0xD2:
        return (f"{_hex(f.get('offset'))} + {_size(f.get('length'))} bytes, "
                f"{_size(f.get('block_size'))}-byte blocks, {f.get('max_inflight')} in flight")
    return ", ".join(f"{k} {v}" for k, v in f.items() if not isinstance(v, (bytes, dict, list)))


def _response_text(rec: ResponseRecord) -> str:
    f = rec.fields
    op = rec.opcode
    if not rec.ok and op != 0x0A:
        return ""
    if op == 0x0A:
        return f"= {_hex(rec.value)}"
    if op == 0x08:
        return "stub answered (value 0)" if rec.value == 0 else f"value {_hex(rec.value)}"
    if op == 0x13 and "md5" in f:
        return f"md5 {f['md5']}"
    if op == 0x14:
        parts = [f"flags 0x{f.get('flags', 0):x}", f"flash_crypt_cnt {f.get('flash_crypt_cnt')}"]
        if "chip_id" in f:
            parts.insert(0, f"chip_id {f['chip_id']}")
        return ", ".join(parts)
    return ""


class TextRenderer:
    """Turns records into lines. ``color``: use ANSI styles."""

    def __init__(self, color: bool = False, unicode: bool = True) -> None:
        self.color = color
        self.to_chip = "\u2192" if unicode else "->"
        self.from_chip = "\u2190" if unicode else "<-"
        self.bar = "\u2502" if unicode else "|"
        self._held: ResponseRecord | None = None
        self._held_count = 0

    def legend(self) -> str:
        """One line naming the columns and the marks of the packet lines, for a reader at
        a terminal (in the columns of ``_row``)."""
        marks = ((self.to_chip, "to chip"), (self.from_chip, "from chip"), (self.bar, "esptool"), ("*", "note"),
                 ("!", "warning"), ("x", "error"))
        return self._s("dim", f"{'line':>6} {'time s':>9}  " + "  ".join(f"{m} {what}" for m, what in marks))

    def _s(self, style: str, text: str) -> str:
        if not self.color or not text:
            return text
        return f"{STYLES[style]}{text}{STYLES['reset']}"

    def _row(self, line: int, t: float | None, arrow: str, body: str) -> str:
        when = f"{t:9.3f}" if t is not None else "         "
        if not self.color:
            return f"{line:>6} {when}  {arrow} {body}".rstrip()
        return f"{self._s('dim', f'{line:>6}')} {when}  {arrow} {body}".rstrip()

    def render(self, rec: Record) -> list[str]:
        """The lines for ``rec`` (possibly none yet, possibly a held line first)."""
        if self._held is None and (type(rec) is not ResponseRecord or rec.opcode != 0x08):
            return self._render(rec)  # the usual case: nothing held, nothing to hold
        out: list[str] = []
        if isinstance(rec, ResponseRecord) and rec.opcode == 0x08 and rec.repeat and self._held is not None \
                and self._held.value == rec.value and self._held.status == rec.status:
            self._held_count += 1
            return out
        out += self.flush()
        if isinstance(rec, ResponseRecord) and rec.opcode == 0x08 and not rec.repeat:
            self._held, self._held_count = rec, 1
            return out
        out += self._render(rec)
        return out

    def flush(self) -> list[str]:
        if self._held is None:
            return []
        rec, count = self._held, self._held_count
        self._held = None
        lines = self._render(rec)
        if count > 1:
            lines[0] = f"{lines[0]}  {self._s('dim', f'(x{count})')}"
        return lines

    def _render(self, rec: Record) -> list[str]:
        if isinstance(rec, CommandRecord):
            body = f"{self._s('host', rec.op.ljust(_OPNAME_WIDTH))}  {_request_text(rec)}".rstrip()
            if rec.retry:
                body += self._s("warn", f"  (resend {rec.retry})")
            if rec.problem:
                body += self._s("bad", f"  ! {rec.problem}")
            return [self._row(rec.line, rec.t, self._s("host", self.to_chip), body)]
        if isinstance(rec, ResponseRecord):
            if rec.ok:
                status = self._s("ok", "ok")
            elif rec.status is None:
                status = self._s("bad", "no status")
            else:
                meaning = f" 0x{rec.error:02x} {rec.error_text}" if rec.error is not None else ""
                status = self._s("bad", f"FAILED{meaning}")
            parts = [self._s("chip", rec.op.ljust(_OPNAME_WIDTH)), status, _response_text(rec)]
            if rec.latency is not None:
                parts.append(self._s("dim", _ms(rec.latency)))
            if rec.opcode == 0x14 and rec.error == 0x05:
                parts.append(self._s("dim", "(this ROM has no such command; esptool falls back to the magic register)"))
            if rec.command_line is None and not rec.discarded:
                parts.append(self._s("dim", "(no request waiting for it)"))
            if rec.discarded:
                parts.append(self._s("dim", "(esptool had given up on this read)"))
            if rec.problem:
                parts.append(self._s("warn", f"! {rec.problem}"))
            return [self._row(rec.line, rec.t, self._s("chip", self.from_chip), "  ".join(p for p in parts if p))]
        if isinstance(rec, FrameRecord):
            return [self._frame(rec)]
        if isinstance(rec, TimeoutRecord):
            waiting = f"waiting for the {rec.op} reply: " if rec.op else ""
            return [self._row(rec.line, rec.t, self._s("bad", "x"), self._s("bad", f"timeout, {waiting}{rec.message}"))]
        if isinstance(rec, InvalidRecord):
            if rec.escape:
                text = f"invalid SLIP escape: db {rec.byte:02x}"
            else:
                n = len(rec.data)
                text = (f"{n:,} byte{'s' if n != 1 else ''} outside any frame, first 0x{rec.byte:02x}: "
                        f"{printable(rec.data[:48])!r}")
            return [self._row(rec.line, rec.t, self._s("bad", "x"), self._s("bad", text))]
        if isinstance(rec, MessageRecord):
            return [self._row(rec.line, rec.t, self._s("warn", "*"), self._s("warn", _safe(rec.message)))]
        if isinstance(rec, TextRecord):
            return [self._row(rec.line, None, self._s("dim", self.bar), self._s("dim", _safe(rec.text)))]
        if isinstance(rec, WarningRecord):
            return [self._row(rec.line, None, self._s("warn", "!"), self._s("warn", _safe(rec.message)))]
        if isinstance(rec, Summary):
            return self._summary(rec.data)
        return []

    def _frame(self, rec: FrameRecord) -> str:
        f = rec.fields
        arrow = self._s("host", self.to_chip) if rec.sender == "host" else self._s("chip", self.from_chip)
        if rec.what == "OHAI":
            body = f"{self._s('chip', 'OHAI'.ljust(_OPNAME_WIDTH))}  the stub flasher is running"
        elif rec.what == "read_data":
            body = (f"{self._s('chip', 'data'.ljust(_OPNAME_WIDTH))}  {rec.size:,} bytes of flash at "
                    f"{_hex(f.get('offset'))}  ({_size(f.get('received'))} of {_size(f.get('total'))})")
        elif rec.what == "read_ack":
            body = f"{self._s('host', 'ack'.ljust(_OPNAME_WIDTH))}  {_size(f.get('received'))} bytes received"
        elif rec.what == "read_md5":
            verdict = self._s("ok", "matches the data") if f.get("ok") else self._s("bad", "DOES NOT match the data")
            body = f"{self._s('chip', 'md5'.ljust(_OPNAME_WIDTH))}  {f.get('md5')}  {verdict}"
        elif rec.what == "echo":
            body = self._s("warn", f"{'echo'.ljust(_OPNAME_WIDTH)}  the {f.get('op')} request came back "
                                   "(a loopback port, or TX wired to RX?)")
        else:
            data = f.get("data", b"")
            body = f"{'frame'.ljust(_OPNAME_WIDTH)}  {rec.size} bytes: {bytes(data).hex()}"
        if rec.discarded:
            body += self._s("dim", "  (esptool had given up on this read)")
        return self._row(rec.line, rec.t, arrow, body)

    # --- the story -----------------------------------------------------------------

    def _summary(self, s: dict[str, Any]) -> list[str]:
        rows: list[tuple[str, str]] = []
        versions = s.get("esptool_versions")
        tool = f"esptool {s['esptool']}" if s.get("esptool") else "esptool"
        if s.get("format") == "capture":
            tool += ", an espmon capture (every byte on the wire, timed)"
        elif s.get("format"):
            tool += f", trace format {s['format']}" + (f" (esptool {versions})" if versions else "")
        rows.append(("trace", tool))
        if s.get("chip"):
            rows.append(("chip", f"{s['chip']}  " + self._s("dim", f"from {s.get('chip_evidence')}")))
        else:
            rows.append(("chip", "unknown"))
        if s.get("stub"):
            rows.append(("loader", f"stub flasher (line {s.get('stub_line')})"))
        elif s.get("commands"):
            rows.append(("loader", "ROM loader"))
        if s.get("baud"):
            rows.append(("baud", " -> ".join(f"{b:,}" for b in s["baud"])))
        for r in s.get("regions", []):
            rows.append(("wrote", self._region(r)))
        for r in s.get("reads", []):
            md5 = {"ok": self._s("ok", "MD5 ok"), "mismatch": self._s("bad", "MD5 MISMATCH")}.get(r.get("md5"), "")
            speed = f" in {_duration(r['seconds'])}" if r.get("seconds") else ""
            rows.append(("read", f"{_hex(r['offset'])}  {_size(r['received'])} of {_size(r['size'])} bytes{speed}  {md5}".rstrip()))
        for e in s.get("erased", []):
            rows.append(("erased", "the whole flash" if e.get("size") is None else f"{_hex(e['offset'])} + {_size(e['size'])} bytes"))
        count = f"{s['commands']} commands, {s['responses']} replies, {s['timeouts']} timeouts"
        extra = [f"{s[k]} {label}" for k, label in (("retries", "retries"), ("invalid", "invalid reads"),
                                                    ("echoes", "echoes"), ("warnings", "warnings")) if s.get(k)]
        rows.append(("packets", ", ".join([count, *extra])))
        outcome = s.get("outcome", "unknown")
        style = {"ok": "ok", "failed": "bad", "incomplete": "warn"}.get(outcome, "dim")
        rows.append(("outcome", self._s(style, outcome.upper() if outcome != "ok" else "ok")))
        errors = s.get("errors") or []
        for i, err in enumerate(errors):
            where = f"  (line {s['error_line']})" if i == 0 and s.get("error_line") else ""
            label = "why" if outcome == "incomplete" else "error"
            rows.append((label if i == 0 else "", self._s("bad", _safe(err)) + self._s("dim", where)))
        if s.get("evidence"):
            rows.append(("evidence", _safe(s["evidence"])))
        out = ["", self._s("head", "Session")]
        out += [f"  {label:<9} {value}" for label, value in rows]
        for i, adv in enumerate(s.get("advice") or []):
            out.append("")
            intro = "esptool's troubleshooting guide" if i == 0 else "and"
            out.append(f"  {self._s('bold', 'advice')}    {intro}, \u201c{adv['section']}\u201d:")
            out += [f"            {chunk}" for chunk in _wrap(adv["text"], 78)]
        return out

    def _region(self, r: dict[str, Any]) -> str:
        text = f"{_hex(r['offset'])}  {_size(r['size'])} bytes"
        if r.get("compressed_size") is not None:
            text += f" ({_size(r['compressed_size'])} compressed)"
        text += f", {r['blocks']}/{r['blocks_expected']} blocks"
        if r.get("seconds"):
            text += f" in {_duration(r['seconds'])}"
        if r.get("kbit_s"):
            text += f" ({r['kbit_s']:,.0f} kbit/s)"
        md5 = {"ok": self._s("ok", "MD5 ok"), "mismatch": self._s("bad", "MD5 MISMATCH")}.get(r.get("md5"))
        if md5:
            text += f"  {md5}"
        elif r.get("damaged_blocks"):
            n = r["damaged_blocks"]
            blocks = f"{n} block" + ("s" if n != 1 else "")
            lost = f"{r['missing_bytes']:,} bytes of {blocks}" if r.get("missing_bytes") else f"bytes of {blocks}"
            text += "  " + self._s("warn", f"MD5 not checked: {lost} are missing from the trace")
        if not r.get("complete"):
            text += "  " + self._s("bad", "INCOMPLETE")
        return text


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        lines.append(current)
    return lines
