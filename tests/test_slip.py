"""parsers.slip: framing, escapes, stray bytes and offsets, in any chunking."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.slip import (
    MAX_FRAME,
    BadEscape,
    OversizedFrame,
    SlipDecoder,
    SlipFrame,
    StrayBytes,
    TruncatedFrame,
    slip_decode_all,
    slip_encode,
)

SYNC_FRAME = bytes.fromhex("c0 00 08 24 00 00 00 00 00 07 07 12 20" + " 55" * 32 + " c0")


def reference_decode(data: bytes) -> list:
    """Byte-at-a-time model of the decoder's rules (esptool's reader, plus stray runs)."""
    events: list = []
    in_frame = escape = oversized = False
    frame = bytearray()
    start = 0
    stray = bytearray()
    stray_start = 0
    for pos, b in enumerate(data):
        if not in_frame:
            if b == 0xC0:
                if stray:
                    events.append(StrayBytes(bytes(stray), stray_start))
                    stray.clear()
                in_frame, start, escape, oversized = True, pos, False, False
                frame.clear()
            else:
                if not stray:
                    stray_start = pos
                if len(stray) < MAX_FRAME:
                    stray.append(b)
            continue
        if escape:
            escape = False
            if b == 0xDC:
                frame.append(0xC0)
                continue
            if b == 0xDD:
                frame.append(0xDB)
                continue
            events.append(BadEscape(b, pos))
            if b != 0xC0:
                continue
        if b == 0xDB:
            escape = True
        elif b == 0xC0:
            if frame or oversized:
                if not oversized:
                    events.append(SlipFrame(bytes(frame), start, pos + 1))
                in_frame = False
                frame.clear()
            else:
                start = pos
        else:
            frame.append(b)
            if len(frame) > MAX_FRAME:
                if not oversized:
                    events.append(OversizedFrame(MAX_FRAME + 1, start))
                oversized = True
                frame.clear()
    if stray:
        events.append(StrayBytes(bytes(stray), stray_start))
    if in_frame and (frame or escape):
        events.append(TruncatedFrame(bytes(frame), start))
    return events


def feed_chunks(data: bytes, cuts: list[int]) -> list:
    dec = SlipDecoder()
    events: list = []
    last = 0
    for cut in sorted(set(c for c in cuts if 0 < c < len(data))):
        events += dec.feed(data[last:cut])
        last = cut
    events += dec.feed(data[last:])
    return events + dec.end()


def test_sync_request_known_vector():
    payload = bytes([0x00, 0x08, 0x24, 0x00, 0, 0, 0, 0]) + bytes([0x07, 0x07, 0x12, 0x20]) + b"\x55" * 32
    assert slip_encode(payload) == SYNC_FRAME
    assert slip_decode_all(SYNC_FRAME) == [SlipFrame(payload, 0, 46)]


def test_escapes_round_trip():
    payload = b"\xc0\xdb\xdb\xdc\xc0\x00\xdd"
    encoded = slip_encode(payload)
    assert encoded == b"\xc0\xdb\xdc\xdb\xdd\xdb\xdd\xdc\xdb\xdc\x00\xdd\xc0"
    assert slip_decode_all(encoded) == [SlipFrame(payload, 0, len(encoded))]


def test_bad_escape_is_reported_and_frame_goes_on():
    events = slip_decode_all(b"\xc0\x01\xdb\x41\x02\xc0")
    assert events == [BadEscape(0x41, 3), SlipFrame(b"\x01\x02", 0, 6)]


def test_db_before_closing_c0():
    events = slip_decode_all(b"\xc0\x01\xdb\xc0")
    assert events == [BadEscape(0xC0, 3), SlipFrame(b"\x01", 0, 4)]


def test_stray_bytes_with_offsets():
    data = b"ets Jun  8 2016\r\n" + SYNC_FRAME + b"\x1b\x2c" + SYNC_FRAME
    events = slip_decode_all(data)
    assert events[0] == StrayBytes(b"ets Jun  8 2016\r\n", 0)
    assert isinstance(events[1], SlipFrame) and events[1].offset == 17
    assert events[2] == StrayBytes(b"\x1b\x2c", 17 + 46)
    assert isinstance(events[3], SlipFrame) and events[3].offset == 17 + 46 + 2


def test_c0_c0_between_frames_is_a_resync():
    a, b = slip_encode(b"\x01\x02"), slip_encode(b"\x03")
    assert slip_decode_all(a + b) == [SlipFrame(b"\x01\x02", 0, 4), SlipFrame(b"\x03", 4, 7)]
    # A frame whose C0 was lost behind a boundary: the doubled C0 re-syncs at once.
    assert slip_decode_all(b"\xc0\xc0\x05\xc0") == [SlipFrame(b"\x05", 1, 4)]


def test_truncated_frame_at_end():
    assert slip_decode_all(b"\xc0\x01\x02") == [TruncatedFrame(b"\x01\x02", 0)]
    dec = SlipDecoder()
    assert dec.feed(b"\xc0\x01\xdb") == []
    assert dec.pending_frame == b"\x01" and dec.pending_offset == 0
    assert dec.end() == [TruncatedFrame(b"\x01", 0)]
    assert dec.pending_frame is None


def test_oversized_frame_is_dropped():
    data = b"\xc0" + b"\x11" * (MAX_FRAME + 10) + b"\xc0" + slip_encode(b"ok")
    events = slip_decode_all(data)
    assert events[0] == OversizedFrame(MAX_FRAME + 1, 0)
    assert events[1:] == [SlipFrame(b"ok", MAX_FRAME + 12, MAX_FRAME + 16)]


def test_flush_reports_stray_without_c0():
    dec = SlipDecoder()
    assert dec.feed(b"abc") == []
    assert dec.pending_offset == 0
    assert dec.flush() == [StrayBytes(b"abc", 0)]
    assert dec.pending_offset is None


_special = st.sampled_from([0xC0, 0xDB, 0xDC, 0xDD, 0x00, 0x41])
_noisy = st.lists(st.one_of(_special, st.integers(0, 255)), max_size=400).map(bytes)


@settings(max_examples=300, deadline=None)
@given(_noisy, st.lists(st.integers(0, 400), max_size=30))
def test_any_chunking_matches_the_reference(data, cuts):
    expected = reference_decode(data)
    assert slip_decode_all(data) == expected
    assert feed_chunks(data, cuts) == expected


@settings(max_examples=50, deadline=None)
@given(_noisy)
def test_byte_by_byte_matches_the_reference(data):
    assert feed_chunks(data, list(range(len(data)))) == reference_decode(data)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=300), max_size=8))
def test_encode_decode_round_trip(payloads):
    stream = b"".join(slip_encode(p) for p in payloads)
    frames = [e.payload for e in slip_decode_all(stream)]
    assert frames == payloads


@settings(max_examples=300, deadline=None)
@given(_noisy, st.lists(st.booleans(), max_size=60))
def test_chunks_cut_at_c0_as_esptool_reads_match_the_reference(data, where):
    # esptool reads a reply as "c0", then the rest, or whole: cuts next to the C0s reach
    # every short way of SlipDecoder.feed (a lone C0, a whole frame, the rest of a frame).
    ends = [i for i, b in enumerate(data) if b == 0xC0]
    cuts = [e + k for e, pick in zip(ends, where) if pick for k in (0, 1)]
    assert feed_chunks(data, cuts) == reference_decode(data)
    frames = b"".join(slip_encode(bytes(data[i:i + 7])) for i in range(0, len(data), 7))
    bounds = [i for i, b in enumerate(frames) if b == 0xC0]
    assert feed_chunks(frames, [b + 1 for b in bounds]) == reference_decode(frames)
    assert feed_chunks(frames, bounds) == reference_decode(frames)
