"""Is the ``--elf`` the app on the chip? The checks esp-idf-monitor makes, and two more.

- The app prints ``ELF file SHA256: 1a2b3c...`` (a prefix of the SHA-256 of its ELF). It is
  compared with each ``--elf``: a mismatch is said once (esp-idf-monitor: "Checksum
  mismatch between flashed and built applications"), and which file matches is named.
- A file that is an ELF for neither Xtensa nor RISC-V (``/bin/ls``) is said at start.
- An ELF whose architecture is not the chip's (a RISC-V ELF on an ESP32) is said once the
  boot banner names the chip.
Backtraces decoded from a wrong ELF point at the wrong lines: these notes say why.
"""

from __future__ import annotations

import hashlib
import os
import struct

__all__ = ["ElfCheck"]

_MACHINES = {94: "xtensa", 243: "riscv", 62: "x86-64", 3: "x86", 183: "AArch64", 40: "ARM"}
_CHIP_ARCH = {"xtensa": "xtensa", "lx106": "xtensa", "riscv": "riscv"}


def _machine(path: str) -> str | None:
    """The ELF's architecture name; None when the file is not an ELF."""
    with open(path, "rb") as f:
        head = f.read(20)
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return None
    order = "<" if head[5] == 1 else ">"
    (machine,) = struct.unpack_from(order + "H", head, 18)
    return _MACHINES.get(machine, f"machine {machine}")


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ElfCheck:
    def __init__(self, paths: list[str]) -> None:
        self.paths = [os.fspath(p) for p in paths]
        self.arch = {p: _machine(p) for p in self.paths}
        self._hashes: dict[str, str] | None = None
        self._seen_sha: set[str] = set()
        self._chip_checked = False

    def start_notes(self) -> list[str]:
        """Files that cannot be the firmware of any Espressif chip."""
        out = []
        for path, arch in self.arch.items():
            if arch is None:
                out.append(f"--elf {path}: not an ELF file (no \\x7fELF at byte 0): nothing is decoded from it")
            elif arch not in ("xtensa", "riscv"):
                out.append(f"--elf {path}: an ELF for {arch}, not for an Espressif chip (Xtensa or RISC-V): "
                           "its addresses will not match the chip's")
        return out

    def chip_notes(self, chip_name: str, chip_arch: str | None) -> list[str]:
        """Once the chip is known: the ELFs built for the other architecture."""
        if self._chip_checked or chip_arch not in _CHIP_ARCH:
            return []
        self._chip_checked = True
        want = _CHIP_ARCH[chip_arch]
        return [f"--elf {path}: a {arch} ELF, but the chip is an {chip_name} ({want}): it is not this chip's firmware"
                for path, arch in self.arch.items() if arch in ("xtensa", "riscv") and arch != want]

    def sha_notes(self, printed: str) -> list[str]:
        """The app's ``ELF file SHA256`` against every ELF: which matches, or a warning (once
        per printed value, so a boot loop does not repeat it)."""
        printed = printed.lower()
        if printed in self._seen_sha or not self.paths:
            return []
        self._seen_sha.add(printed)
        if self._hashes is None:
            self._hashes = {p: _sha256(p) for p in self.paths if self.arch.get(p)}
        matches = [p for p, h in self._hashes.items() if h.startswith(printed)]
        if matches:
            return [f"ELF file SHA256 {printed} matches {matches[0]}"]
        given = ", ".join(f"{p} ({h[:len(printed)]})" for p, h in self._hashes.items()) or "none readable"
        return [f"checksum mismatch between the flashed app (ELF file SHA256 {printed}) and every --elf: {given}; "
                "decoded backtraces may point at the wrong code (flash this build, or give the flashed app's ELF)"]
