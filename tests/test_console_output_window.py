"""The output pane's fast path draws the same picture as prompt_toolkit's ordinary Window.

Two consoles get the same stream and the same actions (help overlay, timestamps, search,
scrolling back, raw mode, resizes); one draws its output pane through ``OutputWindow``'s
direct row writes, the other through the ordinary Window. Their terminal output goes
through a small VT100 model (just the sequences prompt_toolkit and the pane send) and the
two pictures, characters and SGR attributes, must match after every frame.
"""

from __future__ import annotations

import asyncio
import random
import re

from prompt_toolkit.application.current import set_app
from prompt_toolkit.data_structures import Size
from prompt_toolkit.input import DummyInput
from prompt_toolkit.output.vt100 import Vt100_Output
from prompt_toolkit.utils import get_cwidth

from espmon.console.app import Console
from espmon.console.keys import load_keymap
from espmon.console.output_control import record_fragments
from espmon.monitor import records as R
from espmon.monitor.engine import MonitorEngine
from espmon.monitor.knowledge import load_knowledge
from espmon.monitor.settings import MonitorSettings

_SEQ = re.compile(r"\x1b\[([?0-9;]*)([ -/]*)([@-~])|\x1b([78])|(\r)|(\n)|(\x08)|([^\x1b\r\n\x08]+)")


class Terminal:
    """A VT100 model for one frame stream: cells hold (character, SGR in force)."""

    def __init__(self, rows: int, cols: int) -> None:
        self.sgr = ""
        self.saved = (0, 0, "")
        self.y = self.x = 0
        self.resize(rows, cols)

    def resize(self, rows: int, cols: int) -> None:
        self.rows, self.cols = rows, cols
        self.grid = [[(" ", "")] * cols for _ in range(rows)]
        self.y, self.x = min(self.y, rows - 1), min(self.x, cols - 1)

    def isatty(self) -> bool:
        return True

    def flush(self) -> None:
        pass

    def _erase(self, y: int, x0: int, x1: int) -> None:
        self.grid[y][x0:x1] = [(" ", self.sgr)] * (x1 - x0)

    def write(self, data: str) -> None:
        for m in _SEQ.finditer(data):
            params, inter, final, esc, cr, lf, bs, text = m.groups()
            if text:
                for ch in text:
                    w = get_cwidth(ch)
                    if w == 0:
                        continue
                    x = min(self.x, self.cols - w)  # autowrap is off: the last column is overwritten
                    self.grid[self.y][x] = (ch, self.sgr)
                    if w == 2:
                        self.grid[self.y][x + 1] = ("", self.sgr)
                    self.x = min(x + w, self.cols - 1)  # a cursor never leaves the screen
            elif cr:
                self.x = 0
            elif bs:
                self.x = max(0, self.x - 1)
            elif lf:
                assert self.y < self.rows - 1, "a newline on the last row would scroll the screen"
                self.y += 1
            elif esc == "7":
                self.saved = (self.y, self.x, self.sgr)
            elif esc == "8":
                self.y, self.x, self.sgr = self.saved
            elif inter or params.startswith("?") or final in "n":
                continue  # modes, cursor shape, position reports: no effect on the picture
            else:
                nums = [int(p) if p else 0 for p in params.split(";")] if params else []
                n = max(1, nums[0]) if nums else 1
                if final == "H":
                    self.y = min(self.rows - 1, (nums[0] if nums else 1) - 1)
                    self.x = min(self.cols - 1, (nums[1] if len(nums) > 1 else 1) - 1)
                elif final == "A":
                    self.y = max(0, self.y - n)
                elif final == "B":
                    self.y = min(self.rows - 1, self.y + n)
                elif final == "C":
                    self.x = min(self.cols - 1, self.x + n)
                elif final == "D":
                    self.x = max(0, self.x - n)
                elif final == "K":
                    self._erase(self.y, min(self.x, self.cols), self.cols)
                elif final == "J":
                    self._erase(self.y, min(self.x, self.cols), self.cols)
                    for y in range(self.y + 1, self.rows):
                        self._erase(y, 0, self.cols)
                elif final == "m":
                    assert not nums or nums[0] == 0, "SGR codes are always absolute"
                    self.sgr = "" if len(nums) <= 1 else m.group(0)
                else:
                    raise AssertionError(f"unexpected sequence {m.group(0)!r}")

    def picture(self) -> list[list[tuple[str, str]]]:
        return [list(row) for row in self.grid]


class _Session:
    url, baud, link_state, rx_bytes, tx_bytes, log = "/dev/ttyUSB0", 115200, "connected", 0, 0, None

    def write(self, data: bytes) -> None:
        pass


def _console(size: list[Size], direct: bool) -> tuple[Console, Terminal]:
    term = Terminal(size[0].rows, size[0].columns)
    output = Vt100_Output(term, lambda: size[0], term="xterm-256color")  # type: ignore[arg-type]
    con = Console(_Session(), MonitorEngine(load_knowledge()), MonitorSettings(url="x"), load_keymap(None),
                  input=DummyInput(), output=output)
    con.output_window.direct = direct
    return con, term


def _stream(rng: random.Random) -> bytes:
    colour = rng.choice(["\x1b[0;32m", "\x1b[0;33m", "\x1b[0;31m", "", "\x1b[1;35m"])
    n = rng.randrange(1000)
    body = rng.choice([
        f"I ({n}) wifi: connected rssi -{n % 90}",
        f"W ({n}) sensor: " + "value " * rng.randrange(1, 40),
        f"I ({n}) app: \u4e2d\u6587 wide \u4e2d\u6587\ttab",
        f"D ({n}) x: {colour}nested\x1b[4m underline\x1b[0m back",
        "rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)",
        "",
    ])
    return f"{colour}{body}\x1b[0m\r\n".encode()


def test_direct_rows_draw_the_same_picture_as_the_ordinary_window():
    rng = random.Random(7)
    size = [Size(rows=30, columns=100)]
    (fast, fast_term), (ref, ref_term) = _console(size, True), _console(size, False)
    fast_frames = 0

    async def frames() -> None:
        nonlocal fast_frames
        loop = asyncio.get_running_loop()
        for con in (fast, ref):
            con._loop = loop
        for i in range(200):
            data = b"".join(_stream(rng) for _ in range(rng.choice([0, 0, 1, 3, 12, 40])))
            if rng.random() < 0.1:
                data += b"I (1) partial line without end"
            action = rng.random()
            for con in (fast, ref):
                con._from_reader(data, 1000.0 + i)
                con._drain()
                if action < 0.08:
                    con.help_visible = not con.help_visible
                elif action < 0.11:
                    con.timestamps = not con.timestamps
                elif action < 0.14:
                    con.view.page(-1)
                elif action < 0.17:
                    con.view.follow()
                elif action < 0.19:
                    con.view.find(re.compile("wifi|sensor"))
                elif action < 0.20:
                    con.view.clear_search()
                elif action < 0.24:
                    con._partial_visible = True
                elif action < 0.26:
                    con.set_raw_mode(not con.raw_mode)
                elif action < 0.30:
                    con.run_command("clear")  # rows below the last line are empty
            if 0.30 <= action < 0.32:
                size[0] = Size(rows=rng.choice([24, 30]), columns=rng.choice([80, 100]))
                for con, term in ((fast, fast_term), (ref, ref_term)):
                    term.resize(size[0].rows, size[0].columns)
                    con.app.renderer.erase(leave_alternate_screen=False)  # as the app does on SIGWINCH
            for con in (fast, ref):
                with set_app(con.app):
                    con.app.renderer.render(con.app, con.app.layout)
            fast_frames += fast.output_window._fast
            assert fast_term.picture() == ref_term.picture(), f"frame {i} differs"

    asyncio.run(frames())
    assert fast_frames > 40  # the direct path was taken (not under the help overlay, not after a resize)


def test_rows_keep_their_keys_while_output_scrolls():
    from espmon.console.output_control import OutputControl
    from espmon.console.scrollback import Scrollback
    from espmon.console.view import View

    store = Scrollback(1000)
    store.extend([f"line {i}" for i in range(50)], 0)
    control = OutputControl(store, View(store), partial=lambda: "")
    before = control.visible_rows(40, 10)
    store.extend(["line 50", "line 51"], 0)
    after = control.visible_rows(40, 10)
    assert [key for key, _ in after[:8]] == [key for key, _ in before[2:]]
    assert after[-1][1] == [("class:device", "line 51")]
    control.show_timestamps = lambda: True
    control.timestamp = lambda t: "T"
    stamped = control.visible_rows(40, 10)
    assert not {key for key, _ in stamped} & {key for key, _ in after}


def test_sgr_fast_path_matches_the_ansi_parser_and_controls_are_visible():
    from prompt_toolkit.formatted_text import ANSI

    for line in ["\x1b[0;32mI (1) boot: ok\x1b[0m", "a\x1b[1mb\x1b[31mc\x1b[md", "\x1b[38;5;200mx\x1b[0m",
                 "\x1b[0;31m", "x\x1b[1m\x1b[4my", "\x1b[38:5:1mcolon form"]:
        want = [("class:device " + s if s else "class:device", t) for s, t in ANSI(line).__pt_formatted_text__()]
        merged: list[tuple[str, str]] = []
        for style, text in want:
            if merged and merged[-1][0] == style:
                merged[-1] = (style, merged[-1][1] + text)
            else:
                merged.append((style, text))
        assert record_fragments(line) == merged, line
    frags = record_fragments(R.NOTE + "port gone\x07\x9b")
    assert "".join(t for _, t in frags) == "--- port gone^G<9b>"
    assert all(not re.search(r"[\x00-\x1f\x7f-\x9f]", t) for _, t in frags)
