"""The one open port of a monitor session: its reader thread, its control thread, reconnects.

Threads (the UI never touches the port):

- the **reader** reads whatever is there, writes it to the raw log *first*, then hands it
  to ``on_data(data, t)`` (the console turns that into one ``call_soon_threadsafe``). When
  the port vanishes (USB re-enumeration) it reports ``disconnected``, waits for the same
  path (or the same USB serial number) to come back, reopens it **without resetting** and
  carries on: whatever was read before the error was already delivered and logged.
- the **control** thread runs everything that may block: writes, resets (they sleep
  100 ms), baud and line changes. Their outcome comes back through ``on_event``.

``hold()`` pauses both and hands over the open port (for flashing on the same port).
"""

from __future__ import annotations

import contextlib
import os
import queue
import select
import threading
import time
from typing import Any, Callable, Iterator

from espmon.errors import UserError
from espmon.port.fd_drain import FdDrain
from espmon.port.identity import identify, is_usb_jtag
from espmon.port.lines import LineControlError, bootloader_reset, hard_reset, has_modem_lines, set_lines
from espmon.port.opening import DifferentDevice, open_port, reopen

__all__ = ["Session", "MAX_BACKLOG", "RECONNECT_DELAY"]

MAX_BACKLOG = 4 << 20
RECONNECT_DELAY = 0.25  # between reopen attempts (esp-idf-monitor: 0.5 s)
_SMALL_READ = 256  # a read smaller than this means a slow stream: let a few ms of data gather
# 20 ms (it was 4): a 115200-baud stream is handed over ~50 times a second instead of ~200,
# and every hand-off wakes the consumer and writes to the terminal (item 15 of issue 8)
_GATHER = 0.02
_BIG_READ = 1 << 16
# With a raw log, a fast tty is read in pieces of this size, each logged before the next
# read: a kill loses at most one (a 64 KiB drain lost up to 64 KiB read but not logged).
_LOGGED_PIECE = 4096
_NO_DATA = "device reports readiness to read but returned no data (device disconnected or multiple access on port?)"


def _port_errors() -> tuple[type[BaseException], ...]:
    import serial

    return (serial.SerialException, OSError, AttributeError, TypeError)


def _plain_posix(port: Any) -> bool:
    """A local serial port (or pty) read through pyserial's stock select-based POSIX code,
    on a non-blocking descriptor (as that code opens it)."""
    try:
        import fcntl

        from serial.serialposix import Serial as PosixSerial
    except ImportError:  # Windows
        return False
    if type(port).read is not PosixSerial.read or not hasattr(port, "pipe_abort_read_r") or port.fd is None:
        return False
    try:
        return bool(fcntl.fcntl(port.fd, fcntl.F_GETFL) & os.O_NONBLOCK)
    except OSError:
        return False


class Session:
    def __init__(self, url: str, baud: int, *, log: Any = None, usb_jtag: bool | None = None) -> None:
        self.url = url
        self.baud = baud
        self.log = log  # SessionLog or None; may be swapped at any time
        self.port: Any = None
        self.identity = identify(url)
        self.usb_jtag = is_usb_jtag(url) if usb_jtag is None else usb_jtag
        self.link_state = "closed"  # closed | connected | disconnected
        self.rx_bytes = 0
        self.tx_bytes = 0
        self.dtr = False
        self.rts = False
        self.modem_lines: bool | None = None  # can DTR/RTS reset the chip? (None: not opened yet)
        self.on_data: Callable[[bytes, float], None] = lambda data, t: None
        # a capture's tap (espmon.port.proxy.Tap) or None: every byte both ways, every line change
        self.tap: Any = None
        self.on_event: Callable[[str, str], None] = lambda kind, text: None
        # bytes handed over but not processed yet; above MAX_BACKLOG the reader waits, so a
        # consumer slower than the port (a fast socket) leaves the data in the OS buffers
        self.backlog: Callable[[], int] = lambda: 0
        self.max_backlog = MAX_BACKLOG  # the console keeps it small: what is in flight is drawn and logged on exit
        self._stop = threading.Event()
        self._running = threading.Event()  # cleared by hold()
        self._running.set()
        self._idle = threading.Event()  # reader parked inside hold()
        self._control: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._no_lines_noted = False
        self._drain: FdDrain | None = None  # owned by the reader thread (see _close_drain)
        self._drain_port: Any = None
        self._posix_port: Any = None
        self._posix = False
        self._logged_by_read: Any = None

    # -- life cycle ---------------------------------------------------------------------
    def open(self) -> None:
        self.port = open_port(self.url, self.baud)
        self.modem_lines = has_modem_lines(self.port)
        self.link_state = "connected"

    def start(self, reset: bool = False) -> None:
        if self.port is None:
            self.open()
        for target, name in ((self._read_loop, "espmon-reader"), (self._control_loop, "espmon-control")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        if reset:
            self.reset()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()
        self._control.put(None)
        port = self.port
        if port is not None:
            with contextlib.suppress(Exception):
                port.cancel_read()
        for thread in self._threads:
            thread.join(timeout=2.0)
        if port is not None:
            with contextlib.suppress(Exception):
                port.close()
        self.link_state = "closed"

    @contextlib.contextmanager
    def hold(self) -> Iterator[Any]:
        """Pause reading and hand over the open port (flash on the same port, then resume)."""
        self._running.clear()
        with contextlib.suppress(Exception):
            self.port.cancel_read()
        self._idle.wait(timeout=1.0)
        try:
            yield self.port
        finally:
            self._idle.clear()
            self._running.set()

    # -- requests (run on the control thread) -------------------------------------------
    def write(self, data: bytes) -> None:
        self._control.put(lambda: self._write(data))

    def reset(self) -> None:
        self._control.put(lambda: self._lines("reset", lambda: hard_reset(self._lined())))

    def bootloader(self) -> None:
        self._control.put(
            lambda: self._lines("reset into the bootloader",
                                lambda: bootloader_reset(self._lined(), usb_jtag=self.usb_jtag))
        )

    def set_dtr(self, value: bool) -> None:
        self._control.put(lambda: self._lines(f"DTR {'on' if value else 'off'}", lambda: self._set(dtr=value)))

    def set_rts(self, value: bool) -> None:
        self._control.put(lambda: self._lines(f"RTS {'on' if value else 'off'}", lambda: self._set(rts=value)))

    def send_break(self) -> None:
        self._control.put(lambda: self._lines("BREAK sent", lambda: self._lined().send_break(0.25)))

    def set_baud(self, baud: int) -> None:
        def change() -> None:
            try:
                self._lined().baudrate = baud
            except (ValueError, *_port_errors()) as exc:
                self.on_event("error", f"cannot set {baud} baud: {exc}")
                return
            self.baud = baud
            self.on_event("note", f"baud rate now {baud}")

        self._control.put(change)

    def call(self, fn: Callable[[], None]) -> None:
        """Run fn on the control thread, after the writes and resets queued before it."""
        self._control.put(fn)

    def _lined(self) -> Any:
        """The port for a line change: through a recording proxy while a capture is on."""
        tap = self.tap
        if tap is None:
            return self.port
        from espmon.port.proxy import PortProxy

        return PortProxy(self.port, tap)

    def _set(self, *, dtr: bool | None = None, rts: bool | None = None) -> None:
        set_lines(self._lined(), dtr=dtr, rts=rts)
        if dtr is not None:
            self.dtr = dtr
        if rts is not None:
            self.rts = rts

    def _write(self, data: bytes) -> None:
        if self.link_state != "connected":
            self.on_event("error", f"not sent ({len(data)} bytes): the port is disconnected")
            return
        try:
            tap = self.tap
            if tap is not None:
                tap.data("tx", data, time.monotonic())
            self.port.write(data)
            self.tx_bytes += len(data)
        except _port_errors() as exc:
            self.on_event("error", f"write failed: {exc}")

    def _lines(self, what: str, action: Callable[[], None]) -> None:
        if self.link_state != "connected":
            self.on_event("error", f"{what}: the port is disconnected")
            return
        if self.modem_lines is False and what != "BREAK sent":
            self._no_lines(what)  # a socket's setters do nothing: never say a reset happened
            return
        is_reset = what in ("reset", "reset into the bootloader")
        if is_reset:
            # Mark the stream before the lines move: over RFC 2217 a reset takes a few
            # hundred ms and the new boot banner must come after the marker, not before it.
            self.on_event("reset", what)
        try:
            action()
        except LineControlError as exc:
            self.modem_lines = False
            self._no_lines(what, f" ({exc})")
            return
        except _port_errors() as exc:
            self.on_event("error", f"{what} failed: {exc}")
            return
        if is_reset:
            self.dtr = self.rts = False  # both sequences end with the lines released
        else:
            self.on_event("note", what)

    def _no_lines(self, what: str, detail: str = "") -> None:
        if self._no_lines_noted:
            self.on_event("note", f"{what} skipped: no DTR/RTS lines on this port")
        else:
            self.on_event("note", f"{what} skipped: {self.url} has no DTR/RTS lines{detail}; "
                                  "reset the board with its EN/RST button")
        self._no_lines_noted = True

    def _control_loop(self) -> None:
        while True:
            job = self._control.get()
            if job is None or self._stop.is_set():
                return
            self._running.wait()
            try:
                job()
            except Exception as exc:  # noqa: BLE001 - a failed request must not kill the thread
                self.on_event("error", f"{type(exc).__name__}: {exc}")

    # -- reading ------------------------------------------------------------------------
    def _read(self, port: Any) -> bytes:
        sock = getattr(port, "_socket", None)
        if sock is not None and not hasattr(port, "_read_buffer"):
            # socket://: pyserial reads it one byte per call; drain what is there instead.
            data = port.read(1)
            if data and select.select([sock], [], [], 0)[0]:
                more = sock.recv(65536)
                if not more:
                    import serial

                    raise serial.SerialException("socket disconnected")
                data += more
            return data
        if self._posix_port is not port:  # checked once per port (and again after hold())
            self._posix_port, self._posix = port, _plain_posix(port)
        if self._posix:
            return self._read_fd(port)
        data = port.read(port.in_waiting or 1)
        # take what else is already there, so one hand-off carries more (a read(1) that
        # waited for the first byte of a burst must not leave the rest of it for later)
        while len(data) < _BIG_READ:
            more = port.in_waiting
            if not more:
                break
            data += port.read(more)
        return data

    def _read_fd(self, port: Any) -> bytes:
        """What pyserial's ``read`` does (select on the port and the cancel pipe, the port's
        timeout), then drain what is there in one GIL-free call (``FdDrain``); without it,
        bare ``os.read`` calls. A tty hands over at most 4 KiB per read, and pyserial's
        per-call work (an ioctl for ``in_waiting``, a timeout object, a select) on each of
        them capped a fast stream at ~30 MB/s."""
        import serial

        fd, abort = port.fd, port.pipe_abort_read_r
        ready, _, _ = select.select([fd, abort], [], [], port.timeout)
        if abort in ready:
            os.read(abort, 1000)
            return b""
        if not ready:
            return b""
        drain = self._drain
        if drain is None or self._drain_port is not port or drain.fd != fd:
            self._close_drain()
            drain = self._drain = FdDrain.open(fd, _BIG_READ)
            self._drain_port = port
        if drain is not None:
            log = self.log
            try:
                if log is None:
                    return drain.read()  # b"" when the readiness was spurious (EAGAIN)
                return self._read_logged(drain, log)
            except EOFError:
                raise serial.SerialException(_NO_DATA) from None
        chunks: list[bytes] = []
        size = 0
        while size < _BIG_READ:
            try:
                chunk = os.read(fd, _BIG_READ)
            except (BlockingIOError, InterruptedError):
                break
            if not chunk:
                if chunks:
                    break
                raise serial.SerialException(_NO_DATA)
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)

    def _read_logged(self, drain: FdDrain, log: Any) -> bytes:
        """Drain in small pieces, each in the raw log before the next read (one hand-off still
        carries up to _BIG_READ); the reader loop then does not log them again."""
        pieces: list[bytes] = []
        size = 0
        try:
            while size < _BIG_READ:
                piece = drain.read(_LOGGED_PIECE)
                if not piece:
                    break
                log.write_raw(piece)
                pieces.append(piece)
                size += len(piece)
        except EOFError:
            if not pieces:
                raise
        self._logged_by_read = log
        return b"".join(pieces)

    def _close_drain(self) -> None:
        """Only on the reader thread (or once it has ended): never while it may be in a read."""
        drain, self._drain, self._drain_port = self._drain, None, None
        if drain is not None:
            drain.close()

    def _read_loop(self) -> None:
        try:
            self._read_until_stopped()
        finally:
            self._close_drain()

    def _read_until_stopped(self) -> None:
        errors = _port_errors()
        last_small = False
        while not self._stop.is_set():
            if not self._running.is_set():
                self._close_drain()  # the port is handed over (it may be closed and reopened)
                self._posix_port = None
                self._idle.set()
                self._running.wait()
                continue
            self._logged_by_read = None  # the log a piecewise read already wrote to
            try:
                data = self._read(self.port)
            except errors as exc:
                if self._stop.is_set() or not self._running.is_set():
                    continue
                self._reconnect(exc)
                continue
            if data:
                log = self.log
                if log is not None and log is not self._logged_by_read:
                    # at once, before anything else looks at it and before waiting for the
                    # consumer: a kill loses at most the read in progress (it lost a whole
                    # read held here while the backlog was full: 41-63 KB under a flood)
                    log.write_raw(data)
                tap = self.tap
                if tap is not None:
                    tap.data("rx", data, time.monotonic())
                self.rx_bytes += len(data)
                while self.backlog() > self.max_backlog and not self._stop.is_set():
                    time.sleep(0.005)
                self.on_data(data, time.time())
                # a slow stream (two small reads in a row, as a UART at 115200 gives): let a
                # few ms of data gather. A fast stream is never made to wait: a pty holds
                # only ~20 KiB, so a sleep there stalls the sender.
                small = len(data) < _SMALL_READ
                if small and last_small:
                    time.sleep(_GATHER)
                last_small = small

    def _reconnect(self, exc: BaseException) -> None:
        self.link_state = "disconnected"
        self.on_event("disconnected", f"{self.url} disappeared ({exc}); waiting for it to come back")
        self._close_drain()
        with contextlib.suppress(Exception):
            self.port.close()
        lost = time.monotonic()
        said: set[str] = set()
        while not self._stop.is_set():
            if self._stop.wait(RECONNECT_DELAY):
                return
            try:
                port = reopen(self.identity, self.baud)
            except DifferentDevice as exc:
                if str(exc) not in said:
                    said.add(str(exc))
                    self.on_event("error", str(exc))
                continue
            except (UserError, *_port_errors()):
                continue
            self.port = port
            self.modem_lines = has_modem_lines(port)
            self.dtr = self.rts = False  # released by open_port
            self.link_state = "connected"
            after = time.monotonic() - lost
            if "://" in self.url or self.identity.known:
                self.on_event("connected", f"{self.url} is back after {after:.1f} s (not reset)")
            else:  # a pty or a port without USB identity: it may be another device at a reused path
                self.on_event("connected", f"{self.url}: a device appeared at the same path after {after:.1f} s "
                                           "(it has no USB identity: it may not be the same one); attached, not reset")
            return
