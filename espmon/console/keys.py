"""Key map: key sequences -> command names, with the defaults from the command table and
overrides from a TOML file (``--keys FILE``, else ``$ESPMON_KEYS``, else
``~/.config/espmon/keys.toml`` when it exists)::

    [keys]
    menu = "c-a"                  # the menu prefix (default Ctrl+T)
    exit = ["c-]", "MENU q"]      # replaces the default keys of that command
    reset = ["MENU c-r", "f5"]    # F5 resets without the menu (esp-idf-monitor's skip_menu_key)

Key names are prompt_toolkit's (``c-t``, ``f5``, ``pageup``, ``s-up``, a single character);
``Ctrl+T`` / ``Ctrl-T`` / ``^T`` are accepted too. ``MENU`` stands for the menu key.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from prompt_toolkit.keys import Keys

from espmon.console.commands import BY_NAME, COMMANDS
from espmon.errors import UserError

__all__ = ["KeyMap", "load_keymap", "describe", "parse_key", "control_char"]

DEFAULT_MENU = "c-t"
_VALID = {k.value for k in Keys} | {"space", "tab", "enter", "escape", "backspace"}
_ALIASES = {"space": " ", "tab": "c-i", "enter": "c-m", "backspace": "c-h", "esc": "escape"}


@dataclass
class KeyMap:
    menu: str = DEFAULT_MENU
    bindings: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)  # command -> key sequences

    def sequences(self) -> list[tuple[tuple[str, ...], str]]:
        return [(keys, name) for name, seqs in self.bindings.items() for keys in seqs]


def parse_key(text: str) -> str:
    """One key name -> prompt_toolkit's spelling; ValueError if unknown."""
    key = text.strip()
    m = re.fullmatch(r"(?:ctrl[+-]|\^)(.)", key, re.IGNORECASE)
    if m:
        key = "c-" + m.group(1).lower()
    elif len(key) > 1:
        key = key.lower()
    key = _ALIASES.get(key, key)
    if len(key) == 1 or key in _VALID:
        return key
    raise ValueError(f"unknown key {text!r}")


def _expand(sequence: str, menu: str) -> tuple[str, ...]:
    out = []
    for part in sequence.split():
        out.append(menu if part == "MENU" else parse_key(part))
    if not out:
        raise ValueError("empty key sequence")
    return tuple(out)


def _default_path() -> Path | None:
    env = os.environ.get("ESPMON_KEYS")
    if env:
        return Path(env)
    home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    path = home / "espmon" / "keys.toml"
    return path if path.is_file() else None


def load_keymap(path: str | os.PathLike[str] | None = None) -> KeyMap:
    """Defaults, then the overrides of the key file (a UserError names the file and key)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the same parser, from PyPI
        import tomli as tomllib  # type: ignore[no-redef]

    file = Path(path) if path else _default_path()
    overrides: dict[str, object] = {}
    if file is not None:
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise UserError(f"{file}: cannot read the key file: {exc.strerror or exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise UserError(f"{file}: not valid TOML: {exc}") from None
        except UnicodeDecodeError as exc:  # a binary file given by mistake (--keys /bin/ls)
            raise UserError(f"{file}: not a key file: byte {exc.start} is not UTF-8 text "
                            "(expected TOML: [keys] command = \"key sequence\")") from None
        keys = data.get("keys", {})
        if not isinstance(keys, dict):
            raise UserError(f"{file}: [keys] must be a table of command = \"key sequence\"")
        overrides = keys
    menu = DEFAULT_MENU
    if "menu" in overrides:
        try:
            menu = parse_key(str(overrides["menu"]))
        except ValueError as exc:
            raise UserError(f"{file}: menu: {exc}") from None
    keymap = KeyMap(menu=menu)
    for cmd in COMMANDS:
        keymap.bindings[cmd.name] = [_expand(seq, menu) for seq in cmd.keys]
    for name, value in overrides.items():
        if name == "menu":
            continue
        cmd = BY_NAME.get(name)
        if cmd is None:
            raise UserError(f"{file}: unknown command {name!r} in [keys] (see :help for the names)")
        seqs = [value] if isinstance(value, str) else value
        if not isinstance(seqs, list) or not all(isinstance(s, str) for s in seqs):
            raise UserError(f"{file}: {name} = must be a key sequence or a list of them")
        try:
            keymap.bindings[cmd.name] = [_expand(seq, menu) for seq in seqs]
        except ValueError as exc:
            raise UserError(f"{file}: {name}: {exc}") from None
    return keymap


_NAMES = {"c-]": "Ctrl+]", "c-i": "Ctrl+I", "c-h": "Ctrl+H", "c-m": "Enter", " ": "Space", "escape": "Esc",
          "pageup": "PageUp", "pagedown": "PageDown", "c-end": "Ctrl+End", "c-home": "Ctrl+Home",
          "s-up": "Shift+Up", "s-down": "Shift+Down", "c-up": "Ctrl+Up", "c-down": "Ctrl+Down", "s-f3": "Shift+F3"}


def describe(sequence: tuple[str, ...]) -> str:
    """("c-t", "c-r") -> "Ctrl+T Ctrl+R"."""
    parts = []
    for key in sequence:
        if key in _NAMES:
            parts.append(_NAMES[key])
        elif key.startswith("c-") and len(key) == 3:
            parts.append("Ctrl+" + key[2].upper())
        elif len(key) == 1:
            parts.append(key)
        else:
            parts.append(key.replace("s-", "Shift+").replace("c-", "Ctrl+").title())
    return " ".join(parts)


def control_char(key: str) -> str | None:
    """The character a Ctrl key sends ("c-t" -> "\\x14"), for "send the menu key"."""
    if key.startswith("c-") and len(key) == 3:
        ch = key[2]
        if ch.isalpha():
            return chr(ord(ch.upper()) - 64)
        return {"]": "\x1d", "\\": "\x1c", "^": "\x1e", "_": "\x1f", "@": "\x00"}.get(ch)
    return key if len(key) == 1 else None
