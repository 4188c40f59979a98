"""The failures the virtual board can reproduce, each a case of esptool's
troubleshooting guide, and what the user sees when it happens."""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["FAULTS", "Faults", "parse_faults"]

#: name -> what it does and what esptool / the console shows.
FAULTS: dict[str, str] = {
    "no-autoreset": 'GPIO0 not wired to DTR: every reset boots from flash ("Wrong boot mode")',
    "dead-tx": 'the board\'s TX line is dead ("No serial data received.")',
    "dead-rx": 'the board\'s RX line is dead ("...getting no sync reply")',
    "noise": 'line noise corrupts what the board sends ("Invalid head of packet")',
    "brownout": "the chip browns out part way through every flash write",
    "dio-only": "the flash supports DIO only: a QIO image writes fine but does not boot",
    "no-bootloader": 'nothing at the bootloader offset: "invalid header" boot loop',
    "panic": "the app crashes after boot (Guru Meditation + backtrace), then reboots",
    "usb-reenumerate": "the port vanishes on reset and comes back ~0.7 s later",
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
