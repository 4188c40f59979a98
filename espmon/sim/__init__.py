"""The virtual board: a protocol-level emulated ESP chip (see DESIGN.md).

Modules, each with one job:

- ``facts``: per-chip register values (eFuse words, MAC, SPI layout, security info);
- ``flash``: the SPI NOR flash chip; ``image``: image headers, partition table, app
  descriptor and the sample firmware's vboard record;
- ``registers``: READ_REG/WRITE_REG, including the SPI flash user commands;
- ``rom`` / ``stub``: the ROM loader and the flasher stub protocols;
- ``banner`` / ``bootlog`` / ``boot``: what a reset prints and what a flash boot does;
- ``app`` / ``panic``: the running app (heartbeat, commands) and its crash dumps;
- ``lines``: the DevKit auto-reset circuit and the boot-strap model; ``faults``;
- ``board``: the state machine tying them together; ``scheduler``: its timers;
- ``port``: the host end of the UART; ``record``: the JSON Lines ground truth;
- transports: ``protocol_sim`` (pyserial ``sim://``), ``registry`` (named boards),
  ``rfc2217_server``, ``pty_bridge``, ``control`` (text control channel).
"""

from __future__ import annotations

__all__ = ["register"]


def register() -> None:
    """Make ``sim://`` URLs work in ``serial.serial_for_url`` (idempotent)."""
    import serial

    if "espmon.sim" not in serial.protocol_handler_packages:
        serial.protocol_handler_packages.append("espmon.sim")
