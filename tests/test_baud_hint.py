"""The baud mismatch hint (issue 8 item 6): runs of undecodable bytes said once, with the likely baud."""

from __future__ import annotations

from espmon.monitor import records as R
from espmon.monitor.engine import MonitorEngine
from espmon.monitor.knowledge import load_knowledge
from espmon.sim.board import garble

ROM = b"\r\n ets Jan  8 2013,rst cause:2, boot mode:(3,6)\r\n\r\nload 0x40100000, len 7288, room 16\r\n"
APP = b"I (61) cpu_start: Pro cpu start user code\r\nI (61) cpu_start: cpu freq: 80000000 Hz\r\n"


def _engine(baud=115200):
    eng = MonitorEngine(load_knowledge())
    eng.baud_of = lambda: baud
    return eng


def test_garbage_glued_to_the_first_app_line_ends_on_its_own_line_with_the_hint():
    eng = _engine()
    out = eng.feed(garble(ROM) + APP, 0.0)  # ESP8266: the ROM at 74880, the app at 115200
    assert out[0].startswith("\\x") and "cpu_start" not in out[0]
    assert out[1].startswith(R.ALERT) and "did not decode at 115200 baud" in out[1] and "74880" in out[1]
    assert out[2:] == ["I (61) cpu_start: Pro cpu start user code", "I (61) cpu_start: cpu freq: 80000000 Hz"]
    # said once; again after our reset
    assert not [r for r in eng.feed(garble(ROM) + APP, 1.0) if r.startswith(R.ALERT)]
    eng.host_reset(2.0)
    assert [r for r in eng.feed(garble(ROM) + APP, 2.1) if r.startswith(R.ALERT)]


def test_a_wrong_baud_without_newlines_is_cut_when_the_stream_pauses():
    eng = _engine(9600)
    assert eng.feed(garble(ROM + APP), 0.0) == []  # no newline in it: still a partial line
    out = eng.idle(0.2)
    assert len(out) == 2 and out[0].startswith("\\x") and "likely 115200" in out[1] and not eng.has_partial


def test_text_and_noise_are_not_a_baud_mismatch():
    eng = _engine()
    text = eng.feed_text("I (1) app: température 21 °C, ½ done\r\n".encode() * 20 + b"I (2) app: \xff\xfe\r\n", 0.0)
    assert "did not decode" not in text and "\\xff\\xfe" in text
    eng.feed(b"x" * 100 + b"\xff" * 3, 0.0)
    assert eng.idle(0.2) == []  # a few bad bytes in text are noise, not another baud
