"""The ROM serial loader ("download mode"), as esptool 5 talks to it.

Frames arrive SLIP-encoded; each request gets one response ``01 op len value data
status``, with 4 status bytes on ESP32-family ROMs (status, error, 0, 0) and 2 on the
ESP8266. SYNC is answered eight times. A failed request gets status 1 and the ROM's
error byte; a command the ROM does not know gets error 0x05 (invalid message).
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from parsers.protocol import (
    ROM_INVALID_RECV_MSG,
    SYNC_VALUE,
    Opcode,
    RawFrame,
    Request,
    build_response,
    decode_request,
)
from parsers.slip import SlipDecoder, SlipFrame

if TYPE_CHECKING:
    from espmon.sim.board import Board

__all__ = ["Fail", "FlashWrite", "RomLoader"]

# ROM error bytes (parsers.protocol.ROM_ERRORS)
ERR_INVALID_PARAM = 0x01
ERR_CHECKSUM = 0x07
ERR_FLASH_WRITE = 0x08
ERR_DEFLATE = 0x0B


class Fail(Exception):
    """A request the loader refuses: ``code`` is the error byte (ROM) or code (stub)."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


@dataclass
class FlashWrite:
    """An open FLASH_BEGIN / FLASH_DEFL_BEGIN: where the next bytes go."""

    offset: int  # flash offset of the next byte
    remaining: int  # bytes still expected (uncompressed)
    blocks: int
    block_size: int
    compressed: bool
    start: int
    seen_blocks: int = 0
    inflater: object = field(default=None)


class RomLoader:
    """Download mode of the mask ROM (also the base the stub builds on)."""

    kind = "rom"
    sync_value = SYNC_VALUE

    def __init__(self, board: Board):
        self.board = board
        self.facts = board.facts
        self.flash = board.flash
        self.regs = board.regs
        self.decoder = SlipDecoder()
        self.write: FlashWrite | None = None
        self.mem_remaining = 0
        self.status_len = board.chip.rom_status_len
        esp8266 = board.chip.key == "esp8266"
        self.handlers: dict[int, Callable[[Request], tuple[int, bytes]]] = {
            Opcode.SYNC: self._sync,
            Opcode.READ_REG: self._read_reg,
            Opcode.WRITE_REG: self._write_reg,
            Opcode.MEM_BEGIN: self._mem_begin,
            Opcode.MEM_DATA: self._mem_data,
            Opcode.MEM_END: self._mem_end,
            Opcode.FLASH_BEGIN: self._flash_begin,
            Opcode.FLASH_DATA: self._flash_data,
            Opcode.FLASH_END: self._flash_end,
        }
        if not esp8266:
            self.handlers.update({
                Opcode.SPI_SET_PARAMS: self._ok,
                Opcode.SPI_ATTACH: self._ok,
                Opcode.READ_FLASH_SLOW: self._read_flash_slow,
                Opcode.CHANGE_BAUDRATE: self._change_baudrate,
                Opcode.FLASH_DEFL_BEGIN: self._flash_defl_begin,
                Opcode.FLASH_DEFL_DATA: self._flash_defl_data,
                Opcode.FLASH_DEFL_END: self._flash_end,
                Opcode.SPI_FLASH_MD5: self._md5,
            })
            if self.facts.security_info is not None:
                self.handlers[Opcode.GET_SECURITY_INFO] = self._security_info

    # --- framing --------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        for event in self.decoder.feed(data):
            if isinstance(event, SlipFrame):
                self.on_frame(event.payload)
                if self.board.loader is not self:  # MEM_END started the stub
                    return

    def on_frame(self, payload: bytes) -> None:
        request = decode_request(payload)
        if isinstance(request, RawFrame):
            self.on_raw(payload)
            return
        handler = self.handlers.get(request.op)
        after: list[Callable[[], None]] = []
        self._after = after
        try:
            if handler is None:
                raise Fail(self.unknown_error)
            if request.problem and request.op != Opcode.SYNC:
                raise Fail(self.unknown_error if "header says" in request.problem else self.param_error)
            value, data = handler(request)
        except _Silenced:
            return
        except Fail as fail:
            self.reply(request.op, 0, b"", fail.code)
            return
        if value is None:  # handler already answered (or never answers)
            return
        self.reply(request.op, value, data)
        for action in after:
            action()

    def on_raw(self, payload: bytes) -> None:
        """A frame that is not a request: the ROM ignores it."""

    def reply(self, op: int, value: int = 0, data: bytes = b"", error: int | None = None) -> None:
        if error is None:
            frame = build_response(op, value, data, 0, 0, self.status_len)
        else:
            frame = build_response(op, value, b"", 1, error, self.status_len)
        self.board.send_frame(frame)

    def later(self, action: Callable[[], None]) -> None:
        """Run ``action`` once the current reply has been sent."""
        self._after.append(action)

    unknown_error = ROM_INVALID_RECV_MSG
    param_error = ERR_INVALID_PARAM
    checksum_error = ERR_CHECKSUM
    inflate_error = ERR_DEFLATE
    write_error = ERR_FLASH_WRITE

    # --- commands -------------------------------------------------------------------------

    def _ok(self, request: Request) -> tuple[int, bytes]:
        return 0, b""

    def _sync(self, request: Request) -> tuple[int, bytes]:
        self.board.autobaud()
        for _ in range(7):
            self.reply(Opcode.SYNC, self.sync_value)
        return self.sync_value, b""

    def _read_reg(self, request: Request) -> tuple[int, bytes]:
        return self.regs.read(request.fields["address"]), b""

    def _write_reg(self, request: Request) -> tuple[int, bytes]:
        data = request.data
        if not data or len(data) % 16:
            raise Fail(self.param_error)
        for pos in range(0, len(data), 16):
            addr, value, mask, _delay = struct.unpack("<IIII", data[pos:pos + 16])
            self.regs.write(addr, value, mask)
        return 0, b""

    def _mem_begin(self, request: Request) -> tuple[int, bytes]:
        self.mem_remaining = request.fields["size"]
        return 0, b""

    def _mem_data(self, request: Request) -> tuple[int, bytes]:
        block = request.fields["data"]
        if not request.checksum_ok:
            raise Fail(self.checksum_error)
        if len(block) > self.mem_remaining:
            raise Fail(self.param_error)
        self.mem_remaining -= len(block)
        return 0, b""

    def _mem_end(self, request: Request) -> tuple[int, bytes]:
        if request.fields["no_entry"] == 0:
            self.later(self.board.start_stub)
        return 0, b""

    def _flash_begin(self, request: Request, compressed: bool = False) -> tuple[int, bytes]:
        f = request.fields
        erase_size, offset = f["erase_size"], f["offset"]
        if offset + erase_size > self.flash.size:
            raise Fail(self.param_error)
        # The ROM erases the whole region up front (the stub erases as it writes). The
        # ESP8266 ROM's erase is buggy and esptool sends a size that compensates for it;
        # what ends up erased is the region the data blocks cover.
        if self.board.chip.key == "esp8266" and not compressed:
            self.flash.erase(offset, f["blocks"] * f["block_size"])
        else:
            self.flash.erase(offset, erase_size)
        self.write = FlashWrite(offset, erase_size, f["blocks"], f["block_size"], compressed, offset,
                                inflater=zlib.decompressobj() if compressed else None)
        return 0, b""

    def _flash_defl_begin(self, request: Request) -> tuple[int, bytes]:
        return self._flash_begin(request, compressed=True)

    def _check_block(self, request: Request) -> bytes:
        if self.write is None:
            raise Fail(self.param_error)
        block = request.fields["data"]
        if request.fields["data_len"] != len(block):
            raise Fail(self.param_error)
        if not request.checksum_ok:
            raise Fail(self.checksum_error)
        if self.board.brownout_due(self.write, request.fields["seq"]):
            raise _Silenced()
        return block

    def _flash_data(self, request: Request) -> tuple[int, bytes]:
        block = self._check_block(request)
        write = self.write
        offset = write.start + request.fields["seq"] * write.block_size
        if not self.flash.write(offset, block[: max(0, self.flash.size - offset)]):
            raise Fail(self.write_error)
        write.seen_blocks += 1
        return 0, b""

    def _flash_defl_data(self, request: Request) -> tuple[int, bytes]:
        block = self._check_block(request)
        self._inflate(block)
        return 0, b""

    def _inflate(self, block: bytes) -> None:
        write = self.write
        try:
            out = write.inflater.decompress(block)
        except zlib.error:
            raise Fail(self.inflate_error) from None
        if len(out) > write.remaining:
            raise Fail(self.param_error)
        if not self.flash.write(write.offset, out):
            raise Fail(self.write_error)
        write.offset += len(out)
        write.remaining -= len(out)
        write.seen_blocks += 1

    def _flash_end(self, request: Request) -> tuple[int, bytes]:
        self.write = None
        stay = request.fields.get("stay")
        # ROM: 1 = leave the loader and run the app from flash, 0 = reboot the chip.
        if stay:
            self.later(lambda: self.board.run_user_code())
        elif stay == 0:
            self.later(lambda: self.board.software_reset())
        return 0, b""

    def _read_flash_slow(self, request: Request) -> tuple[int, bytes]:
        offset, length = request.fields["offset"], request.fields["length"]
        if length > 64:
            raise Fail(self.param_error)
        return 0, self.flash.read(offset, length).ljust(64, b"\xff")

    def _change_baudrate(self, request: Request) -> tuple[int, bytes]:
        new_baud = request.fields["new_baud"]
        if not 300 <= new_baud <= 5_000_000:
            raise Fail(self.param_error)
        self.later(lambda: self.board.set_device_baud(new_baud))
        return 0, b""

    def _md5(self, request: Request) -> tuple[int, bytes]:
        f = request.fields
        if f["address"] + f["size"] > self.flash.size:
            raise Fail(self.param_error)
        return 0, self.md5_reply(hashlib.md5(self.flash.read(f["address"], f["size"])).digest())

    def md5_reply(self, digest: bytes) -> bytes:
        return digest.hex().encode("ascii")  # the ROM answers in 32 hex digits

    def _security_info(self, request: Request) -> tuple[int, bytes]:
        return 0, self.facts.security_info


class _Silenced(Fail):
    """The board reset in the middle of the request (brownout): no reply at all."""

    def __init__(self) -> None:
        super().__init__(-1)
