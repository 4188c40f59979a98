"""The session: control thread order, hold() for flashing on the same port, script look-back."""

from __future__ import annotations

import io
import re
import threading

import pytest
from monitor_support import wait_for

from espmon.monitor.script import EXIT_EXPECT_TIMEOUT, ScriptRunner
from espmon.session import Session


def test_writes_reach_the_port_and_hold_hands_it_over():
    got = bytearray()
    session = Session("loop://", 115200)
    session.on_data = lambda data, t: got.extend(data)
    session.start()
    try:
        session.write(b"one\n")
        assert wait_for(lambda: bytes(got) == b"one\n", 5)
        with session.hold() as port:
            port.write(b"loader traffic")
            assert wait_for(lambda: port.in_waiting == 14, 5)
            assert port.read(14) == b"loader traffic"  # nobody else read it
        session.write(b"two\n")
        assert wait_for(lambda: bytes(got) == b"one\ntwo\n", 5)
        assert session.tx_bytes == 8 and session.rx_bytes == 8
    finally:
        session.stop()


def test_resets_and_line_changes_run_in_order_on_the_control_thread():
    events = []
    session = Session("loop://", 115200)
    session.on_event = lambda kind, text: events.append((kind, text))
    session.start()
    try:
        session.reset()
        session.set_dtr(True)
        done = threading.Event()
        session.call(done.set)
        assert done.wait(5)
    finally:
        session.stop()
    kinds = [k for k, _ in events]
    assert kinds.count("reset") == 1 and ("note", "DTR on") in events  # loop:// keeps line states


def _runner(script: str):
    commands, stops, said = [], [], []
    runner = ScriptRunner(io.StringIO(script), lambda n, a: commands.append((n, a)), stops.append, said.append)
    return runner, commands, stops, said


def test_expect_sees_lines_that_arrived_before_it():
    runner, commands, stops, _ = _runner("expect --timeout 5 ^ready\nsend go\nexit\n")
    runner.observe_line("boot")
    runner.observe_line("ready now")
    runner.start()
    assert wait_for(lambda: stops, 5)
    assert commands == [("send", "go")] and stops == [0]


def test_expect_consumes_up_to_its_match():
    runner, commands, stops, _ = _runner("expect --timeout 5 A\nexpect --timeout 0.2 A\nsend never\n")
    runner.observe_line("A first")
    runner.start()
    assert wait_for(lambda: stops, 5)
    assert stops == [EXIT_EXPECT_TIMEOUT] and commands == []


def test_expect_waits_for_a_later_line():
    runner, commands, stops, said = _runner("# comment\n\nexpect --timeout 10 done (\\d+)\nreset\nflash\n")
    runner.start()
    assert wait_for(lambda: any("Command: 'expect" in s for s in said), 5)
    runner.observe_line("done 42")
    assert wait_for(lambda: ("reset", "") in commands, 5)
    assert wait_for(lambda: stops == [0], 5)  # EOF after the script
    assert wait_for(lambda: ("flash", "") in commands, 5)  # the monitor says whether it has a set to flash
    assert re.search(r"matched", " ".join(said))


class _BurstPort:
    """A port whose data arrives while read(1) waits for the first byte of a burst."""

    def __init__(self, burst: bytes) -> None:
        self.burst = burst
        self.waiting = 0

    @property
    def in_waiting(self) -> int:
        return self.waiting

    def read(self, n: int) -> bytes:
        if not self.waiting:  # the blocking read(1): the burst lands meanwhile
            self.waiting = len(self.burst)
        data, self.burst = self.burst[:n], self.burst[n:]
        self.waiting = len(self.burst)
        return data


def test_a_read_that_waited_takes_the_whole_burst():
    """read(1) woke up on the first byte: the rest of the burst goes in the same hand-off
    (leaving it for later, and sleeping meanwhile, stalled a fast sender)."""
    session = Session("loop://", 115200)
    assert session._read(_BurstPort(b"x" * 5000)) == b"x" * 5000


@pytest.mark.parametrize("drain", [True, False])
def test_pty_reads_drain_what_is_there_and_honour_cancel(drain, monkeypatch):
    """Through FdDrain (one GIL-free fread) or, where there is no C library, os.read calls."""
    import os
    import pty
    import tty

    from espmon.port.fd_drain import FdDrain
    from espmon.port.opening import open_port
    from espmon.session import _plain_posix

    if not drain:
        monkeypatch.setattr(FdDrain, "open", classmethod(lambda cls, fd, size=0: None))

    master, slave = pty.openpty()
    tty.setraw(slave)
    port = open_port(os.ttyname(slave), 115200)
    try:
        assert _plain_posix(port)
        session = Session(os.ttyname(slave), 115200)
        sent = bytes(range(256)) * 40  # 10 KiB: more than one tty read hands over
        os.write(master, sent)
        got = b""
        while len(got) < len(sent):
            got += session._read(port)
        assert got == sent
        port.cancel_read()
        assert session._read(port) == b""  # a cancel wakes the read up with nothing
        assert (session._drain is not None) is drain
        session._close_drain()
    finally:
        port.close()
        os.close(master)
        os.close(slave)


def test_drain_reads_what_is_there_then_reports_the_end():
    import errno
    import fcntl
    import os
    import pty
    import tty

    from espmon.port.fd_drain import FdDrain

    master, slave = pty.openpty()
    tty.setraw(slave)
    fcntl.fcntl(slave, fcntl.F_SETFL, fcntl.fcntl(slave, fcntl.F_GETFL) | os.O_NONBLOCK)
    drain = FdDrain.open(slave, 1 << 16)
    if drain is None:
        pytest.skip("no C library for ctypes here")
    try:
        assert drain.read() == b""  # nothing there: EAGAIN, not an error
        sent = b"abc\n" + b"x" * 9000  # more than one tty read hands over
        os.write(master, sent)
        data = b""
        while len(data) < len(sent):
            data += drain.read()
        assert data == sent
        os.close(master)  # the other end is gone: EIO on Linux, end of file elsewhere
        with pytest.raises((OSError, EOFError)) as exc:
            while True:
                drain.read()
        assert not isinstance(exc.value, OSError) or exc.value.errno == errno.EIO
    finally:
        drain.close()
        drain.close()  # twice is fine
        os.close(slave)


def test_a_real_speed_stream_is_handed_over_in_few_batches(tmp_path):
    """Issue 8 item 15: at 115200 baud in 1 ms pieces, every hand-off costs a wake-up of the
    reader and of the consumer (and a terminal write). The reader lets data gather while the
    stream is slow, so hand-offs come at tens a second, not hundreds; nothing is lost."""
    import time

    from monitor_support import PtyBoard

    board = PtyBoard(tmp_path)
    got: list[bytes] = []
    session = Session(board.path, 115200)
    session.on_data = lambda data, t: got.append(data)
    session.start()
    try:
        line = b"I (1234) app: a line of a real-speed log, at 115200 baud\r\n"
        sent = bytearray()
        for _ in range(1000):  # ~1 s of a 115200-baud UART: 11-12 bytes a millisecond
            piece = (line * 2)[len(sent) % len(line):][:12]
            board.write(piece)
            sent += piece
            time.sleep(0.001)
        assert wait_for(lambda: sum(map(len, got)) == len(sent), 10)
    finally:
        session.stop()
        board.close()
    assert b"".join(got) == bytes(sent)
    assert len(got) <= 100, f"{len(got)} hand-offs for ~1 s of data"  # was ~200 (a 4 ms gather)
