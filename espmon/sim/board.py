"""The virtual board: one emulated chip with its flash, its auto-reset circuit and its
UART, tying the other modules together.

Threading: every entry point takes ``self.lock`` (one RLock per board). Transports call
in from their own threads (host writes, modem lines, open/close); timed behaviour runs on
the shared scheduler thread through :meth:`schedule`, whose callbacks are dropped when the
chip was reset since they were scheduled (``epoch``), so a reset cancels everything the
previous boot had planned.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Callable

import serial

from espmon.sim import banner
from espmon.sim.app import AppRuntime
from espmon.sim.boot import RESETS, BootPlan, plan_flash_boot
from espmon.sim.facts import facts_for
from espmon.sim.faults import Faults
from espmon.sim.flash import FlashChip
from espmon.sim.lines import AutoReset
from espmon.sim.port import HostPort
from espmon.sim.record import Recorder
from espmon.sim.registers import RegisterFile
from espmon.sim.rom import RomLoader
from espmon.sim.scheduler import Timer, call_later
from espmon.sim.stub import StubLoader
from parsers.chips import CHIPS
from parsers.protocol import OHAI, Opcode
from parsers.slip import slip_encode

__all__ = ["Board", "garble", "USB_GONE_FOR"]

USB_GONE_FOR = 0.7  # seconds a re-enumerating USB port stays away
SLOW_LOOP_AFTER = 8  # quick boot-loop resets before the loop slows down
SLOW_LOOP_DELAY = 5.0



def _garble_table() -> bytes:
    table = bytearray()
    for byte in range(256):
        junk = 0x80 | ((byte * 0x2F + 0x11) & 0x7F)
        table.append(junk ^ 0x20 if junk in (0xC0, 0xDB) else junk)
    return bytes(table)


_GARBLE = _garble_table()


def garble(data: bytes) -> bytes:
    """What a UART set to another baud decodes: junk, never a SLIP END/ESC byte."""
    return data.translate(_GARBLE)


class Board:
    def __init__(self, chip: str = "esp32", *, name: str | None = None, faults: Faults | None = None,
                 flash_size: int = 4 << 20, image: bytes | None = None, start: str = "flash",
                 record: str | None = None, strap: str = "latch", window: float = 0.3,
                 rc_delay: float = 0.005, colors: bool = True, heartbeat: float = 1.0, pace: bool = False,
                 pace_tx: bool = False):
        if chip not in CHIPS:
            raise ValueError(f"unknown chip {chip!r} (known: {', '.join(CHIPS)})")
        if start not in ("flash", "download"):
            raise ValueError(f"start must be 'flash' or 'download', not {start!r}")
        self.lock = threading.RLock()
        self.chip = CHIPS[chip]
        self.facts = facts_for(chip)
        self.name = name or f"sim://{chip}"
        self.faults = faults or Faults()
        self.colors = colors
        self.heartbeat = heartbeat
        self.pace = pace  # deliver output at the UART's real speed
        self.pace_tx = pace_tx  # and take the host's writes at it
        modes = ("dio", "dout") if self.faults.dio_only else ("qio", "qout", "dio", "dout")
        self.flash = FlashChip(flash_size, modes=modes)
        if image:
            self.flash.load(0, image)
        if self.faults.no_bootloader:
            self.flash.erase(self.chip.bootloader_offset, 0x1000)
        self.strap = self.chip.flash_boot[0]
        self.device_baud = self.chip.console_baud
        self.regs = RegisterFile(self.facts, self.flash, lambda: self.device_baud, lambda: self.strap)
        self.lines = AutoReset(self._hold, self._line_boot, self._schedule_timer, model=strap,
                               window=window, rc_delay=rc_delay, io0_wired=not self.faults.no_autoreset)
        if self.faults.no_autoreset:
            self.lines.rc_delay = 0.0
        self.recorder = Recorder(record) if record else None
        self.host: HostPort | None = None
        self.present = True  # False while a re-enumerating USB port is away
        self._pending_tx = bytearray()  # USB device FIFO while no host has the port open
        self.state = "off"  # "reset", "download", "booting", "app", "loop", "hung"
        self.loader: RomLoader | None = None
        self.app: AppRuntime | None = None
        self.autobauding = False
        self.epoch = 0
        self.boots = 0
        self.loop_count = 0
        self.boot_time = time.monotonic()
        self._rng = random.Random(self.name)
        self.start = start

    def power_on(self) -> None:
        """Apply power (once): the first boot, in the ``start`` mode."""
        with self.lock:
            if self.state == "off":
                self.boot(self.start, RESETS[self.chip.key]["poweron"])

    # --- scheduling -----------------------------------------------------------------------

    def schedule(self, delay: float, fn: Callable[[], None]) -> Timer:
        """Run ``fn`` under the lock after ``delay``, unless the chip reset meanwhile."""
        epoch = self.epoch

        def run() -> None:
            with self.lock:
                if self.epoch == epoch and not timer.cancelled:
                    fn()

        timer = call_later(delay, run)
        return timer

    def _schedule_timer(self, delay: float, fn: Callable[[], None]) -> Timer:
        # The strap decision survives the epoch change of the reset it belongs to.
        def run() -> None:
            with self.lock:
                if not timer.cancelled:
                    fn()

        timer = call_later(delay, run)
        return timer

    def cancel_app_timers(self) -> None:
        self.epoch += 1

    # --- resets and boots -----------------------------------------------------------------

    def _hold(self) -> None:
        """EN went low: the chip stops until it is released."""
        self.epoch += 1
        self.state = "reset"
        self.loader = None
        self.app = None

    def _line_boot(self, mode: str) -> None:
        self.loop_count = 0
        cause = "usb" if self.faults.usb_reenumerate else "en"
        self.boot(mode, RESETS[self.chip.key][cause])
        if mode == "flash" and self.faults.usb_reenumerate:
            self._vanish()

    def reset(self, mode: str = "flash") -> None:
        """Pulse EN with GPIO0 held as ``mode`` asks (the control channel's reset)."""
        with self.lock:
            self._hold()
            self._line_boot(mode)

    def software_reset(self, cause: str = "restart") -> None:
        with self.lock:
            self._hold()
            # Software resets reuse the strap latched at the last chip reset on the ESP8266.
            mode = "download" if self.chip.key == "esp8266" and self.chip.is_download_strap(self.strap) else "flash"
            self.boot(mode, RESETS[self.chip.key][cause])

    def run_user_code(self) -> None:
        """The loader was told to leave and run the app from flash."""
        with self.lock:
            self._hold()
            self.boot("flash", RESETS[self.chip.key]["sw_sys"])

    def boot(self, mode: str, reset_code: int) -> None:
        self.epoch += 1
        self.boots += 1
        self.boot_time = time.monotonic()
        self.loader = None
        self.app = None
        self.regs.reset()
        self.strap = self.chip.download_boot[0] if mode == "download" else self.chip.flash_boot[0]
        if self.recorder:
            self.recorder.reset(mode)
        self.set_device_baud(self.chip.console_baud)
        if mode == "download":
            self.state = "download"
            self.autobauding = True
            self.loader = RomLoader(self)
            self.send_text(banner.rom_banner(self.facts, reset_code, self.strap) + banner.download_tail(self.facts))
            return
        self.state = "booting"
        self.autobauding = False
        # "Saved PC" (ESP-ROM chips, after a non-power-on reset): somewhere in IRAM.
        saved_pc = self.chip.code_ranges[min(1, len(self.chip.code_ranges) - 1)][0] + 0x1006
        plan = plan_flash_boot(self.facts, self.flash, reset_code, self.strap,
                               colors=self.colors, saved_pc=saved_pc)
        self._run_plan(plan, 0)

    def _run_plan(self, plan: BootPlan, index: int) -> None:
        if index < len(plan.steps):
            step = plan.steps[index]

            def emit() -> None:
                if step.baud:
                    self.set_device_baud(step.baud)
                self.send_text(step.text)
                self._run_plan(plan, index + 1)

            if step.delay <= 0:
                emit()
            else:
                self.schedule(step.delay, emit)
            return
        if plan.end == "app" and plan.app is not None:
            self.state = "app"
            self.app = AppRuntime(self, plan.app, crash_on_start=self.faults.panic, heartbeat=self.heartbeat)
            self.schedule(0.01, self.app.start)
        elif plan.end == "loop":
            self.state = "loop"
            cause = plan.loop_cause
            self.schedule(self.next_loop_delay(plan.loop_delay), lambda: self._loop_reset(cause))
        else:
            self.state = "hung"

    def next_loop_delay(self, quick: float) -> float:
        """A board that keeps resetting by itself (boot loop, crash loop) slows down after
        a few rounds, so an idle one does not keep a core busy."""
        self.loop_count += 1
        return quick if self.loop_count <= SLOW_LOOP_AFTER else SLOW_LOOP_DELAY

    def _loop_reset(self, cause: str) -> None:
        self._hold()
        self.boot("flash", RESETS[self.chip.key][cause])

    def start_stub(self) -> None:
        self.loader = StubLoader(self)
        self.state = "download"
        self.autobauding = False
        self.send_frame(OHAI)

    def brownout_due(self, write: object, seq: int) -> bool:
        """With the brownout fault, the supply collapses half way through every write."""
        if not self.faults.brownout or seq != getattr(write, "blocks", 0) // 2:
            return False
        if self.chip.key == "esp32":
            self.send_text(f"{banner.NL}Brownout detector was triggered{banner.NL}{banner.NL}")
        self._hold()
        self.boot("flash", RESETS[self.chip.key]["brownout"])
        return True

    # --- UART -----------------------------------------------------------------------------

    def set_device_baud(self, baud: int) -> None:
        if baud != self.device_baud and self.recorder:
            self.recorder.baud(baud)
        self.device_baud = baud

    def autobaud(self) -> None:
        """The ROM measures the host's SYNC and locks to its baud."""
        if self.autobauding and self.host is not None:
            self.set_device_baud(self.host.baudrate)

    def send_frame(self, payload: bytes) -> None:
        if self.recorder:
            self.recorder.out_frame(payload)
        wire = slip_encode(payload)
        if self.faults.noise and not (payload[:2] == bytes([1, Opcode.SYNC])):
            wire = bytes([self._rng.randrange(0x80, 0xC0)]) + wire
        self._to_host(wire)

    def send_text(self, text: str | bytes) -> None:
        data = text.encode("utf-8") if isinstance(text, str) else text
        if not data:
            return
        if self.recorder:
            self.recorder.out_bytes(data)
        self._to_host(data)

    def _to_host(self, data: bytes) -> None:
        if self.faults.dead_tx or not self.present:
            return
        host = self.host
        if host is None:
            if self.faults.usb_reenumerate:  # a USB device holds its output for the host
                self._pending_tx += data
                del self._pending_tx[:-65536]
            return
        if host.baudrate != self.device_baud:
            data = garble(data)
        host.deliver(data, self.device_baud)

    def receive(self, port: HostPort, data: bytes) -> None:
        with self.lock:
            if port is not self.host or self.faults.dead_rx or not data:
                return
            if port.baudrate != self.device_baud and not (self.autobauding and self.state == "download"):
                data = garble(data)
            if self.recorder:
                self.recorder.received(data)
            if self.loader is not None:
                self.loader.feed(data)
            elif self.app is not None:
                self.app.on_input(data)

    # --- the host end of the cable --------------------------------------------------------

    def attach(self, port: HostPort) -> None:
        with self.lock:
            if not self.present:
                raise serial.SerialException(
                    f"could not open port {self.name}: [Errno 2] No such file or directory")
            if self.host is not None and not self.host.closed:
                raise serial.SerialException(
                    f"could not open port {self.name}: [Errno 16] Device or resource busy")
            self.host = port
            if self.recorder is not None:
                self.recorder.event("host-open")  # who opened the port, how often: a test counts them
            port.pace = self.pace
            port.pace_tx = self.pace_tx
            if self._pending_tx:
                port.deliver(bytes(self._pending_tx))
                self._pending_tx.clear()

    def detach(self, port: HostPort) -> None:
        with self.lock:
            if self.host is port:
                self.host = None
                if self.recorder is not None:
                    self.recorder.event("host-close")
                # Closing a tty drops DTR and RTS (HUPCL); with both released EN stays high.
                self.lines.set(dtr=False, rts=False)

    def lines_changed(self, port: HostPort, dtr: bool | None, rts: bool | None) -> None:
        with self.lock:
            if port is self.host:
                self.lines.set(dtr=dtr, rts=rts)

    def host_baud_changed(self, port: HostPort) -> None:
        """The host changed its baud; nothing on the board notices (the wire does)."""

    def _vanish(self) -> None:
        """USB re-enumeration: the port disappears now and comes back shortly."""
        self.present = False
        host, self.host = self.host, None
        if host is not None:
            host.vanish()
        self.lines.dtr = self.lines.rts = False
        if self.recorder:
            self.recorder.event("port", present=False)

        def back() -> None:
            with self.lock:
                self.present = True
                if self.recorder:
                    self.recorder.event("port", present=True)

        call_later(USB_GONE_FOR, back)

    def status(self) -> dict[str, object]:
        with self.lock:
            return {"name": self.name, "chip": self.chip.key, "state": self.state,
                    "loader": self.loader.kind if self.loader else None, "baud": self.device_baud,
                    "boots": self.boots, "strap": self.strap, "faults": self.faults.names, "present": self.present,
                    "host": self.host is not None}

    def close(self) -> None:
        with self.lock:
            self.epoch += 1
            self.state = "off"
            self.loader = None
            self.app = None
            if self.recorder:
                self.recorder.close()
