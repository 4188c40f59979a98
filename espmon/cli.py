"""Command-line entry point.

Each subcommand lives in its own module under ``espmon.commands`` with two functions,
``add_arguments(parser)`` and ``run(args) -> int``. Only the module of the subcommand
being run is imported, so ``espmon --help`` stays fast (no prompt_toolkit, matplotlib
or esptool import).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass

from espmon import __version__
from espmon.errors import UserError

__all__ = ["SUBCOMMANDS", "main"]


@dataclass(frozen=True)
class Subcommand:
    name: str
    module: str
    summary: str


SUBCOMMANDS = (
    Subcommand("monitor", "espmon.commands.monitor", "serial console that understands boot logs and crashes"),
    Subcommand("flash", "espmon.commands.flash", "flash images (esptool engine), then optionally monitor on the same port"),
    Subcommand("decode", "espmon.commands.decode", "annotate an esptool --trace dump (esptool 2.x-5.x) or an espmon capture"),
    Subcommand("replay", "espmon.commands.replay", "replay a capture or trace dump at its recorded pace, annotated"),
    Subcommand("capture", "espmon.commands.capture", "record every byte of an esptool command (or of any flasher, --serve)"),
    Subcommand("doctor", "espmon.commands.doctor", "diagnose a trace, a boot log or esptool's console output"),
    Subcommand("plot", "espmon.commands.plot", "plot a packet timeline, latency, throughput or boot timeline"),
    Subcommand("sim", "espmon.commands.sim", "run the virtual board (an emulated ESP chip)"),
    Subcommand("ports", "espmon.commands.ports", "list serial ports with a guess of the USB bridge"),
)


def _build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(
        prog="espmon",
        description="Serial monitor, esptool trace analyzer and virtual board for Espressif chips.",
    )
    parser.add_argument("--version", action="version", version=f"espmon {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers = {
        cmd.name: sub.add_parser(cmd.name, help=cmd.summary if _built(cmd) else f"(not built yet) {cmd.summary}",
                                 description=cmd.summary)
        for cmd in SUBCOMMANDS
    }
    return parser, subparsers


def _built(cmd: Subcommand) -> bool:
    """Whether the subcommand's module exists (found, not imported: --help stays fast)."""
    import importlib.util

    return importlib.util.find_spec(cmd.module) is not None


def _chosen(argv: list[str]) -> Subcommand | None:
    names = {cmd.name: cmd for cmd in SUBCOMMANDS}
    for arg in argv:
        if not arg.startswith("-"):
            return names.get(arg)
    return None


def main(argv: list[str] | None = None) -> int:
    from espmon import stdio

    argv = sys.argv[1:] if argv is None else list(argv)
    closed = stdio.fill_closed()
    parser, subparsers = _build_parser()
    cmd = _chosen(argv)
    module = None
    if cmd is not None:
        try:
            module = importlib.import_module(cmd.module)
        except ModuleNotFoundError as exc:
            if exc.name != cmd.module:
                raise
            print(f"espmon: '{cmd.name}' is not built yet", file=sys.stderr)
            return 2
        module.add_arguments(subparsers[cmd.name])
    after_dashes = None
    if module is not None and getattr(module, "SPLIT_AT_DASHES", False) and "--" in argv:
        # another tool's command line (esptool's): handed over untouched
        cut = argv.index("--")
        argv, after_dashes = argv[:cut], argv[cut + 1:]
    args, unknown = parser.parse_known_args(argv)
    args.after_dashes = after_dashes
    leftover = getattr(module, "LEFTOVER_POSITIONALS", None) if module is not None else None
    if leftover and unknown and not any(arg.startswith("-") for arg in unknown):
        # `espmon flash PORT --monitor 0x1000 a.bin`: argparse stops filling a positional
        # list once an option came between; the words after it belong to that list
        getattr(args, leftover).extend(unknown)
        unknown = []
    if unknown:  # say it with the subcommand's usage, not the top-level one
        (subparsers[cmd.name] if cmd is not None else parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    if module is None:
        parser.print_help()
        return 2
    problem = stdio.closed_error(closed, argv)
    if problem:
        stdio.say(f"espmon: error: {problem}")
        return 2
    try:
        return stdio.finish(int(module.run(args) or 0))
    except UserError as exc:
        stdio.say(f"espmon: error: {exc}")
        return stdio.finish(exc.exit_code)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `espmon decode big.txt | head`: the reader went away; not an error.
        stdio.silence_stdout()
        return 0
    except OSError as exc:  # the output's disk is full or failing: say so in one line
        message = stdio.write_error(exc)
        if message is None:
            raise
        stdio.silence_stdout()
        stdio.say(f"espmon: error: {message}")
        return 1
