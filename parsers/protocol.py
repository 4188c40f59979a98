"""The esptool serial protocol, declared with construct (parse and build).

A request is ``00 | op | size u16 | checksum u32 | data[size]``; a response is
``01 | op | size u16 | value u32 | body[size]`` where the body ends in status bytes:
4 on ESP32-family ROMs (status, error, 0, 0), 2 on the ESP8266 ROM and on every stub.
Opcode names are spelled exactly as esptool's ``ESP_CMDS``.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field
from typing import Any

import construct as cs

from parsers.protocol_errors import ROM_ERRORS, ROM_INVALID_RECV_MSG, STUB_ERRORS, error_text  # noqa: F401 (the API)

__all__ = [
    "Opcode",
    "REQUEST",
    "RESPONSE",
    "REQUEST_PAYLOADS",
    "SYNC_DATA",
    "SYNC_VALUE",
    "OHAI",
    "CHECKSUM_SEED",
    "CHECKSUMMED_OPS",
    "CHECKSUM_START",
    "request_checksum",
    "ROM_ERRORS",
    "STUB_ERRORS",
    "ROM_INVALID_RECV_MSG",
    "Request",
    "Response",
    "RawFrame",
    "Packet",
    "op_name",
    "checksum",
    "error_text",
    "decode_request",
    "decode_response",
    "decode_packet",
    "build_request",
    "build_response",
    "split_status",
]


class Opcode(enum.IntEnum):
    # ESP8266 ROM and later
    FLASH_BEGIN = 0x02
    FLASH_DATA = 0x03
    FLASH_END = 0x04
    MEM_BEGIN = 0x05
    MEM_END = 0x06
    MEM_DATA = 0x07
    SYNC = 0x08
    WRITE_REG = 0x09
    READ_REG = 0x0A
    # ESP32 ROM and later (ESP8266 with the stub)
    SPI_SET_PARAMS = 0x0B
    SPI_ATTACH = 0x0D
    READ_FLASH_SLOW = 0x0E
    CHANGE_BAUDRATE = 0x0F
    FLASH_DEFL_BEGIN = 0x10
    FLASH_DEFL_DATA = 0x11
    FLASH_DEFL_END = 0x12
    SPI_FLASH_MD5 = 0x13
    # ESP32-S2 ROM and later
    GET_SECURITY_INFO = 0x14
    # Secure Download Controller
    SDC_VERIF_BEGIN = 0x19
    SDC_VERIF_DATA = 0x1A
    SDC_VERIF_END = 0x1B
    SDC_GEN_BEGIN = 0x1C
    SDC_GEN_DATA = 0x1D
    SDC_GEN_END = 0x1E
    # stub only
    ERASE_FLASH = 0xD0
    ERASE_REGION = 0xD1
    READ_FLASH = 0xD2
    RUN_USER_CODE = 0xD3
    FLASH_ENCRYPT_DATA = 0xD4
    SPI_NAND_ATTACH = 0xD5
    SPI_NAND_READ_SPARE = 0xD6
    SPI_NAND_WRITE_SPARE = 0xD7
    SPI_NAND_READ_FLASH = 0xD8
    SPI_NAND_WRITE_FLASH_BEGIN = 0xD9
    SPI_NAND_WRITE_FLASH_DATA = 0xDA
    SPI_NAND_ERASE_FLASH = 0xDB
    SPI_NAND_ERASE_REGION = 0xDC
    SPI_NAND_READ_PAGE_DEBUG = 0xDD
    SPI_NAND_WRITE_FLASH_END = 0xDE


_OP_NAMES: dict[int, str] = {op.value: op.name for op in Opcode}


def op_name(op: int) -> str:
    """esptool's name for an opcode, or ``0xNN`` when it has none."""
    name = _OP_NAMES.get(op)
    return name if name is not None else f"0x{op:02x}"


# --- framing ---------------------------------------------------------------------------

REQUEST = cs.Struct(
    "direction" / cs.Const(0, cs.Int8ul),
    "op" / cs.Int8ul,
    "size" / cs.Rebuild(cs.Int16ul, cs.len_(cs.this.data)),
    "checksum" / cs.Int32ul,
    "data" / cs.Bytes(cs.this.size),
)

RESPONSE = cs.Struct(
    "direction" / cs.Const(1, cs.Int8ul),
    "op" / cs.Int8ul,
    "size" / cs.Rebuild(cs.Int16ul, cs.len_(cs.this.body)),
    "value" / cs.Int32ul,
    "body" / cs.Bytes(cs.this.size),
)

#: SYNC's 36-byte payload and the value the ROM puts in its replies.
SYNC_DATA = b"\x07\x07\x12\x20" + b"\x55" * 32
SYNC_VALUE = 0x20120707
#: The stub's greeting, sent once as an unsolicited frame when it starts.
OHAI = b"OHAI"

CHECKSUM_SEED = 0xEF
CHECKSUMMED_OPS = frozenset(
    {Opcode.MEM_DATA, Opcode.FLASH_DATA, Opcode.FLASH_DEFL_DATA, Opcode.FLASH_ENCRYPT_DATA,
     Opcode.SPI_NAND_WRITE_FLASH_DATA}
)
#: Where the checksummed bytes start in the payload of each op that carries a checksum:
#: after the 16-byte block header of data blocks, after the 4-byte length of SDC data.
CHECKSUM_START: dict[int, int] = {
    **{op: 16 for op in CHECKSUMMED_OPS}, Opcode.SDC_VERIF_DATA: 4, Opcode.SDC_GEN_DATA: 4,
}


def request_checksum(op: int, payload: bytes) -> int:
    """The checksum field esptool sends with ``payload`` (0 for ops that carry none)."""
    start = CHECKSUM_START.get(op)
    return checksum(payload[start:]) if start is not None and len(payload) >= start else 0


def checksum(data: bytes, state: int = CHECKSUM_SEED) -> int:
    """XOR of every byte, seeded with 0xEF: the checksum of a data block's payload."""
    # Fold the block as one big integer, halving its width each round: the XOR runs in
    # C instead of one Python step per byte (a 16 KiB block in ~15 rounds).
    width = len(data)
    if not width:
        return state
    x = int.from_bytes(data, "little")
    while width > 1:
        half = (width + 1) // 2
        x = (x & ((1 << (8 * half)) - 1)) ^ (x >> (8 * half))
        width = half
    return state ^ x


# --- request payloads ------------------------------------------------------------------

_u32 = cs.Int32ul

_BEGIN = cs.Struct(
    "erase_size" / _u32,
    "blocks" / _u32,
    "block_size" / _u32,
    "offset" / _u32,
    # S2 and later ROMs, and every stub, take a fifth word: 1 = encrypted write.
    "encrypted" / cs.Optional(_u32),
)
_DATA = cs.Struct(
    "data_len" / _u32,
    "seq" / _u32,
    "pad1" / _u32,
    "pad2" / _u32,
    "data" / cs.GreedyBytes,
)
# FLASH_END's word is "not reboot": 0 = reboot, 1 = stay in the loader / run user code.
_END = cs.Struct("stay" / cs.Optional(_u32))
_EMPTY = cs.Struct()

REQUEST_PAYLOADS: dict[int, cs.Construct] = {
    Opcode.FLASH_BEGIN: _BEGIN,
    Opcode.FLASH_DATA: _DATA,
    Opcode.FLASH_END: _END,
    Opcode.MEM_BEGIN: cs.Struct("size" / _u32, "blocks" / _u32, "block_size" / _u32, "offset" / _u32),
    Opcode.MEM_END: cs.Struct("no_entry" / _u32, "entry" / _u32),
    Opcode.MEM_DATA: _DATA,
    Opcode.SYNC: cs.Struct("pattern" / cs.Bytes(4), "fill" / cs.GreedyBytes),
    Opcode.WRITE_REG: cs.Struct("address" / _u32, "value" / _u32, "mask" / _u32, "delay_us" / _u32),
    Opcode.READ_REG: cs.Struct("address" / _u32),
    Opcode.SPI_SET_PARAMS: cs.Struct(
        "id" / _u32, "total_size" / _u32, "block_size" / _u32,
        "sector_size" / _u32, "page_size" / _u32, "status_mask" / _u32,
    ),
    Opcode.SPI_ATTACH: cs.Struct(
        "hspi_arg" / _u32,
        # ESP32-family ROMs take 4 more bytes: is_legacy and three zeros.
        "is_legacy" / cs.Optional(cs.Int8ul),
        "pad" / cs.Optional(cs.Bytes(3)),
    ),
    Opcode.READ_FLASH_SLOW: cs.Struct("offset" / _u32, "length" / _u32),
    Opcode.CHANGE_BAUDRATE: cs.Struct("new_baud" / _u32, "old_baud" / _u32),
    Opcode.FLASH_DEFL_BEGIN: _BEGIN,
    Opcode.FLASH_DEFL_DATA: _DATA,
    Opcode.FLASH_DEFL_END: _END,
    Opcode.SPI_FLASH_MD5: cs.Struct("address" / _u32, "size" / _u32, "pad1" / _u32, "pad2" / _u32),
    Opcode.GET_SECURITY_INFO: _EMPTY,
    Opcode.ERASE_FLASH: _EMPTY,
    Opcode.ERASE_REGION: cs.Struct("offset" / _u32, "size" / _u32),
    Opcode.READ_FLASH: cs.Struct("offset" / _u32, "length" / _u32, "block_size" / _u32, "max_inflight" / _u32),
    Opcode.RUN_USER_CODE: _EMPTY,
    Opcode.FLASH_ENCRYPT_DATA: _DATA,
    Opcode.SPI_NAND_ATTACH: cs.Struct("hspi_arg" / _u32, "is_legacy" / cs.Optional(cs.Int8ul), "pad" / cs.Optional(cs.Bytes(3))),
    Opcode.SPI_NAND_READ_SPARE: cs.Struct("page" / _u32),
    Opcode.SPI_NAND_WRITE_SPARE: cs.Struct("page" / _u32, "is_bad" / cs.Int8ul),
    # esptool 5.6 loader.py: offset, length, sector size, NAND pages per block.
    Opcode.SPI_NAND_READ_FLASH: cs.Struct("offset" / _u32, "length" / _u32, "block_size" / _u32, "pages_per_block" / _u32),
    # offset, size, NAND erase block size, write block size.
    Opcode.SPI_NAND_WRITE_FLASH_BEGIN: cs.Struct("offset" / _u32, "size" / _u32, "erase_block_size" / _u32, "block_size" / _u32),
    Opcode.SPI_NAND_WRITE_FLASH_DATA: _DATA,
    Opcode.SPI_NAND_ERASE_FLASH: _EMPTY,
    Opcode.SPI_NAND_ERASE_REGION: cs.Struct("offset" / _u32, "size" / _u32),
    Opcode.SPI_NAND_WRITE_FLASH_END: _END,
    # Not sent by esptool (the stub plugin's debug command); its payload is undocumented.
    Opcode.SPI_NAND_READ_PAGE_DEBUG: cs.Struct("raw" / cs.GreedyBytes),
    # Secure Download Controller (esptool 5.6 loader.py sdc_*): a certificate or chip-info
    # request sent in length-prefixed chunks, each checksummed after its length word.
    Opcode.SDC_VERIF_BEGIN: cs.Struct("ena_nonce" / _u32, "size" / _u32),
    Opcode.SDC_VERIF_DATA: cs.Struct("data_len" / _u32, "data" / cs.GreedyBytes),
    Opcode.SDC_VERIF_END: cs.Struct("flag" / _u32),
    Opcode.SDC_GEN_BEGIN: cs.Struct("flag" / _u32),
    Opcode.SDC_GEN_DATA: cs.Struct("data_len" / _u32, "data" / cs.GreedyBytes),
    Opcode.SDC_GEN_END: cs.Struct("flag" / _u32),
}

# What a successful response carries before its status bytes, per loader kind.
_SECURITY_INFO = cs.Struct(
    "flags" / _u32,
    "flash_crypt_cnt" / cs.Int8ul,
    "key_purposes" / cs.Array(7, cs.Int8ul),
    # Absent on ESP32-S2 (12-byte reply).
    "chip_id" / cs.Optional(_u32),
    "api_version" / cs.Optional(_u32),
)

# --- typed packets ---------------------------------------------------------------------


# Plain (not frozen) dataclasses: one is made per trace line or packet, and a frozen
# dataclass's __init__ costs 4x (object.__setattr__ per field). Nothing changes them once made.
@dataclass(slots=True)
class Request:
    op: int
    checksum: int
    data: bytes
    fields: dict[str, Any] = field(default_factory=dict)
    checksum_ok: bool | None = None  # None when the op carries no checksum
    problem: str | None = None  # payload shorter/longer than its op expects, size mismatch

    @property
    def name(self) -> str:
        return op_name(self.op)


@dataclass(slots=True)
class Response:
    op: int
    value: int
    body: bytes  # everything before the status bytes
    status: int | None
    error: int | None  # the error byte, only when status != 0
    status_len: int  # 2 or 4 (0 when the body was too short to hold a status)
    fields: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None

    @property
    def name(self) -> str:
        return op_name(self.op)

    @property
    def ok(self) -> bool:
        return self.status == 0

    @property
    def error_text(self) -> str | None:
        return None if self.error is None else error_text(self.error)


@dataclass(slots=True)
class RawFrame:
    """A frame that is not a request or response: OHAI, READ_FLASH data and acks, MD5
    digests of a flash read, or anything damaged."""

    data: bytes


Packet = Request | Response | RawFrame


def _to_dict(container: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in container.items():
        if key.startswith("_"):
            continue
        if isinstance(value, cs.ListContainer):
            value = list(value)
        out[key] = value
    return out


# construct's compile() turns a declaration into straight Python (3x faster to parse). The
# compiled parser reads a fixed-size cs.Bytes without checking that the bytes are there,
# and a short integer raises struct.error: ops declared with a fixed cs.Bytes field keep
# the interpreted parser, struct.error counts as a parse failure.
_INTERPRETED = frozenset({Opcode.SYNC})
_compiled: dict[int, Any] = {}
# Register-heavy sessions send the same few small payloads thousands of times: their fields
# are kept (bounded; each caller gets its own copy of the dict).
_SMALL = 64
_CACHE_SIZE = 4096
_parsed: dict[tuple[int, bytes], dict[str, Any] | None] = {}


def _payload_fields(op: int, data: bytes) -> dict[str, Any] | None:
    """The fields of request ``op``'s payload; {} for an op with no declaration, None
    when the payload does not fit its declaration."""
    small = len(data) <= _SMALL and type(data) is bytes
    if small:
        hit = _parsed.get((op, data), False)
        if hit is not False:
            return None if hit is None else dict(hit)
    parse = _compiled.get(op)
    if parse is None:
        spec = REQUEST_PAYLOADS.get(op)
        if spec is None:
            return {}
        parse = _compiled[op] = (spec if op in _INTERPRETED else spec.compile()).parse
    try:
        fields = _to_dict(parse(data))
    except (cs.ConstructError, struct.error):
        fields = None
    if small:
        if len(_parsed) >= _CACHE_SIZE:
            _parsed.clear()
        _parsed[(op, data)] = fields
        return None if fields is None else dict(fields)
    return fields


def decode_request(frame: bytes) -> Request | RawFrame:
    """Decode one unescaped frame sent by the host."""
    if len(frame) < 8 or frame[0] != 0:
        return RawFrame(frame)
    # Headers are read field by field, not with REQUEST.parse, so that a size that
    # disagrees with the frame is reported instead of failing the parse.
    op = frame[1]
    size = int.from_bytes(frame[2:4], "little")
    chk = int.from_bytes(frame[4:8], "little")
    data = frame[8:]
    problem = None
    if size != len(data):
        problem = f"header says {size} data bytes, frame has {len(data)}"
    fields = _payload_fields(op, data)
    if fields is None:
        fields = {}
        problem = problem or f"{op_name(op)} payload too short ({len(data)} bytes)"
    if op == Opcode.SYNC and data != SYNC_DATA and problem is None:
        problem = "SYNC payload is not 07 07 12 20 + 32 x 55"
    checksum_ok = None
    start = CHECKSUM_START.get(op)
    if start is not None and len(data) >= start:
        checksum_ok = checksum(data[start:]) == chk
        if "data" in fields and fields.get("data_len") != len(fields["data"]) and problem is None:
            problem = f"block header says {fields['data_len']} bytes, block has {len(fields['data'])}"
    return Request(op, chk, data, fields, checksum_ok, problem)


def _expected_body(op: int, size: int) -> tuple[int, ...]:
    """Possible lengths of the data before the status bytes of a successful reply."""
    if op == Opcode.SPI_FLASH_MD5:
        return (32, 16)  # ROM: 32 ASCII hex digits; stub: 16 raw bytes
    if op == Opcode.GET_SECURITY_INFO:
        return (20, 12)
    if op == Opcode.READ_FLASH_SLOW:
        return (64,)
    if op == Opcode.SDC_GEN_END:
        return (64,)  # 32 bytes of chip info + 32 of padding
    return (0,)


def split_status(op: int, body: bytes, status_len: int | None = None) -> tuple[bytes, bytes]:
    """Split a response body into (data, status bytes).

    ``status_len`` is 2 or 4 when the caller knows the loader (stub/ESP8266 vs ESP32
    ROM); otherwise it is inferred from the body length, as a reader of a trace must.
    """
    candidates = (status_len,) if status_len else (4, 2)
    for expected in _expected_body(op, len(body)):
        for slen in candidates:
            if len(body) == expected + slen:
                return body[:expected], body[expected:]
    # An error reply often carries no data at all, just the status.
    for slen in candidates:
        if len(body) == slen:
            return b"", body
    if status_len and len(body) >= status_len:
        return body[:-status_len], body[-status_len:]
    if len(body) >= 4 and body[-2:] == b"\0\0" and body[-4] in (0, 1):
        return body[:-4], body[-4:]
    if len(body) >= 2:
        return body[:-2], body[-2:]
    return body, b""


_replies: dict[tuple[bytes, int | None], Response] = {}


def decode_response(frame: bytes, status_len: int | None = None) -> Response | RawFrame:
    """Decode one unescaped frame sent by the chip. Small replies repeat (the same
    register read, the same status): the same Response is returned for the same frame,
    so its ``fields`` are not to be changed."""
    if len(frame) < 8 or frame[0] != 1:
        return RawFrame(frame)
    if len(frame) <= _SMALL and type(frame) is bytes:
        key = (frame, status_len)
        pkt = _replies.get(key)
        if pkt is None:
            if len(_replies) >= _CACHE_SIZE:
                _replies.clear()
            pkt = _replies[key] = _decode_response(frame, status_len)
        return pkt
    return _decode_response(frame, status_len)


def _decode_response(frame: bytes, status_len: int | None) -> Response:
    op = frame[1]
    size = int.from_bytes(frame[2:4], "little")
    value = int.from_bytes(frame[4:8], "little")
    payload = frame[8:]
    problem = None
    if size != len(payload):
        problem = f"header says {size} body bytes, frame has {len(payload)}"
    data, status_bytes = split_status(op, payload, status_len)
    status = status_bytes[0] if status_bytes else None
    # The ROM sends status 1 and the code in the next byte; the stub sends its code
    # (0xC0 and up) as the status byte itself, then 0 (esptool reads them as 0xC100).
    error = None
    if status == 1 and len(status_bytes) > 1:
        error = status_bytes[1]
    elif status:
        error = status
    fields: dict[str, Any] = {}
    if op == Opcode.SPI_FLASH_MD5 and data:
        fields["md5"] = data.decode("ascii", "replace").lower() if len(data) == 32 else data.hex()
    elif op == Opcode.GET_SECURITY_INFO and len(data) in (12, 20):
        fields = _to_dict(_SECURITY_INFO.parse(data))
        if fields.get("chip_id") is None:
            fields.pop("chip_id", None)
            fields.pop("api_version", None)
    elif op == Opcode.SYNC:
        fields["stub"] = value == 0
    return Response(op, value, data, status, error, len(status_bytes), fields, problem)


def decode_packet(frame: bytes, status_len: int | None = None) -> Packet:
    """Decode a frame whichever way it travelled (the direction byte tells)."""
    if frame[:1] == b"\x00":
        return decode_request(frame)
    if frame[:1] == b"\x01":
        return decode_response(frame, status_len)
    return RawFrame(frame)


def build_request(op: int, payload: bytes = b"", *, chk: int | None = None, fields: dict[str, Any] | None = None) -> bytes:
    """Build a request frame (unescaped) from raw ``payload`` bytes or from the payload
    ``fields``; the checksum of data-block ops is computed unless ``chk`` is given."""
    if fields is not None:
        payload = REQUEST_PAYLOADS[op].build(fields)
    if chk is None:
        chk = request_checksum(op, payload)
    return REQUEST.build({"op": op, "checksum": chk, "data": payload})


def build_response(
    op: int, value: int = 0, data: bytes = b"", status: int = 0, error: int = 0, status_len: int = 4
) -> bytes:
    """Build a response frame (unescaped) with ``status_len`` status bytes."""
    status_bytes = bytes([status, error]) + b"\0" * (status_len - 2)
    return RESPONSE.build({"op": op, "value": value, "body": data + status_bytes})
