"""espmon.port.rfc2217.TelnetDecoder: the chunked telnet unescaper of espmon's RFC 2217
client gives, for any chunking, what pyserial's per-byte state machine gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from espmon.port.rfc2217 import TelnetDecoder, TelnetEvent

IAC, SB, SE = 0xFF, 0xFA, 0xF0
NEGOTIATIONS = (0xFB, 0xFC, 0xFD, 0xFE)


def reference(stream: bytes) -> list[bytes | TelnetEvent]:
    """pyserial 3.5's ``_telnet_read_loop`` states, one byte at a time (a stray IAC SE,
    which crashes pyserial's loop, is ignored)."""
    out: list[bytes | TelnetEvent] = []
    mode, sub, command = "normal", None, 0

    def data(byte: int) -> None:
        if sub is not None:
            sub.append(byte)
        elif out and isinstance(out[-1], bytearray):
            out[-1].append(byte)
        else:
            out.append(bytearray([byte]))

    for byte in stream:
        if mode == "normal":
            if byte == IAC:
                mode = "iac"
            else:
                data(byte)
        elif mode == "iac":
            mode = "normal"
            if byte == IAC:
                data(IAC)
            elif byte == SB:
                sub = bytearray()
            elif byte == SE:
                if sub is not None:
                    out.append(TelnetEvent("sub", value=bytes(sub)))
                    sub = None
            elif byte in NEGOTIATIONS:
                mode, command = "negotiate", byte
            else:
                out.append(TelnetEvent("command", bytes([byte])))
        else:
            out.append(TelnetEvent("negotiate", bytes([command]), bytes([byte])))
            mode = "normal"
    return [bytes(x) if isinstance(x, bytearray) else x for x in out]


def merged(items: list[bytes | TelnetEvent]) -> list[bytes | TelnetEvent]:
    """Adjacent data pieces joined (chunking may split data anywhere)."""
    out: list[bytes | TelnetEvent] = []
    for item in items:
        if isinstance(item, bytes):
            assert item, "the decoder never yields empty data"
            if out and isinstance(out[-1], bytes):
                out[-1] += item
                continue
        out.append(item)
    return out


def decode(stream: bytes, cuts: list[int]) -> list[bytes | TelnetEvent]:
    decoder = TelnetDecoder()
    items: list[bytes | TelnetEvent] = []
    start = 0
    for cut in sorted(set(c % (len(stream) + 1) for c in cuts)) + [len(stream)]:
        items += decoder.feed(stream[start:cut])
        start = cut
    return merged(items)


# streams rich in the bytes that matter: IAC, SB, SE, the negotiations, a few others
special = st.sampled_from([IAC, IAC, IAC, SB, SE, *NEGOTIATIONS, 0xF1, 0x2C, 0x00, 0x41, 0x0A])
streams = st.lists(st.one_of(special, st.integers(0, 255)), max_size=300).map(bytes)
cut_lists = st.lists(st.integers(0, 400), max_size=40)


@settings(max_examples=400, deadline=None)
@given(streams, cut_lists)
def test_any_stream_any_chunking_matches_pyserial(stream, cuts):
    assert decode(stream, cuts) == reference(stream)


pieces = st.lists(st.one_of(
    st.binary(max_size=60).map(lambda b: ("data", b)),
    st.tuples(st.sampled_from(NEGOTIATIONS), st.integers(0, 255)).map(lambda t: ("negotiate", t)),
    st.binary(max_size=12).map(lambda b: ("sub", b)),
    st.sampled_from([0xF1, 0xF2, 0xF3, 0xF9]).map(lambda c: ("command", c)),
), max_size=25)


@settings(max_examples=300, deadline=None)
@given(pieces, cut_lists)
def test_data_and_commands_come_back_in_order(parts, cuts):
    """What a server sends (data with IAC doubled, negotiations, subnegotiations whose
    payload holds IACs too) comes back exactly, in order, however TCP cuts it."""
    wire = bytearray()
    expected: list[bytes | TelnetEvent] = []
    for kind, value in parts:
        if kind == "data":
            wire += value.replace(b"\xff", b"\xff\xff")
            if value:
                expected.append(value)
        elif kind == "negotiate":
            wire += bytes([IAC, value[0], value[1]])
            expected.append(TelnetEvent("negotiate", bytes([value[0]]), bytes([value[1]])))
        elif kind == "sub":
            wire += bytes([IAC, SB]) + value.replace(b"\xff", b"\xff\xff") + bytes([IAC, SE])
            expected.append(TelnetEvent("sub", value=value))
        else:
            wire += bytes([IAC, value])
            expected.append(TelnetEvent("command", bytes([value])))
    assert decode(bytes(wire), cuts) == merged(expected)


def test_fast_paths():
    decoder = TelnetDecoder()
    assert decoder.feed(b"") == []
    assert decoder.feed(b"plain text\r\n") == [b"plain text\r\n"]
    assert decoder.feed(b"a\xff\xffb\xff\xff") == [b"a\xffb\xff"]
    # a doubled IAC cut in two: the second half is data, not a command
    assert decoder.feed(b"x\xff") == [b"x"]
    assert decoder.feed(b"\xffy") == [b"\xffy"]
    # a subnegotiation cut anywhere, with data before and after it
    assert decoder.feed(b"A\xff\xfa\x2c\x6b") == [b"A"]
    assert decoder.feed(b"\x30\xff") == []
    assert decoder.feed(b"\xf0B") == [TelnetEvent("sub", value=b"\x2c\x6b\x30"), b"B"]


def test_a_new_subnegotiation_starts_afresh():
    """IAC SB inside a subnegotiation drops what came before it, as pyserial does."""
    stream = b"\xff\xfa\x01\xff\xfa\x02\xff\xf0z\xff\xf0"  # and a stray IAC SE is ignored
    assert decode(stream, []) == reference(stream) == [TelnetEvent("sub", value=b"\x02"), b"z"]


def test_a_subnegotiation_without_end_is_cut_off_however_it_is_sent():
    """Plain bytes, doubled IACs (which grow the buffer one IAC pair at a time), any chunking."""
    import pytest

    from parsers.telnet import MAX_SUBNEGOTIATION, TelnetError

    for body in (b"x" * (MAX_SUBNEGOTIATION + 1), b"\xff\xff" * (MAX_SUBNEGOTIATION + 1)):
        for size in (1, 7, 4096, len(body)):
            decoder = TelnetDecoder()
            decoder.feed(b"data\xff\xfa\x2c")
            with pytest.raises(TelnetError, match=f"longer than {MAX_SUBNEGOTIATION} bytes"):
                for pos in range(0, len(body), size):
                    decoder.feed(body[pos:pos + size])
    decoder = TelnetDecoder()  # one just at the limit is fine
    assert decoder.feed(b"\xff\xfa" + b"y" * MAX_SUBNEGOTIATION + b"\xff\xf0") == [
        TelnetEvent("sub", value=b"y" * MAX_SUBNEGOTIATION)]
