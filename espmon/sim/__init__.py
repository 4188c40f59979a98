"""The virtual board: a protocol-level emulated ESP chip (see DESIGN.md)."""

from __future__ import annotations

__all__ = ["register"]


def register() -> None:
    """Make ``sim://`` URLs work in ``serial.serial_for_url`` (idempotent)."""
    import serial

    if "espmon.sim" not in serial.protocol_handler_packages:
        serial.protocol_handler_packages.append("espmon.sim")
