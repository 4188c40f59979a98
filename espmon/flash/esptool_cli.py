"""An esptool command line, run in-process on a port espmon holds (``espmon capture -- ARGS``).

The user copies the command that failed; esptool parses it as its own CLI does and runs
it through ``esptool.main(argv, esp=...)``. Only the connection is espmon's: the port is
the one espmon opened (wrapped in a proxy that can record), and the connect reset is the
engine's, so the reset and sync esptool would have done happen on that port. Everything
after the connect (stub, baud change, the command, the reset after) is esptool's own.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import esptool
from esptool.util import FatalError

from espmon.errors import UserError
from espmon.flash.engine import CHIPS, FlashError, Loader, LoaderOptions, _has_fd
from espmon.flash.esptool_log import Report, routed_to
from espmon.port.proxy import Tap

__all__ = ["ConnectOptions", "connect_options", "run_esptool"]

ConnectOptions = argparse.Namespace


def connect_options(argv: list[str]) -> tuple[ConnectOptions, list[str]]:
    """The options esptool connects with (``--chip``, ``--port``, ``--before``,
    ``--connect-attempts``), read as esptool reads them (its environment defaults too), and
    the command line without ``--port`` (the port is espmon's)."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--chip", "-c", default=os.environ.get("ESPTOOL_CHIP", "auto"))
    parser.add_argument("--port", "-p", default=os.environ.get("ESPTOOL_PORT"))
    parser.add_argument("--before", default=os.environ.get("ESPTOOL_BEFORE", "default-reset"))
    parser.add_argument("--connect-attempts", default=os.environ.get("ESPTOOL_CONNECT_ATTEMPTS", "7"))
    opts, _ = parser.parse_known_args(argv)
    chip = opts.chip.lower().replace("-", "")
    if chip not in CHIPS:
        raise UserError(f"esptool --chip {opts.chip}: unknown chip (one of {', '.join(CHIPS)})")
    opts.chip = chip
    try:
        opts.connect_attempts = int(opts.connect_attempts)
    except ValueError:
        raise UserError(f"esptool --connect-attempts {opts.connect_attempts}: expected a whole number") from None
    rest: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--port", "-p"):
            skip = True
        elif not arg.startswith(("--port=", "-p=")) and not (arg.startswith("-p") and len(arg) > 2
                                                              and not arg.startswith("--")):
            rest.append(arg)
    return opts, rest


def run_esptool(port: Any, argv: list[str], report: Report, *, tap: Tap | None = None,
                usb_jtag: bool = False) -> int:
    """Run one esptool command line on ``port``; esptool's exit code (a FatalError is 2,
    its words reported as esptool prints them)."""
    opts, rest = connect_options(argv)
    if not any(not a.startswith("-") for a in rest):
        raise UserError("espmon capture: no esptool command after '--' (e.g. -- chip-id, -- write-flash 0x0 app.bin)")
    loader = Loader(port, report, LoaderOptions(chip=opts.chip, stub=False, before=opts.before,
                                                connect_attempts=opts.connect_attempts), tap=tap, usb_jtag=usb_jtag)
    hide = () if _has_fd(port) else ('Pre-connection option "no-reset"', "Failed to get VID/PID")
    with routed_to(report, hide):
        argv0 = sys.argv[0] if sys.argv else ""
        try:
            esp = loader.detect()
            sys.argv[:1] = ["esptool"]  # click names the program in its usage text
            esptool.main(rest, esp=esp)
        except FlashError as exc:
            report.message("error", f"A fatal error occurred: {exc.words}")
            return 2
        except FatalError as exc:
            report.message("error", f"A fatal error occurred: {' '.join(str(exc).split())}")
            return 2
        except SystemExit as exc:  # click: a usage error (its message is printed already)
            code = exc.code if isinstance(exc.code, int) else 2
            if code:
                report.message("error", "esptool rejected its command line (its usage error is above)")
            return code
        finally:
            sys.argv[:1] = [argv0]
            loader.finish("no-reset-stub")  # esptool did its --after reset; put the settings back
    return 0
