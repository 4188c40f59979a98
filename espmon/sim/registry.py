"""Named boards kept for the life of the process, and ``sim://`` URL parsing.

Opening the same URL (or the same ``name=``) again reaches the same board, so a port
that vanished on a USB re-enumeration, or esptool's port followed by a monitor's, talks
to the board that is still running.

URL: ``sim://CHIP?fault=NAME[,NAME]&start=download|flash&flash=PATH&firmware=demo
&flash_size=4MB&record=PATH&name=NAME&strap=latch|rc&window=S&colors=0&heartbeat=S&pace=1&pace_tx=1``.
"""

from __future__ import annotations

import threading
import urllib.parse
from typing import Any

from espmon.sim.board import Board
from espmon.sim.faults import parse_faults
from espmon.sim.firmware import firmware_image
from espmon.sim.flash import parse_size

__all__ = ["board_for_url", "board_options", "create_board", "get_board", "discard", "clear", "OPTIONS"]

OPTIONS = ("fault", "start", "flash", "firmware", "flash_size", "record", "name", "strap",
           "window", "colors", "heartbeat", "pace", "pace_tx")

_BOARDS: dict[str, Board] = {}
_LOCK = threading.Lock()


def board_options(url: str) -> tuple[str, dict[str, Any]]:
    """``sim://esp32s2?fault=noise`` -> (name, keyword arguments of :func:`create_board`).
    Raises ValueError with a one-line reason."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "sim":
        raise ValueError(f"expected a URL of the form sim://CHIP[?option=value...], got {url!r}")
    chip = (parts.netloc or parts.path.strip("/")).lower()
    query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - set(OPTIONS))
    if unknown:
        raise ValueError(f"unknown sim:// option {unknown[0]!r} (known: {', '.join(OPTIONS)})")

    def one(key: str, default: str | None = None) -> str | None:
        values = query.get(key)
        return values[-1] if values else default

    options: dict[str, Any] = {"chip": chip, "faults": query.get("fault", [])}
    for key in ("start", "flash", "firmware", "record", "strap"):
        if one(key) is not None:
            options[key] = one(key)
    if one("flash_size"):
        options["flash_size"] = one("flash_size")
    for key in ("window", "heartbeat"):
        if one(key) is not None:
            options[key] = float(one(key))
    for key in ("colors", "pace", "pace_tx"):
        if one(key) is not None:
            options[key] = one(key).lower() not in ("0", "no", "false", "off")
    return one("name", url), options


def create_board(chip: str, *, name: str | None = None, faults: list[str] | tuple[str, ...] = (),
                 flash: str | None = None, firmware: str | None = None,
                 flash_size: str | int | None = None, **kwargs: Any) -> Board:
    """A new board from user-level options (file paths, size text, fault names)."""
    image = None
    if flash and firmware:
        raise ValueError("give either flash= (an image file) or firmware= (a preset), not both")
    if flash:
        with open(flash, "rb") as f:
            image = f.read()
    elif firmware:
        image = firmware_image(chip, firmware)
    size = parse_size(flash_size) if isinstance(flash_size, str) else (flash_size or 4 << 20)
    return Board(chip, name=name, faults=parse_faults(list(faults)), flash_size=size, image=image, **kwargs)


def board_for_url(url: str) -> Board:
    name, options = board_options(url)
    with _LOCK:
        board = _BOARDS.get(name)
        if board is None:
            board = create_board(name=name, **options)
            _BOARDS[name] = board
        return board


def get_board(name: str) -> Board | None:
    with _LOCK:
        return _BOARDS.get(name)


def discard(name: str) -> None:
    with _LOCK:
        board = _BOARDS.pop(name, None)
    if board is not None:
        board.close()


def clear() -> None:
    with _LOCK:
        boards = list(_BOARDS.values())
        _BOARDS.clear()
    for board in boards:
        board.close()
