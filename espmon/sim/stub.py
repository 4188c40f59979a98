"""The flasher stub esptool uploads into RAM (esp-flasher-stub 1.x, what esptool 5.6
ships), on top of the ROM loader's commands.

Differences from the ROM that esptool depends on: SYNC answered with value 0 (so a
running stub is recognised), 2 status bytes whose error codes travel big-endian (0xC100
"bad checksum" arrives as ``C1 00``), an MD5 in 16 raw bytes, erase as you write, the
stub-only ERASE_FLASH / ERASE_REGION / READ_FLASH, and no READ_FLASH_SLOW.
"""

from __future__ import annotations

import hashlib
import zlib
from typing import TYPE_CHECKING

from parsers.protocol import Opcode, Request, build_response
from espmon.sim.flash import SECTOR
from espmon.sim.rom import Fail, FlashWrite, RomLoader

if TYPE_CHECKING:
    from espmon.sim.board import Board

__all__ = ["StubLoader"]

BAD_DATA_LEN = 0xC0
BAD_DATA_CHECKSUM = 0xC1
INVALID_COMMAND = 0xC3
FAILED_SPI_OP = 0xC4
NOT_IN_FLASH_MODE = 0xC6
INFLATE_ERROR = 0xC7
TOO_MUCH_DATA = 0xC9
NOT_IMPLEMENTED = 0xFF


class _Read:
    """A READ_FLASH in progress: one packet in flight, the next one after the host's ack."""

    def __init__(self, offset: int, length: int, packet: int):
        self.offset = offset
        self.remaining = length
        self.length = length
        self.packet = packet
        self.md5 = hashlib.md5()


class StubLoader(RomLoader):
    kind = "stub"
    sync_value = 0
    unknown_error = INVALID_COMMAND
    param_error = BAD_DATA_LEN
    checksum_error = BAD_DATA_CHECKSUM
    inflate_error = INFLATE_ERROR
    write_error = FAILED_SPI_OP

    def __init__(self, board: Board):
        super().__init__(board)
        self.status_len = 2
        self.reading: _Read | None = None
        self.handlers.update({
            Opcode.SPI_SET_PARAMS: self._ok,
            Opcode.SPI_ATTACH: self._ok,
            Opcode.CHANGE_BAUDRATE: self._change_baudrate,
            Opcode.FLASH_DEFL_BEGIN: self._flash_defl_begin,
            Opcode.FLASH_DEFL_DATA: self._flash_defl_data,
            Opcode.FLASH_DEFL_END: self._flash_end,
            Opcode.SPI_FLASH_MD5: self._md5,
            Opcode.GET_SECURITY_INFO: self._security_info,
            Opcode.ERASE_FLASH: self._erase_flash,
            Opcode.ERASE_REGION: self._erase_region,
            Opcode.READ_FLASH: self._read_flash,
            Opcode.RUN_USER_CODE: self._run_user_code,
        })
        self.handlers.pop(Opcode.READ_FLASH_SLOW, None)

    def reply(self, op: int, value: int = 0, data: bytes = b"", error: int | None = None) -> None:
        # The stub's 16-bit response code goes out big-endian: 0xC100 -> C1 00.
        if error is None:
            frame = build_response(op, value, data, 0, 0, 2)
        else:
            frame = build_response(op, value, b"", error, 0, 2)
        self.board.send_frame(frame)

    def on_frame(self, payload: bytes) -> None:
        if self.reading is not None:
            if len(payload) == 4:  # the host acknowledges what it has received so far
                self._acked(int.from_bytes(payload, "little"))
                return
            self._finish_read()  # anything else ends the transfer
        super().on_frame(payload)

    # --- flash writes: erase as you go ----------------------------------------------------

    def _flash_begin(self, request: Request, compressed: bool = False) -> tuple[int, bytes]:
        f = request.fields
        size, offset = f["erase_size"], f["offset"]
        if offset + size > self.flash.size:
            raise Fail(FAILED_SPI_OP)
        self.flash.erase(offset, size)
        self.write = FlashWrite(offset, size, f["blocks"], f["block_size"], compressed, offset,
                                inflater=zlib.decompressobj() if compressed else None)
        return 0, b""

    def _flash_data(self, request: Request) -> tuple[int, bytes]:
        block = self._check_block(request)
        write = self.write
        chunk = block[: write.remaining]
        if not self.flash.write(write.offset, chunk):
            raise Fail(FAILED_SPI_OP)
        write.offset += len(chunk)
        write.remaining -= len(chunk)
        write.seen_blocks += 1
        return 0, b""

    def _check_block(self, request: Request) -> bytes:
        if self.write is None:
            raise Fail(NOT_IN_FLASH_MODE)
        if request.fields["data_len"] != len(request.fields["data"]):
            raise Fail(TOO_MUCH_DATA)
        return super()._check_block(request)

    def _flash_end(self, request: Request) -> tuple[int, bytes]:
        if self.write is None:
            raise Fail(NOT_IN_FLASH_MODE)
        if self.write.remaining:
            raise Fail(BAD_DATA_LEN)
        self.write = None
        return 0, b""  # the stub does not reboot on FLASH_END (esp-flasher-stub 1.x)

    # --- stub-only commands ---------------------------------------------------------------

    def md5_reply(self, digest: bytes) -> bytes:
        return digest

    def _security_info(self, request: Request) -> tuple[int, bytes]:
        if self.facts.security_info is None:
            raise Fail(NOT_IMPLEMENTED)
        return 0, self.facts.security_info

    def _erase_flash(self, request: Request) -> tuple[int, bytes]:
        self.flash.erase_all()
        return 0, b""

    def _erase_region(self, request: Request) -> tuple[int, bytes]:
        offset, size = request.fields["offset"], request.fields["size"]
        if offset % SECTOR or size % SECTOR or offset + size > self.flash.size:
            raise Fail(BAD_DATA_LEN)
        self.flash.erase(offset, size)
        return 0, b""

    def _read_flash(self, request: Request) -> tuple[int, bytes]:
        f = request.fields
        if f["block_size"] > 4096 or f["block_size"] == 0:
            raise Fail(BAD_DATA_LEN)
        self.reading = _Read(f["offset"], f["length"], f["block_size"])
        self.later(self._send_packet)
        return 0, b""

    def _send_packet(self) -> None:
        read = self.reading
        if read is None:
            return
        if read.remaining == 0:
            self._finish_read()
            return
        size = min(read.packet, read.remaining)
        data = self.flash.read(read.offset, size)
        read.md5.update(data)
        read.offset += size
        read.remaining -= size
        self.board.send_frame(data)

    def _acked(self, total: int) -> None:
        read = self.reading
        if read.remaining:
            self._send_packet()
        elif total >= read.length:
            self._finish_read()

    def _finish_read(self) -> None:
        read, self.reading = self.reading, None
        if read is not None:
            self.board.send_frame(read.md5.digest())

    def _run_user_code(self, request: Request) -> tuple[int, bytes]:
        self.board.run_user_code()
        return None, b""  # no reply
