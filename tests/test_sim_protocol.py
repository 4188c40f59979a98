"""The board's loader protocol, in process through ``sim://`` (a real pyserial port):
SYNC, status lengths, stub upload, MD5 formats, READ_FLASH flow control, checksums,
unknown commands, GET_SECURITY_INFO, baud changes and the JSON Lines record."""

from __future__ import annotations

import hashlib
import json
import struct
import time

import pytest

from conftest import CHIPS, read_until
from parsers.protocol import OHAI, SYNC_DATA, SYNC_VALUE, Opcode, build_request, decode_response
from parsers.slip import SlipDecoder, SlipFrame, slip_encode


class Loader:
    """A minimal host side of the protocol over a pyserial port."""

    def __init__(self, port, status_len: int | None = None):
        self.port = port
        self.decoder = SlipDecoder()
        self.frames: list[bytes] = []
        self.status_len = status_len

    def send(self, op: int, payload: bytes = b"", chk: int | None = None) -> None:
        self.port.write(slip_encode(build_request(op, payload, chk=chk)))

    def send_raw(self, payload: bytes) -> None:
        self.port.write(slip_encode(payload))

    def frame(self, timeout: float = 2.0) -> bytes:
        deadline = time.monotonic() + timeout
        while not self.frames:
            if time.monotonic() > deadline:
                raise AssertionError("no frame from the board")
            chunk = self.port.read(max(1, self.port.in_waiting))
            self.frames += [e.payload for e in self.decoder.feed(chunk) if isinstance(e, SlipFrame)]
        return self.frames.pop(0)

    def pending(self, wait: float = 0.05) -> int:
        time.sleep(wait)
        chunk = self.port.read(self.port.in_waiting)
        self.frames += [e.payload for e in self.decoder.feed(chunk) if isinstance(e, SlipFrame)]
        return len(self.frames)

    def command(self, op: int, payload: bytes = b"", chk: int | None = None):
        self.send(op, payload, chk)
        return decode_response(self.frame(), self.status_len)

    def sync(self) -> list:
        self.send(Opcode.SYNC, SYNC_DATA)
        return [decode_response(self.frame()) for _ in range(8)]

    def upload_stub(self) -> bytes:
        text = bytes(range(256)) * 8
        assert self.command(Opcode.MEM_BEGIN, struct.pack("<IIII", len(text), 1, 0x1800, 0x40080000)).ok
        block = struct.pack("<IIII", len(text), 0, 0, 0) + text
        assert self.command(Opcode.MEM_DATA, block).ok
        assert self.command(Opcode.MEM_END, struct.pack("<II", 0, 0x40080400)).ok
        return self.frame()


@pytest.fixture
def rom(sim_port):
    def make(chip: str = "esp32", **kwargs) -> Loader:
        if chip == "esp8266":
            port = sim_port(chip, start="download", baudrate=74880, **kwargs)
            read_until(port, rb"boot mode:\(1,7\)")
            port.baudrate = 115200
        else:
            port = sim_port(chip, start="download", **kwargs)
            read_until(port, "waiting for download")
        loader = Loader(port)
        loader.sync()  # as esptool does; it also locks the ROM to the host's baud
        return loader
    return make


@pytest.mark.parametrize("chip", CHIPS)
def test_sync_gets_eight_replies_with_the_rom_value_and_rom_status_length(sim_port, chip):
    port = sim_port(chip, start="download", baudrate=74880 if chip == "esp8266" else 115200)
    read_until(port, rb"boot mode:\(1,7\)|waiting for download")
    port.baudrate = 115200  # the ROM locks to the host's baud on SYNC (auto-baud)
    replies = Loader(port).sync()
    assert {r.value for r in replies} == {SYNC_VALUE}
    expected = 2 if chip == "esp8266" else 4
    assert {r.status_len for r in replies} == {expected}
    assert all(r.ok for r in replies)


def test_stub_greets_with_ohai_then_answers_sync_with_zero_and_two_status_bytes(rom):
    loader = rom("esp32")
    assert loader.upload_stub() == OHAI
    replies = loader.sync()
    assert {r.value for r in replies} == {0}
    assert {r.status_len for r in replies} == {2}


def test_read_reg_returns_the_chip_detect_magic(rom):
    loader = rom("esp32s2")
    assert loader.command(Opcode.READ_REG, struct.pack("<I", 0x40001000)).value == 0x000007C6


@pytest.mark.parametrize("chip, size", [("esp32", None), ("esp8266", None), ("esp32s2", 12),
                                        ("esp32s3", 20), ("esp32c3", 20), ("esp32c6", 20)])
def test_get_security_info_as_esptool_expects(rom, chip, size):
    loader = rom(chip)
    reply = loader.command(Opcode.GET_SECURITY_INFO)
    if size is None:
        assert reply.status == 1 and reply.error == 0x05
        return
    assert reply.ok and len(reply.body) == size
    if size == 20:
        from parsers.chips import CHIPS as FACTS
        assert struct.unpack("<I", reply.body[12:16])[0] == FACTS[chip].chip_id


def test_stub_refuses_get_security_info_on_esp32(rom):
    loader = rom("esp32")
    loader.upload_stub()
    reply = loader.command(Opcode.GET_SECURITY_INFO)
    assert (reply.status, reply.status_len) == (0xFF, 2)


def test_unknown_command_rom_and_stub(rom):
    loader = rom("esp32")
    reply = loader.command(Opcode.ERASE_FLASH)  # stub-only
    assert (reply.status, reply.error, reply.status_len) == (1, 0x05, 4)
    loader.upload_stub()
    reply = loader.command(0x7E)
    assert (reply.status, reply.status_len) == (0xC3, 2)


def _write_blocks(loader: Loader, offset: int, data: bytes, block: int = 0x400) -> None:
    blocks = -(-len(data) // block)
    assert loader.command(Opcode.FLASH_BEGIN, struct.pack("<IIIII", len(data), blocks, block, offset, 0)).ok
    for seq in range(blocks):
        chunk = data[seq * block:(seq + 1) * block].ljust(block, b"\xff")
        assert loader.command(Opcode.FLASH_DATA, struct.pack("<IIII", len(chunk), seq, 0, 0) + chunk).ok


def test_rom_md5_is_32_hex_digits_and_stub_md5_is_16_raw_bytes(rom):
    loader = rom("esp32s3")
    data = bytes(range(256)) * 10
    _write_blocks(loader, 0x2000, data)
    digest = hashlib.md5(data).digest()
    reply = loader.command(Opcode.SPI_FLASH_MD5, struct.pack("<IIII", 0x2000, len(data), 0, 0))
    assert reply.body == digest.hex().encode() and reply.status_len == 4
    loader.upload_stub()
    reply = loader.command(Opcode.SPI_FLASH_MD5, struct.pack("<IIII", 0x2000, len(data), 0, 0))
    assert reply.body == digest and reply.status_len == 2


def test_bad_block_checksum_gets_the_loaders_error_code(rom):
    loader = rom("esp32")
    assert loader.command(Opcode.FLASH_BEGIN, struct.pack("<IIII", 0x400, 1, 0x400, 0x1000)).ok
    block = struct.pack("<IIII", 0x400, 0, 0, 0) + b"\x11" * 0x400
    reply = loader.command(Opcode.FLASH_DATA, block, chk=0x12)
    assert (reply.status, reply.error) == (1, 0x07)  # ROM: checksum error
    loader.upload_stub()
    assert loader.command(Opcode.FLASH_BEGIN, struct.pack("<IIIII", 0x400, 1, 0x400, 0x1000, 0)).ok
    reply = loader.command(Opcode.FLASH_DATA, block, chk=0x12)
    assert (reply.status, reply.status_len) == (0xC1, 2)  # stub: 0xC100 "bad data checksum"


def test_read_flash_sends_one_packet_per_ack_then_the_md5(rom):
    loader = rom("esp32c3")
    data = bytes((i * 7) & 0xFF for i in range(0x2800))
    _write_blocks(loader, 0x10000, data)
    loader.upload_stub()
    assert loader.command(Opcode.READ_FLASH, struct.pack("<IIII", 0x10000, len(data), 0x1000, 64)).ok
    received = b""
    while len(received) < len(data):
        packet = loader.frame()
        received += packet
        assert loader.pending() == 0, "the stub sent more before the host acknowledged"
        loader.send_raw(struct.pack("<I", len(received)))
    assert received == data
    assert loader.frame() == hashlib.md5(data).digest()


def test_rom_read_flash_slow_returns_64_bytes(rom):
    loader = rom("esp32")
    data = b"espmon!!" * 16
    _write_blocks(loader, 0x3000, data)
    reply = loader.command(Opcode.READ_FLASH_SLOW, struct.pack("<II", 0x3000, 64))
    assert reply.body == data[:64]


def test_compressed_write_inflates_into_flash(rom):
    import zlib

    loader = rom("esp32s2")
    loader.upload_stub()
    data = b"hello flash " * 2000
    packed = zlib.compress(data, 9)
    blocks = -(-len(packed) // 0x4000)
    begin = struct.pack("<IIIII", len(data), blocks, 0x4000, 0x20000, 0)
    assert loader.command(Opcode.FLASH_DEFL_BEGIN, begin).ok
    for seq in range(blocks):
        chunk = packed[seq * 0x4000:(seq + 1) * 0x4000]
        assert loader.command(Opcode.FLASH_DEFL_DATA, struct.pack("<IIII", len(chunk), seq, 0, 0) + chunk).ok
    assert loader.command(Opcode.FLASH_DEFL_END, struct.pack("<I", 1)).ok
    reply = loader.command(Opcode.SPI_FLASH_MD5, struct.pack("<IIII", 0x20000, len(data), 0, 0))
    assert reply.body == hashlib.md5(data).digest()


def test_change_baudrate_replies_at_the_old_rate_then_switches(rom):
    loader = rom("esp32")
    loader.upload_stub()
    reply = loader.command(Opcode.CHANGE_BAUDRATE, struct.pack("<II", 921600, 115200))
    assert reply.ok  # readable: sent at 115200
    assert loader.port.board.device_baud == 921600
    loader.port.baudrate = 921600
    assert loader.command(Opcode.READ_REG, struct.pack("<I", 0x40001000)).value == 0x00F01D83


def test_output_at_another_baud_is_garbage(sim_port):
    port = sim_port("esp32", start="download", baudrate=9600)
    data = read_until(port, rb"[\x80-\xff]{40}")
    assert b"waiting for download" not in data


def test_esp8266_rom_banner_is_at_74880_baud(sim_port):
    port = sim_port("esp8266", start="download", baudrate=74880)
    assert b" ets Jan  8 2013,rst cause:1, boot mode:(1,7)" in read_until(port, rb"boot mode:\(1,7\)")


def test_record_has_frames_bytes_resets_and_baud_changes(sim_port, tmp_path):
    record = tmp_path / "board.jsonl"
    port = sim_port("esp32", start="download", record=str(record))
    read_until(port, "waiting for download")
    loader = Loader(port)
    loader.sync()
    loader.upload_stub()
    loader.command(Opcode.CHANGE_BAUDRATE, struct.pack("<II", 460800, 115200))
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert lines[0]["event"] == "host-open"  # the host end of the cable, opened once
    lines = [line for line in lines if not line.get("event", "").startswith("host-")]
    assert lines[0]["event"] == "reset" and lines[0]["mode"] == "download"
    assert b"waiting for download" in bytes.fromhex(lines[1]["bytes"])
    inbound = [r["frame"] for r in lines if r.get("dir") == "in" and "frame" in r]
    outbound = [r["frame"] for r in lines if r.get("dir") == "out" and "frame" in r]
    assert inbound[0] == build_request(Opcode.SYNC, SYNC_DATA).hex()
    assert len([f for f in outbound if f.startswith("0108")]) == 8
    assert OHAI.hex() in outbound
    assert {"event": "baud", "baud": 460800} in [{k: v for k, v in r.items() if k != "t"} for r in lines]
    assert all(a["t"] <= b["t"] for a, b in zip(lines, lines[1:]))


def test_pace_releases_bytes_at_the_wire_rate(sim_port):
    port = sim_port("esp32", start="download", pace=1, baudrate=9600)
    port.read(port.in_waiting)
    loader = Loader(port)
    loader.send(Opcode.SYNC, SYNC_DATA)  # the ROM locks to 9600: 8 replies take ~130 ms
    assert port.in_waiting < 8 * 14
    replies = [decode_response(loader.frame()) for _ in range(8)]
    assert {r.value for r in replies} == {SYNC_VALUE}


def test_cancel_read_wakes_a_blocked_reader(sim_port):
    import threading

    port = sim_port("esp32", start="download", timeout=None)
    port.read(port.in_waiting)
    result = []
    reader = threading.Thread(target=lambda: result.append(port.read(100)))
    reader.start()
    time.sleep(0.05)
    port.cancel_read()
    reader.join(2)
    assert not reader.is_alive() and result == [b""]


def test_a_purge_between_looking_and_reading_does_not_stall_the_next_reply(sim_port):
    """The RFC 2217 server's reader asked `in_waiting` (N), a purge came, then `read(N)` waited
    for N bytes that were thrown away: the next short reply stalled until esptool gave up
    ("Serial data stream stopped"), 2-3 of 4 paced writes. `read_available` has no N."""
    import threading

    port = sim_port("esp32", start="download", pace="1")
    host = port._host
    host.deliver(b"x" * 200)  # paced: arrives over ~17 ms
    deadline = time.monotonic() + 5
    while port.in_waiting == 0 and time.monotonic() < deadline:
        time.sleep(0.001)
    assert port.in_waiting > 0
    port.reset_input_buffer()  # the client's purge, between the reader's two calls
    got = []
    reader = threading.Thread(target=lambda: got.append(port.read_available(5)))
    reader.start()
    host.deliver(b"\xc0\x01\x09\x02\x00\x00\x00\x00\x00\x00\x00\xc0")  # a short reply
    reader.join(5)
    assert got and got[0].startswith(b"\xc0")
