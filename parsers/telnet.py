"""Telnet (RFC 854) framing as RFC 2217 uses it: a byte stream split into data and
commands, chunk by chunk, for espmon's RFC 2217 client and the virtual board's server.

A subnegotiation (IAC SB ... IAC SE) is held until its end; one longer than
``MAX_SUBNEGOTIATION`` raises :class:`TelnetError` (RFC 2217's longest is a signature
text of a few dozen bytes), so a peer that never ends one cannot grow it without bound.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MAX_SUBNEGOTIATION", "TelnetDecoder", "TelnetError", "TelnetEvent"]

MAX_SUBNEGOTIATION = 4096


class TelnetError(ValueError):
    """The peer broke the telnet framing beyond repair (a subnegotiation without end)."""


_IAC = 0xFF
_IAC_IAC = b"\xff\xff"
_SB, _SE = 0xFA, 0xF0
_NEGOTIATIONS = frozenset((0xFB, 0xFC, 0xFD, 0xFE))  # WILL WONT DO DONT
_NORMAL, _IAC_SEEN, _NEGOTIATE = 0, 1, 2


@dataclass(frozen=True)
class TelnetEvent:
    """A telnet command found in the stream: ``kind`` is ``negotiate`` (``command`` is
    WILL/WONT/DO/DONT, ``value`` the option), ``sub`` (``value`` the unescaped bytes
    between IAC SB and IAC SE) or ``command`` (any other IAC command, in ``command``)."""

    kind: str
    command: bytes = b""
    value: bytes = b""


class TelnetDecoder:
    """Splits a telnet stream into data and :class:`TelnetEvent`, chunk by chunk, in the
    order they came. Same states as pyserial's per-byte loop (an IAC, a negotiation or a
    subnegotiation may be cut anywhere by the chunking); a stray IAC SE is ignored."""

    def __init__(self, max_subnegotiation: int = MAX_SUBNEGOTIATION) -> None:
        self.max_subnegotiation = max_subnegotiation
        self._mode = _NORMAL
        self._sub: bytearray | None = None
        self._command = 0

    def feed(self, chunk: bytes) -> list[bytes | TelnetEvent]:
        if self._mode == _NORMAL and self._sub is None:
            if _IAC not in chunk:
                return [chunk] if chunk else []
            if _IAC not in chunk.replace(_IAC_IAC, b""):  # only doubled data bytes
                return [chunk.replace(_IAC_IAC, b"\xff")]
        out: list[bytes | TelnetEvent] = []
        data = bytearray()
        pos, size = 0, len(chunk)
        while pos < size:
            if self._mode == _NORMAL:
                at = chunk.find(b"\xff", pos)
                end = size if at < 0 else at
                (data if self._sub is None else self._sub).extend(chunk[pos:end])
                if self._sub is not None and len(self._sub) > self.max_subnegotiation:
                    self._too_long()
                if at < 0:
                    break
                self._mode, pos = _IAC_SEEN, at + 1
                continue
            byte = chunk[pos]
            pos += 1
            if self._mode == _NEGOTIATE:
                self._mode = _NORMAL
                self._emit(out, data, TelnetEvent("negotiate", bytes((self._command,)), bytes((byte,))))
                continue
            self._mode = _NORMAL
            if byte == _IAC:
                (data if self._sub is None else self._sub).append(_IAC)
            elif byte == _SB:
                self._sub = bytearray()
            elif byte == _SE:
                if self._sub is not None:
                    self._emit(out, data, TelnetEvent("sub", value=bytes(self._sub)))
                    self._sub = None
            elif byte in _NEGOTIATIONS:
                self._command, self._mode = byte, _NEGOTIATE
            else:
                self._emit(out, data, TelnetEvent("command", bytes((byte,))))
        if data:
            out.append(bytes(data))
        return out

    def _too_long(self) -> None:
        self._sub = None  # the decoder is spent: the caller ends the connection
        raise TelnetError(f"telnet subnegotiation longer than {self.max_subnegotiation} bytes without IAC SE")

    @staticmethod
    def _emit(out: list[bytes | TelnetEvent], data: bytearray, event: TelnetEvent) -> None:
        if data:  # the data before a command is delivered before it is acted on
            out.append(bytes(data))
            data.clear()
        out.append(event)
