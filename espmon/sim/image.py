"""Read what a boot needs from flash: image headers and segments, the partition table,
the app descriptor and the sample firmware's "vboard info" record.

Pure functions over bytes; nothing here raises on bad input (a bad image comes back with
``error`` set, the way a ROM or bootloader reports it).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

__all__ = [
    "IMAGE_MAGIC",
    "APP_DESC_MAGIC",
    "FLASH_MODES",
    "Segment",
    "Image",
    "Partition",
    "AppDesc",
    "VboardInfo",
    "parse_image",
    "parse_partitions",
    "boot_partition",
    "parse_app_desc",
    "parse_bootloader_desc",
    "find_vboard_info",
    "read_lines",
]

IMAGE_MAGIC = 0xE9
APP_DESC_MAGIC = 0xABCD5432
PARTITION_MAGIC = 0x50AA
VBOARD_MAGIC = b"VBOARD1\0"
FLASH_MODES = {0: "QIO", 1: "QOUT", 2: "DIO", 3: "DOUT"}
_MAX_SEGMENTS = 16


@dataclass(frozen=True)
class Segment:
    addr: int  # load (virtual) address
    offset: int  # flash offset of the segment data
    data: bytes


@dataclass(frozen=True)
class Image:
    offset: int
    magic: int
    mode: str  # QIO/QOUT/DIO/DOUT from the header
    size_freq: int
    entry: int
    segments: tuple[Segment, ...] = ()
    error: str | None = None  # why a loader would reject it
    chip_id: int | None = None  # extended header (ESP32 family)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def freq_code(self) -> int:
        return self.size_freq & 0x0F

    def segment_at(self, vaddr: int) -> Segment | None:
        for seg in self.segments:
            if seg.addr <= vaddr < seg.addr + len(seg.data):
                return seg
        return None

    def read_virtual(self, vaddr: int, size: int) -> bytes | None:
        seg = self.segment_at(vaddr)
        if seg is None:
            return None
        start = vaddr - seg.addr
        return seg.data[start:start + size]


def parse_image(flash: bytes | bytearray, offset: int, *, extended: bool = True) -> Image:
    """Parse the image at ``offset``. ``extended``: ESP32-family 16-byte extended header
    (the ESP8266's v1 image has none)."""
    head = bytes(flash[offset:offset + 8])
    if len(head) < 8:
        return Image(offset, 0, "DIO", 0, 0, error="image runs past the end of flash")
    magic, count, mode, size_freq, entry = struct.unpack("<BBBBI", head)
    mode_name = FLASH_MODES.get(mode, f"0x{mode:02x}")
    if magic != IMAGE_MAGIC:
        word = struct.unpack("<I", head[:4])[0]
        return Image(offset, magic, mode_name, size_freq, entry, error=f"invalid header: 0x{word:08x}")
    pos = offset + 8
    chip_id = None
    if extended:
        ext = bytes(flash[pos:pos + 16])
        chip_id = struct.unpack("<H", ext[4:6])[0] if len(ext) >= 6 else None
        pos += 16
    segments = []
    for _ in range(min(count, _MAX_SEGMENTS)):
        seg_head = bytes(flash[pos:pos + 8])
        if len(seg_head) < 8:
            return Image(offset, magic, mode_name, size_freq, entry, tuple(segments),
                         "segment header runs past the end of flash", chip_id)
        addr, length = struct.unpack("<II", seg_head)
        if length > 0x1000000 or pos + 8 + length > len(flash):
            return Image(offset, magic, mode_name, size_freq, entry, tuple(segments),
                         f"invalid segment length 0x{length:x}", chip_id)
        segments.append(Segment(addr, pos + 8, bytes(flash[pos + 8:pos + 8 + length])))
        pos += 8 + length
    error = None if count else "image has no segments"
    return Image(offset, magic, mode_name, size_freq, entry, tuple(segments), error, chip_id)


@dataclass(frozen=True)
class Partition:
    label: str
    type: int
    subtype: int
    offset: int
    size: int

    @property
    def usage(self) -> str:
        if self.type == 0:
            if self.subtype == 0:
                return "factory app"
            if 0x10 <= self.subtype < 0x20:
                return "OTA app"
            return "test app"
        return {0x00: "OTA data", 0x01: "RF data", 0x02: "WiFi data", 0x03: "NVS keys",
                0x04: "emul eFuse", 0x81: "FAT data", 0x82: "SPIFFS data"}.get(self.subtype, "unknown")


def parse_partitions(table: bytes | bytearray) -> list[Partition] | None:
    """Entries of an ESP-IDF partition table (None when there is no valid table)."""
    parts: list[Partition] = []
    for pos in range(0, min(len(table), 0xC00), 32):
        entry = bytes(table[pos:pos + 32])
        if len(entry) < 32:
            break
        magic, ptype, subtype, offset, size = struct.unpack("<HBBII", entry[:12])
        if magic != PARTITION_MAGIC:
            break
        label = entry[12:28].split(b"\0", 1)[0].decode("ascii", "replace")
        parts.append(Partition(label, ptype, subtype, offset, size))
    return parts or None


def boot_partition(parts: list[Partition] | None) -> Partition | None:
    """The partition a fresh bootloader boots: the factory app, else the first OTA app."""
    apps = [p for p in parts or () if p.type == 0]
    for part in apps:
        if part.subtype == 0:
            return part
    return apps[0] if apps else None


@dataclass(frozen=True)
class AppDesc:
    version: str
    project_name: str
    time: str
    date: str
    idf_ver: str
    elf_sha256: bytes


def _cstr(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def parse_app_desc(blob: bytes) -> AppDesc | None:
    """esp_app_desc_t (magic, secure_version, 2 reserved words, then the strings)."""
    if len(blob) < 16 + 32 + 32 + 16 + 16 + 32 + 32:
        return None
    if struct.unpack("<I", blob[:4])[0] != APP_DESC_MAGIC:
        return None
    pos = 16
    fields = []
    for width in (32, 32, 16, 16, 32):
        fields.append(_cstr(blob[pos:pos + width]))
        pos += width
    return AppDesc(*fields, elf_sha256=blob[pos:pos + 32])


def parse_bootloader_desc(image: Image) -> tuple[str, str] | None:
    """(idf_ver, date_time) of an esp_bootloader_desc_t (IDF >= 5.2: magic byte 0x50
    first in the bootloader's first segment), or None."""
    if not image.segments:
        return None
    blob = image.segments[0].data
    if len(blob) < 64 or blob[0] != 0x50:
        return None
    return _cstr(blob[8:40]), _cstr(blob[40:64])


@dataclass(frozen=True)
class VboardInfo:
    """The sample firmware's record: the panic backtrace, the faulting address and where
    the app's own output lines are."""

    frames: tuple[tuple[int, int], ...]
    fault_addr: int
    log_lines_vaddr: int
    lines: tuple[str, ...] = field(default=())


def find_vboard_info(image: Image) -> VboardInfo | None:
    for seg in image.segments:
        pos = seg.data.find(VBOARD_MAGIC)
        if pos < 0 or len(seg.data) < pos + 84:
            continue
        n_frames = min(struct.unpack("<I", seg.data[pos + 8:pos + 12])[0], 8)
        words = struct.unpack("<16I", seg.data[pos + 12:pos + 76])
        frames = tuple((words[2 * i], words[2 * i + 1]) for i in range(n_frames))
        fault_addr, lines_vaddr = struct.unpack("<II", seg.data[pos + 76:pos + 84])
        return VboardInfo(frames, fault_addr, lines_vaddr, read_lines(image, lines_vaddr))
    return None


def read_lines(image: Image, vaddr: int, limit: int = 64) -> tuple[str, ...]:
    """NUL-separated lines at ``vaddr``, up to the first empty one."""
    seg = image.segment_at(vaddr)
    if seg is None:
        return ()
    blob = seg.data[vaddr - seg.addr:]
    lines = []
    for raw in blob.split(b"\0"):
        if not raw or len(lines) >= limit:
            break
        lines.append(raw.decode("utf-8", "replace"))
    return tuple(lines)
