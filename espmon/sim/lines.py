"""The DevKit auto-reset circuit and the boot-strap model.

Two transistors turn the host's modem lines into chip pins: EN is low iff RTS is
asserted and DTR is not; GPIO0 (GPIO9 on RISC-V chips) is low iff DTR is asserted and
RTS is not. Both asserted, or both released, leaves both pins high.

When EN rises the chip samples the boot strap. A real chip does that a few ms after EN
rises (the EN RC delay). Over RFC 2217 every line change is stretched to 50 ms or more,
and esptool's classic reset walks through "EN high, GPIO0 high" before pulling GPIO0
low, so a faithful model boots from flash at the wrong moment. The default ``latch``
model therefore waits: when EN is released while DTR is still asserted (the tell-tale
first half of a bootloader reset), GPIO0 seen low within ``window`` seconds selects
download mode at once; otherwise the chip boots from flash when the window ends. When EN
is released with DTR released (a plain hard reset) it boots after the short ``rc_delay``.
The ``rc`` model samples GPIO0 exactly ``rc_delay`` after EN rises, which reproduces the
real "Wrong boot mode" failure over stock RFC 2217.
"""

from __future__ import annotations

from typing import Callable

__all__ = ["AutoReset", "STRAP_MODELS"]

STRAP_MODELS = ("latch", "rc")


class AutoReset:
    def __init__(
        self,
        hold: Callable[[], None],
        boot: Callable[[str], None],
        schedule: Callable[[float, Callable[[], None]], object],
        *,
        model: str = "latch",
        window: float = 0.3,
        rc_delay: float = 0.005,
        io0_wired: bool = True,
    ):
        if model not in STRAP_MODELS:
            raise ValueError(f"unknown strap model {model!r} (expected one of {', '.join(STRAP_MODELS)})")
        self._hold = hold  # EN went low: the chip stops
        self._boot = boot  # the chip leaves reset in "download" or "flash" mode
        self._schedule = schedule  # (delay, fn) -> timer with .cancel()
        self.model = model
        self.window = window
        self.rc_delay = rc_delay
        self.io0_wired = io0_wired
        self.dtr = False
        self.rts = False
        self._pending = None  # timer of a boot decision still open

    @property
    def en(self) -> bool:
        """EN (CHIP_PU) level: False while the chip is held in reset."""
        return not (self.rts and not self.dtr)

    @property
    def io0_low(self) -> bool:
        return self.io0_wired and self.dtr and not self.rts

    @property
    def deciding(self) -> bool:
        return self._pending is not None

    def set(self, dtr: bool | None = None, rts: bool | None = None) -> None:
        was_en, was_low = self.en, self.io0_low
        if dtr is not None:
            self.dtr = bool(dtr)
        if rts is not None:
            self.rts = bool(rts)
        if was_en and not self.en:
            self._cancel()
            self._hold()
        elif not was_en and self.en:
            self._released()
        elif self.en and self.io0_low and not was_low and self._pending is not None and self.model == "latch":
            self._decide("download")

    def _released(self) -> None:
        if self.model == "latch" and self.io0_low:
            self._decide("download")
        elif self.model == "latch" and self.dtr and self.io0_wired:
            self._pending = self._schedule(self.window, self._sample)
        else:
            self._pending = self._schedule(self.rc_delay, self._sample)

    def _sample(self) -> None:
        self._pending = None
        self._boot("download" if self.io0_low else "flash")

    def _decide(self, mode: str) -> None:
        self._cancel()
        self._boot(mode)

    def _cancel(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
