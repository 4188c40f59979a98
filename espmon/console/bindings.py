"""prompt_toolkit key bindings built from the key map: every sequence runs a command by name.

Raw key mode adds one catch-all binding that sends each key press's terminal bytes (arrows
as VT100 sequences, Enter as the configured end of line) to the device.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prompt_toolkit.filters import Condition
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.keys import Keys

from espmon.console.keys import describe

if TYPE_CHECKING:  # pragma: no cover
    from espmon.console.app import Console

__all__ = ["build_key_bindings"]


def build_key_bindings(con: "Console") -> KeyBindings:
    kb = KeyBindings()
    handle = kb.add
    raw_keys = Condition(lambda: con.raw_mode and not con.prompt_open)
    line_input = Condition(lambda: not con.raw_mode or con.prompt_open)

    @handle(Keys.Any, filter=raw_keys)
    def _(event: KeyPressEvent) -> None:
        """Raw mode: send the key's bytes as the terminal produced them."""
        for press in event.key_sequence:
            con.send_raw(press.data)

    @handle("c-m", filter=raw_keys)
    @handle("c-j", filter=raw_keys)
    def _(event: KeyPressEvent) -> None:
        """Raw mode: Enter sends the configured end of line."""
        con.send_raw_bytes(con.settings.eol_bytes)

    @handle(Keys.BracketedPaste, filter=raw_keys)
    def _(event: KeyPressEvent) -> None:
        """Raw mode: a paste goes to the device as is."""
        con.send_raw(event.data.replace("\n", "\r") if con.settings.eol == "CR" else event.data)

    @handle("c-c", filter=line_input)
    def _(event: KeyPressEvent) -> None:
        """Line mode: Ctrl+C clears the line, or sends Ctrl+C (ETX) when it is empty."""
        if con.input.text:
            con.input.reset()
        elif con.prompt_open:
            con.close_prompt()
        else:
            con.send_raw("\x03")
            con.message(f"sent Ctrl+C to the device; {describe(con.exit_keys())} leaves the monitor")

    @handle("<any>", filter=Condition(lambda: con.question is not None), eager=True)
    def _(event: KeyPressEvent) -> None:
        con.answer(event.key_sequence[0].key)  # a y/N question takes the next key, whatever it is

    @handle("escape", filter=Condition(lambda: con.prompt_open or con.help_visible), eager=True)
    def _(event: KeyPressEvent) -> None:
        """Esc closes the help or the command prompt."""
        if con.help_visible:
            con.help_visible = False
        else:
            con.close_prompt()

    @handle(con.keymap.menu, Keys.Any)
    def _(event: KeyPressEvent) -> None:
        """An unknown key after the menu key."""
        key = event.key_sequence[-1].key
        con.message(f"{describe((con.keymap.menu, key))}: not a command; {describe((con.keymap.menu, 'c-h'))} for help",
                    error=True)

    for keys, name in con.keymap.sequences():
        _bind(kb, con, keys, name)
    _help_scrolling(kb, con)  # after the commands: the last matching binding wins
    return kb


def _help_scrolling(kb: KeyBindings, con: "Console") -> None:
    """While the help is open, the scrolling keys scroll it (not the output)."""
    from espmon.console.help_view import help_height, scroll_help

    page = lambda: max(1, help_height(con) - 1)  # noqa: E731
    moves = {"up": lambda: -1, "down": lambda: 1, "s-up": lambda: -1, "s-down": lambda: 1,
             "c-up": lambda: -1, "c-down": lambda: 1, "pageup": lambda: -page(), "pagedown": page,
             "home": lambda: -10**6, "c-home": lambda: -10**6, "end": lambda: None, "c-end": lambda: None}
    for key, delta in moves.items():
        def run(event: KeyPressEvent, delta=delta) -> None:
            scroll_help(con, delta())

        kb.add(key, filter=Condition(lambda: con.help_visible), eager=True)(run)


def _bind(kb: KeyBindings, con: "Console", keys: tuple[str, ...], name: str) -> None:
    def run(event: KeyPressEvent) -> None:
        con.run_command(name)

    run.__doc__ = f"run :{name}"
    kb.add(*keys, eager=len(keys) > 1 or keys[0].startswith("c-"))(run)
