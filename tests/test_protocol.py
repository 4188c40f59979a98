"""parsers.protocol against esptool itself: names, checksum, request/response layouts,
status trailers and error codes."""

from __future__ import annotations

import struct

import pytest
from esptool.loader import ESPLoader
from esptool.util import FatalError
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.protocol import (
    CHECKSUMMED_OPS,
    OHAI,
    REQUEST_PAYLOADS,
    ROM_ERRORS,
    STUB_ERRORS,
    SYNC_DATA,
    Opcode,
    RawFrame,
    Request,
    Response,
    build_request,
    build_response,
    checksum,
    decode_packet,
    decode_request,
    decode_response,
    error_text,
    op_name,
    split_status,
)
from parsers.slip import slip_encode


def test_opcode_names_are_esptools():
    assert {op.name: op.value for op in Opcode} == ESPLoader.ESP_CMDS
    assert op_name(0x08) == "SYNC" and op_name(0x42) == "0x42"


def test_sync_request_known_vector():
    frame = build_request(Opcode.SYNC, SYNC_DATA)
    assert slip_encode(frame) == bytes.fromhex("c0 00 08 24 00 00 00 00 00 07 07 12 20" + " 55" * 32 + " c0")
    req = decode_request(frame)
    assert isinstance(req, Request) and req.name == "SYNC" and req.problem is None
    assert req.fields["pattern"] == b"\x07\x07\x12\x20"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=5000), st.integers(0, 255))
def test_checksum_matches_esptool(data, seed):
    assert checksum(data) == ESPLoader.checksum(data)
    assert checksum(data, seed) == ESPLoader.checksum(data, seed)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(sorted(CHECKSUMMED_OPS)), st.binary(max_size=600), st.integers(0, 2**32 - 1))
def test_data_block_round_trip_and_checksum(op, block, seq):
    payload = struct.pack("<IIII", len(block), seq, 0, 0) + block
    frame = build_request(op, payload)
    # esptool's own packing of the same request
    assert frame == struct.pack("<BBHI", 0, op, len(payload), ESPLoader.checksum(block)) + payload
    req = decode_request(frame)
    assert isinstance(req, Request)
    assert req.checksum_ok is True and req.problem is None
    assert req.fields["seq"] == seq and req.fields["data"] == block
    bad = frame[:4] + struct.pack("<I", req.checksum ^ 1) + frame[8:]
    assert decode_request(bad).checksum_ok is False


_WORD = st.integers(0, 2**32 - 1)
_FIELDS = {
    Opcode.FLASH_BEGIN: st.fixed_dictionaries({"erase_size": _WORD, "blocks": _WORD, "block_size": _WORD,
                                               "offset": _WORD, "encrypted": st.one_of(st.none(), st.integers(0, 1))}),
    Opcode.READ_REG: st.fixed_dictionaries({"address": _WORD}),
    Opcode.WRITE_REG: st.fixed_dictionaries({"address": _WORD, "value": _WORD, "mask": _WORD, "delay_us": _WORD}),
    Opcode.CHANGE_BAUDRATE: st.fixed_dictionaries({"new_baud": _WORD, "old_baud": _WORD}),
    Opcode.READ_FLASH: st.fixed_dictionaries({"offset": _WORD, "length": _WORD, "block_size": _WORD,
                                              "max_inflight": _WORD}),
    Opcode.SPI_FLASH_MD5: st.fixed_dictionaries({"address": _WORD, "size": _WORD, "pad1": st.just(0),
                                                 "pad2": st.just(0)}),
    Opcode.ERASE_REGION: st.fixed_dictionaries({"offset": _WORD, "size": _WORD}),
    Opcode.MEM_END: st.fixed_dictionaries({"no_entry": st.integers(0, 1), "entry": _WORD}),
}


@pytest.mark.parametrize("op", sorted(_FIELDS))
def test_payload_build_parse_round_trip(op):
    @settings(max_examples=50, deadline=None)
    @given(_FIELDS[op])
    def check(fields):
        frame = build_request(op, fields=fields)
        req = decode_request(frame)
        assert isinstance(req, Request) and req.problem is None
        for key, value in fields.items():
            assert req.fields.get(key) == value

    check()


def test_every_esptool_opcode_has_a_payload_definition():
    assert [op for op in Opcode if op not in REQUEST_PAYLOADS] == []


def test_sdc_data_checksum_covers_the_chunk_after_its_length():
    chunk = bytes(range(40))
    payload = struct.pack("<I", len(chunk)) + chunk
    frame = build_request(Opcode.SDC_VERIF_DATA, payload)
    assert frame[4:8] == struct.pack("<I", ESPLoader.checksum(chunk))
    req = decode_request(frame)
    assert req.checksum_ok is True and req.fields["data_len"] == 40


def test_request_size_mismatch_and_short_payload_are_problems_not_exceptions():
    frame = build_request(Opcode.READ_REG, b"\x00\x10\x00\x40")
    assert "header says" in decode_request(frame[:2] + b"\x09\x00" + frame[4:]).problem
    assert "too short" in decode_request(build_request(Opcode.WRITE_REG, b"\x01\x02")).problem
    assert isinstance(decode_request(b"\x00\x08"), RawFrame)
    assert isinstance(decode_request(b"\x01" * 12), RawFrame)


def test_status_trailers_rom_and_stub():
    rom = decode_response(build_response(Opcode.READ_REG, 0x00F01D83, status_len=4))
    stub = decode_response(build_response(Opcode.READ_REG, 0x00F01D83, status_len=2))
    for r in (rom, stub):
        assert isinstance(r, Response) and r.ok and r.value == 0x00F01D83 and r.error is None
    assert rom.status_len == 4 and stub.status_len == 2


def test_rom_error_is_the_byte_after_status_1():
    r = decode_response(build_response(Opcode.FLASH_DATA, status=1, error=0x07, status_len=4))
    assert (r.status, r.error, r.error_text) == (1, 0x07, "checksum error")


def test_stub_error_code_is_the_status_byte_as_esptool_reads_it():
    frame = build_response(Opcode.FLASH_DEFL_DATA, status=0xC1, error=0, status_len=2)
    r = decode_response(frame)
    assert (r.status, r.error, r.error_text) == (0xC1, 0xC1, "bad data checksum")
    message = str(FatalError.WithResult("Failed", frame[8:]))
    assert "Bad data checksum" in message


@pytest.mark.parametrize("code", sorted(ROM_ERRORS))
def test_rom_error_codes_are_the_ones_esptool_knows(code):
    message = str(FatalError.WithResult("x", bytes([1, code])))
    assert "Unknown result" not in message


@pytest.mark.parametrize("code", sorted(STUB_ERRORS))
def test_stub_error_codes_are_the_ones_esptool_knows(code):
    message = str(FatalError.WithResult("x", bytes([code, 0])))
    assert "Unknown result" not in message
    assert error_text(code) == STUB_ERRORS[code]


def test_md5_replies_rom_hex_and_stub_raw():
    digest = bytes(range(16))
    rom = decode_response(build_response(Opcode.SPI_FLASH_MD5, data=digest.hex().encode(), status_len=4))
    stub = decode_response(build_response(Opcode.SPI_FLASH_MD5, data=digest, status_len=2))
    assert rom.fields["md5"] == stub.fields["md5"] == digest.hex()


def test_security_info_with_and_without_chip_id():
    s3 = struct.pack("<IB7BII", 0, 0, *([0] * 7), 9, 0)
    s2 = struct.pack("<IB7B", 0, 0, *([0] * 7))
    assert decode_response(build_response(Opcode.GET_SECURITY_INFO, data=s3)).fields["chip_id"] == 9
    assert "chip_id" not in decode_response(build_response(Opcode.GET_SECURITY_INFO, data=s2)).fields


def test_split_status_infers_the_trailer_length():
    assert split_status(Opcode.READ_REG, b"\x00\x00") == (b"", b"\x00\x00")
    assert split_status(Opcode.READ_REG, b"\x00\x00\x00\x00") == (b"", b"\x00\x00\x00\x00")
    assert split_status(Opcode.SPI_FLASH_MD5, b"a" * 32 + b"\0" * 4) == (b"a" * 32, b"\0" * 4)


def test_decode_packet_directions():
    assert isinstance(decode_packet(build_request(Opcode.SYNC, SYNC_DATA)), Request)
    assert isinstance(decode_packet(build_response(Opcode.SYNC, 0x20120707)), Response)
    assert decode_packet(OHAI) == RawFrame(OHAI)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=100), st.sampled_from([None, 2, 4]))
def test_any_frame_decodes_without_raising(frame, status_len):
    decode_packet(frame, status_len) if frame else None
    decode_request(frame)
    decode_response(frame, status_len)


def _interpreted_fields(op: int, data: bytes):
    """What the declaration itself (construct's interpreter) makes of a payload."""
    import construct as cs

    try:
        return {k: v for k, v in REQUEST_PAYLOADS[op].parse(data).items() if not k.startswith("_")}
    except cs.ConstructError:
        return None


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(REQUEST_PAYLOADS)), st.binary(max_size=48))
def test_the_compiled_payload_parsers_read_what_the_declarations_say(op, data):
    # decode_request runs construct's compile() of each declaration: same fields, same
    # failures (a short payload is a problem, not an exception), for every op and length.
    frame = bytes([0, op]) + len(data).to_bytes(2, "little") + b"\0\0\0\0" + data
    want = _interpreted_fields(op, data)
    got = decode_request(frame)
    if want is None:
        assert got.problem and "too short" in got.problem and got.fields == {}
    else:
        assert got.fields == want
        assert [type(v) for v in got.fields.values()] == [type(v) for v in want.values()]
