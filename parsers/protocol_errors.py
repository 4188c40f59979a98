"""The status error codes of the esptool serial protocol: what the ROM loader and the stub
flasher mean by each error byte of a failed reply."""

from __future__ import annotations

__all__ = ["ROM_INVALID_RECV_MSG", "ROM_ERRORS", "STUB_ERRORS", "error_text"]

ROM_INVALID_RECV_MSG = 0x05

#: The ROM error byte (second status byte when status = 1): esptool's serial-protocol
#: documentation. esptool 3.2-5.0 printed other, wrong texts for the same codes.
ROM_ERRORS: dict[int, str] = {
    0x00: "undefined error",
    0x01: "input parameter invalid",
    0x02: "failed to allocate memory",
    0x03: "failed to send message",
    0x04: "failed to receive message",
    0x05: "format of the received message is invalid",
    0x06: "message OK but the running result is wrong",
    0x07: "checksum error",
    0x08: "flash write error (read-back check failed)",
    0x09: "flash read error",
    0x0A: "flash read length error",
    0x0B: "deflate failed",
    0x0C: "deflate Adler32 error",
    0x0D: "deflate parameter error",
    0x0E: "invalid RAM binary size",
    0x0F: "invalid RAM binary address",
    0x64: "invalid parameter",
    0x65: "invalid format",
    0x66: "description too long",
    0x67: "bad encoding description",
    0x69: "insufficient storage",
}

#: The stub flasher's error byte (flasher_stub/include/stub_flasher.h).
STUB_ERRORS: dict[int, str] = {
    0xC0: "bad data length",
    0xC1: "bad data checksum",
    0xC2: "bad block size",
    0xC3: "invalid command",
    0xC4: "failed SPI operation",
    0xC5: "failed SPI unlock",
    0xC6: "not in flash mode",
    0xC7: "inflate error",
    0xC8: "not enough data",
    0xC9: "too much data",
    0xCA: "NAND program failed",
    0xCB: "NAND erase failed",
    0xFF: "command not implemented",
}


def error_text(code: int) -> str:
    """Meaning of a status error byte, whichever loader sent it."""
    return STUB_ERRORS.get(code) or ROM_ERRORS.get(code) or f"unknown error 0x{code:02x}"
