"""``espmon replay FILE [--speed X] [--step] [--from T]``: a capture or any esptool trace dump,
shown at its recorded pace, annotated exactly as ``espmon decode`` annotates it.

On a terminal it plays in the console (pause, faster/slower, step, jump to the next error,
search); piped, it prints the lines at pace (``--speed 0``: at once), and ``--step`` waits
for a line on stdin before each packet.
"""

from __future__ import annotations

import argparse
import sys
import time

from espmon.errors import UserError

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="an espmon capture or an esptool --trace dump (any version)")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="times the recorded pace (2: twice as fast; 0: no waiting)")
    parser.add_argument("--step", action="store_true", help="advance one packet at a time (a key, or a line piped)")
    parser.add_argument("--from", dest="start", type=float, default=0.0, metavar="T",
                        help="start at T seconds into the recording (what comes before is shown at once)")
    parser.add_argument("--elf", action="append", default=[], metavar="FILE",
                        help="ELF file(s) to decode the backtraces of the chip's output in a capture")
    parser.add_argument("--chip", default=None, help="the chip, for the notes on its boot output (default: guessed)")


def _items(args: argparse.Namespace):
    from espmon.capture.replay import timeline
    from espmon.commands.decode import open_input, read_text_chunks
    from parsers.capture import looks_like_capture

    stream, name = open_input(args.file)
    head_is_capture = [False]

    def chunks():
        for chunk in read_text_chunks(stream, name):
            if not head_is_capture[0]:
                head_is_capture[0] = looks_like_capture(chunk)
            yield chunk

    try:
        items = list(timeline(chunks(), elf=args.elf, chip=args.chip))
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    if not any(item.packet for item in items) and not head_is_capture[0]:
        raise UserError(f"{name}: nothing to replay: no esptool trace and no capture found")
    return items, name


def run(args: argparse.Namespace) -> int:
    if args.speed < 0:
        raise UserError(f"--speed {args.speed:g}: a speed is 0 (no waiting) or more")
    if args.start < 0:
        raise UserError(f"--from {args.start:g}: a time is 0 or more seconds")
    items, name = _items(args)
    if sys.stdin.isatty() and sys.stdout.isatty():
        from espmon.console.replay_app import run_replay

        return run_replay(items, name, speed=args.speed or 1.0, step=args.step, start=args.start)
    return play(items, sys.stdout, speed=args.speed, start=args.start,
                step=sys.stdin if args.step else None)


def play(items, out, *, speed: float, start: float = 0.0, step=None, clock=time.monotonic, sleep=time.sleep) -> int:
    """Print ``items`` at their recorded pace (``clock``/``sleep`` injected by tests)."""
    from espmon.capture.replay import Pacer

    pacer = Pacer(clock, speed, origin=start)
    for item in items:
        if item.t >= start and not item.story:
            if step is not None and item.packet:
                out.flush()
                if not step.readline():
                    step = None  # stdin ended: play the rest at pace
                pacer.seek(item.t)
            wait = pacer.due(item.t)
            if wait > 0:
                out.flush()
                sleep(wait)
        for line in item.lines:
            out.write(line + "\n")
    out.flush()
    return 0
