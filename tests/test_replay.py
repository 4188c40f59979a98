"""espmon replay: a recording at its recorded pace (an injected clock, never wall time),
step by step, and in the console (tmux): pause, jump to the next error, quit."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from espmon import cli
from espmon.capture.replay import Pacer, timeline
from espmon.commands.replay import play
from espmon.console.replay_app import ReplayState

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "traces"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Stamped(io.StringIO):
    """Output that notes the (fake) time each line was written at."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock
        self.at: list[tuple[float, str]] = []

    def write(self, text: str) -> int:
        if text.strip():
            self.at.append((self.clock.now, text))
        return super().write(text)


@pytest.fixture(scope="module")
def noisy_capture(tmp_path_factory) -> Path:
    """A capture with retries and an error: esptool chip-id on a noisy line, paced like a UART."""
    path = tmp_path_factory.mktemp("replay") / "noise.jsonl"
    subprocess.run([sys.executable, "-m", "espmon", "capture", "sim://esp32?firmware=demo&fault=noise&pace=1",
                    "-o", str(path), "--quiet", "--", "chip-id"], capture_output=True, stdin=subprocess.DEVNULL)
    assert path.stat().st_size > 1000
    return path


def _items(path: Path):
    return list(timeline([path.read_text()]))


@pytest.mark.parametrize("sample", ["5.6.0/write-flash-baud.trace.txt", "4.7.0/read-flash.trace.txt", "noise"])
def test_speed_10_schedules_every_item_at_a_tenth_of_its_offset(sample, noisy_capture):
    items = _items(noisy_capture if sample == "noise" else SAMPLES / sample)
    clock = FakeClock()
    out = Stamped(clock)
    assert play(items, out, speed=10, clock=clock, sleep=clock.sleep) == 0
    start = 100.0
    written = iter(out.at)
    for item in items:
        for line in item.lines:
            if not line.strip():
                continue
            at, _ = next(written)
            if not item.story:
                assert at == pytest.approx(start + item.t / 10, abs=1e-9)
    assert any(s > 0 for s in clock.sleeps)


def test_speed_0_prints_everything_at_once_and_the_same_as_decode(capfd):
    path = SAMPLES / "5.6.0" / "chip-id.trace.txt"
    assert cli.main(["decode", str(path), "--color", "never"]) == 0
    decoded = capfd.readouterr()[0]
    clock = FakeClock()
    out = io.StringIO()
    play(_items(path), out, speed=0, clock=clock, sleep=clock.sleep)
    assert clock.sleeps == []
    assert out.getvalue() == decoded  # annotated exactly as decode annotates it


def test_from_skips_the_waiting_before_t():
    items = _items(SAMPLES / "5.6.0" / "write-flash-baud.trace.txt")
    half = items[-2].t / 2
    clock = FakeClock()
    play(items, io.StringIO(), speed=1, start=half, clock=clock, sleep=clock.sleep)
    assert sum(clock.sleeps) == pytest.approx(items[-2].t - half, abs=1e-6)


def test_step_advances_one_packet_per_line_of_input():
    items = _items(SAMPLES / "5.6.0" / "chip-id.trace.txt")
    packets = sum(item.packet for item in items)
    keys = io.StringIO("\n" * 5)  # five presses, then stdin ends: the rest plays on
    clock = FakeClock()
    out = io.StringIO()
    play(items, out, speed=0, step=keys, clock=clock, sleep=clock.sleep)
    assert keys.read() == "" and packets > 5
    assert "outcome" in out.getvalue()


def test_the_console_state_pauses_steps_and_jumps_to_errors(noisy_capture):
    items = _items(noisy_capture)
    clock = FakeClock()
    state = ReplayState(items, speed=1, start=0, clock=clock)
    state.toggle_pause()
    clock.now += 100
    assert state.advance() == float("inf") and not state.done  # paused: nothing is due
    shown = len(state.shown)
    assert state.step() and len(state.shown) > shown
    assert state.next_error()
    assert items[state.next - 1].mark is not None
    assert "paused" in state.status("x")
    state.faster(+1)
    assert state.pacer.speed == 2
    assert state.search("READ_REG") or "no match" in state.note
    state.toggle_pause()
    clock.now += 10_000
    assert state.advance() is None and state.done and "ended" in state.status("x")


def test_pacer_keeps_its_position_across_pause_and_speed_changes():
    clock = FakeClock()
    pacer = Pacer(clock, 1.0)
    clock.now += 2
    assert pacer.now() == pytest.approx(2)
    pacer.set_speed(4)
    clock.now += 1
    assert pacer.now() == pytest.approx(6)
    pacer.pause()
    clock.now += 50
    assert pacer.now() == pytest.approx(6)
    pacer.resume()
    assert pacer.due(10) == pytest.approx(1)


def test_a_file_with_nothing_to_replay_is_one_line(tmp_path, capfd):
    path = tmp_path / "notes.txt"
    path.write_text("just some notes\n")
    code = cli.main(["replay", str(path), "--speed", "0"])
    err = capfd.readouterr()[1]
    assert code != 0 and err.count("\n") == 1 and "nothing to replay" in err


def test_replay_in_the_console_pause_jump_to_the_error_quit(tmux, noisy_capture):
    tmux.start([str(noisy_capture), "--speed", "0.02"], command="replay")
    tmux.wait_screen("playing")
    tmux.keys("Space")
    tmux.wait_screen("paused")
    first_error = next(item for item in _items(noisy_capture) if item.mark is not None)
    tmux.keys("e")
    screen = tmux.wait_screen(first_error.lines[0].strip()[:40])  # it stopped at the first error
    assert "paused" in screen
    tmux.keys("q")
    screen = tmux.wait_screen("EXIT=", 20)
    assert "EXIT=0" in screen, screen
    assert "Traceback" not in tmux.stderr(), tmux.stderr()
