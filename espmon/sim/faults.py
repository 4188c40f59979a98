"""The failures the virtual board can reproduce, each a case of esptool's
troubleshooting guide, and what the user sees when it happens."""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["FAULTS", "Faults", "parse_faults"]

#: name -> what it does and what esptool / the console shows.
FAULTS: dict[str, str] = {
    "no-autoreset": "GPIO0 is not wired to DTR: every reset boots from flash "
                    '(esptool: "Wrong boot mode detected (0x13)!")',
    "dead-tx": 'the board\'s TX line is dead: nothing reaches the host (esptool: "No serial data received.")',
    "dead-rx": "the board's RX line is dead: it prints its banner but never hears the host "
               '(esptool: "Download mode successfully detected, but getting no sync reply")',
    "noise": 'line noise corrupts what the board sends (esptool: "Invalid head of packet")',
    "brownout": "the supply browns out part way through a flash write and the chip resets",
    "dio-only": "the flash supports only DIO: a QIO image writes fine but does not boot",
    "no-bootloader": "nothing at the bootloader offset: the ROM's invalid header boot loop",
    "panic": "the app crashes after boot with a Guru Meditation and a backtrace",
    "usb-reenumerate": "the port vanishes on reset (USB re-enumeration) and comes back ~0.7 s later",
}


@dataclass(frozen=True)
class Faults:
    no_autoreset: bool = False
    dead_tx: bool = False
    dead_rx: bool = False
    noise: bool = False
    brownout: bool = False
    dio_only: bool = False
    no_bootloader: bool = False
    panic: bool = False
    usb_reenumerate: bool = False

    @property
    def names(self) -> list[str]:
        return [f.name.replace("_", "-") for f in fields(self) if getattr(self, f.name)]


def parse_faults(values: list[str] | tuple[str, ...] | None) -> Faults:
    """``["noise", "panic,dead-rx"]`` -> Faults. Raises ValueError naming an unknown fault."""
    chosen: dict[str, bool] = {}
    for value in values or ():
        for name in value.split(","):
            name = name.strip().lower().replace("_", "-")
            if not name:
                continue
            if name not in FAULTS:
                raise ValueError(f"unknown fault {name!r} (known: {', '.join(FAULTS)})")
            chosen[name.replace("-", "_")] = True
    return Faults(**chosen)
