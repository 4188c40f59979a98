"""Scrollback ring, view, and the output control's rendering of only the visible rows."""

from __future__ import annotations

import re

import pytest

from espmon.console.keys import control_char, describe, load_keymap, parse_key
from espmon.console.output_control import OutputControl, highlight, record_fragments, wrap_fragments
from espmon.console.scrollback import Scrollback
from espmon.console.view import View
from espmon.errors import UserError
from espmon.monitor import records as R


def _text(rows):
    return ["".join(t for _, t in row) for row in rows]


def test_scrollback_keeps_the_newest_lines():
    store = Scrollback(5)
    store.extend([f"l{i}" for i in range(12)], 1.0)
    assert store.total == 12 and store.first == 7 and len(store) == 5
    assert store[11] == "l11" and store.time_of(7) == 1.0
    with pytest.raises(IndexError):
        store[6]
    assert store.search(re.compile("l9"), 11) == 9
    assert store.search(re.compile("l2"), 11) is None
    store.clear()
    assert len(store) == 0


def test_view_pins_while_data_arrives():
    store = Scrollback(1000)
    store.extend([str(i) for i in range(100)], 0)
    view = View(store)
    view.height = 10
    view.page(-1)
    pinned = view.last_line()
    store.extend(["new"] * 5, 0)
    assert view.last_line() == pinned and view.new_lines() == 104 - pinned
    view.scroll(1000)
    assert not view.paused


def test_only_visible_rows_are_rendered():
    store = Scrollback(100_000)
    store.extend([f"line {i}" for i in range(100_000)], 0)
    view = View(store)
    control = OutputControl(store, view, partial=lambda: "partial")
    control._line = lambda index, original=control._line: calls.append(index) or original(index)
    calls = []
    content = control.create_content(40, 5)
    assert content.line_count == 5
    assert [("".join(t for _, t in content.get_line(i))) for i in range(5)] == [
        "line 99996", "line 99997", "line 99998", "line 99999", "partial"]
    assert len(calls) == 4  # no walk over the 100k lines


def test_wrap_and_wide_characters():
    rows = wrap_fragments([("a", "x" * 7), ("b", "\u4e2d\u6587yz")], 4)
    assert _text(rows) == ["xxxx", "xxx", "\u4e2d\u6587", "yz"]


def test_sgr_becomes_styles_and_kinds_have_classes():
    frags = record_fragments("\x1b[0;31mE (1) t: bad\x1b[0m ok")
    assert "".join(t for _, t in frags) == "E (1) t: bad ok"
    assert any("ansired" in s for s, _ in frags)
    assert record_fragments(R.DECODED + "0x400d1234: app_main at main.c:3")[0][0] == "class:decoded"
    assert record_fragments("a\tb")[0][1] == "a       b"


def test_highlight_spans_cross_fragments():
    frags = highlight([("x", "abc"), ("y", "def")], [(2, 4)], "hl")
    assert frags == [("x", "ab"), ("x hl", "c"), ("y hl", "d"), ("y", "ef")]


def test_keymap_defaults_and_overrides(tmp_path, monkeypatch):
    monkeypatch.delenv("ESPMON_KEYS", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    keys = load_keymap(None)
    assert ("c-t", "c-r") in keys.bindings["reset"]
    assert ("c-]",) in keys.bindings["exit"] and ("c-t", "x") in keys.bindings["exit"]
    f = tmp_path / "keys.toml"
    f.write_text('[keys]\nmenu = "Ctrl+A"\nreset = ["MENU r", "f5"]\n')
    keys = load_keymap(f)
    assert keys.menu == "c-a"
    assert keys.bindings["reset"] == [("c-a", "r"), ("f5",)]
    assert ("c-a", "c-p") in keys.bindings["bootloader"]
    assert describe(("c-a", "c-r")) == "Ctrl+A Ctrl+R" and parse_key("^]") == "c-]"
    assert control_char("c-t") == "\x14" and control_char("c-]") == "\x1d"


@pytest.mark.parametrize("body, message", [
    ('[keys]\nfrobnicate = "f5"\n', "unknown command 'frobnicate'"),
    ('[keys]\nreset = "Hyper+Q"\n', "unknown key"),
    ("[keys\n", "not valid TOML"),
])
def test_bad_key_file_is_a_user_error(tmp_path, body, message):
    f = tmp_path / "keys.toml"
    f.write_text(body)
    with pytest.raises(UserError, match=re.escape(message)):
        load_keymap(f)


def test_the_current_search_match_stands_out():
    """Issue 8 item 11: the current match looked like every other match."""
    store = Scrollback(100)
    store.extend([f"boot {i}" for i in range(20)], 0)
    view = View(store)
    view.height = 20
    control = OutputControl(store, view, partial=lambda: "")
    pattern = re.compile("boot")
    view.find(pattern)
    view.find(pattern)
    styles = {}
    for key, frags in control.visible_rows(80, 20):
        text = "".join(t for _, t in frags)
        styles[text] = {style for style, t in frags if t == "boot"}
    assert styles[f"boot {view.hit}"] == {"class:device class:search.current"}
    others = [s for text, s in styles.items() if text != f"boot {view.hit}"]
    assert others and all(s == {"class:device class:search.match"} for s in others)
    view.find(pattern)  # the next hit: the rows' keys change, so both lines are drawn again
    rows = {"".join(t for _, t in f): f for _, f in control.visible_rows(80, 20)}
    assert ("class:device class:search.current", "boot") in rows[f"boot {view.hit}"]
