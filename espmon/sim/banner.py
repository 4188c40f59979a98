"""What the mask ROM prints at reset: the banner, the boot-mode line, and the lines it
prints while loading the 2nd-stage bootloader (taken from the image's real segments).

ESP32 prints ``ets <date>`` then ``rst:0x1 (POWERON_RESET),boot:0x13 (...)``; the
ESP-ROM chips print ``ESP-ROM:<id>`` / ``Build:<date>`` first and lengths in hex; the
ESP8266 prints `` ets Jan  8 2013,rst cause:2, boot mode:(3,6)`` (at 74880 baud).
"""

from __future__ import annotations

from espmon.sim.facts import ChipFacts
from espmon.sim.image import Image
from parsers.protocol import checksum

__all__ = ["NL", "rom_banner", "download_tail", "load_lines", "clock_div", "strap_text"]

NL = "\r\n"  # the ROM's printf turns "\n" into CR LF


def strap_text(facts: ChipFacts, strap: int) -> str:
    chip = facts.chip
    if chip.is_download_strap(strap):
        return chip.download_boot[1]
    if strap == chip.flash_boot[0]:
        return chip.flash_boot[1]
    return "SPI_FAST_FLASH_BOOT"


def rom_banner(facts: ChipFacts, reset_code: int, strap: int, saved_pc: int | None = None) -> str:
    """Everything up to and including the ``rst:``/``boot:`` line."""
    chip = facts.chip
    if chip.key == "esp8266":
        mode = chip.download_boot[1] if chip.is_download_strap(strap) else chip.flash_boot[1]
        return f"{NL} ets {chip.rom_id},rst cause:{reset_code}, boot mode:{mode}{NL}{NL}"
    name = chip.reset_reason(reset_code)
    reason = name[0] if name else "UNKNOWN"
    rst = f"rst:0x{reset_code:x} ({reason}),boot:0x{strap:x} ({strap_text(facts, strap)}){NL}"
    if chip.key == "esp32":
        return f"ets {chip.rom_id}{NL}{NL}{rst}"
    head = f"ESP-ROM:{chip.rom_id}{NL}Build:{chip.rom_build}{NL}{rst}"
    if saved_pc is not None and reset_code != 0x1:
        head += f"Saved PC:0x{saved_pc:08x}{NL}"
    return head


def download_tail(facts: ChipFacts) -> str:
    return "" if facts.chip.key == "esp8266" else f"waiting for download{NL}"


def clock_div(facts: ChipFacts, freq_code: int) -> int:
    """The SPI clock divider the ROM prints for the header's flash frequency."""
    if facts.chip.key == "esp32":
        return {0x0: 2, 0x1: 3, 0x2: 4, 0xF: 1}.get(freq_code, 2)
    return {0x0: 2, 0x1: 3, 0x2: 4, 0xF: 1}.get(freq_code, 1)


def load_lines(facts: ChipFacts, image: Image) -> str:
    """The ROM's report of loading the bootloader image's segments, ending at ``entry``."""
    if facts.chip.key == "esp8266":
        return _esp8266_load(image)
    out = []
    if facts.chip.key == "esp32":
        out.append(f"configsip: 0, SPIWP:0xee{NL}")
        out.append(f"clk_drv:0x00,q_drv:0x00,d_drv:0x00,cs0_drv:0x00,hd_drv:0x00,wp_drv:0x00{NL}")
    else:
        out.append(f"SPIWP:0xee{NL}")
    out.append(f"mode:{image.mode}, clock div:{clock_div(facts, image.freq_code)}{NL}")
    for seg in image.segments:
        length = len(seg.data)
        # ESP32 prints the length in decimal, the ESP-ROM chips in hex.
        text = str(length) if facts.chip.key == "esp32" else f"0x{length:x}"
        out.append(f"load:0x{seg.addr:08x},len:{text}{NL}")
    out.append(f"entry 0x{image.entry:08x}{NL}")
    return "".join(out)


def _esp8266_load(image: Image) -> str:
    out = []
    state = 0xEF
    for n, seg in enumerate(image.segments):
        state = checksum(seg.data, state)
        room = 16 if n == 0 else 8
        out.append(f"load 0x{seg.addr:08x}, len {len(seg.data)}, room {room} {NL}")
        out.append(f"tail {len(seg.data) % 8}{NL}chksum 0x{state:02x}{NL}")
    out.append(f"csum 0x{state:02x}{NL}")
    return "".join(out)
