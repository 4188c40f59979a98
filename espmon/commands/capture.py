"""``espmon capture [PORT] -o OUT -- ESPTOOL-ARGS``: run an esptool command in-process on a port
espmon holds, and record every byte both ways, with its time, as a capture (JSON Lines).

``espmon capture PORT --serve 127.0.0.1:4000 -o OUT`` serves the port over RFC 2217 instead
and records what any other flasher (the esptool CLI, ``idf.py``, PlatformIO) says to the
chip through it. Either way the packets are shown annotated as they pass (``--quiet``:
only the session story at the end), and ``espmon decode OUT`` reads the capture later.
"""

from __future__ import annotations

import argparse
import os
import sys

from espmon.errors import UserError

__all__ = ["add_arguments", "run", "SPLIT_AT_DASHES"]

SPLIT_AT_DASHES = True  # what follows `--` is esptool's command line, untouched (args.after_dashes)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.usage = ("espmon capture [PORT] -o OUT [--quiet] -- ESPTOOL-ARGS...\n"
                    "       espmon capture PORT --serve HOST:PORT -o OUT [--quiet]")
    parser.add_argument("port", nargs="?", metavar="PORT",
                        help="serial port or pyserial URL (default: esptool's --port, $ESPPORT, else guessed)")
    parser.add_argument("-p", "--port", dest="port_option", metavar="PORT", help="the port, as esptool takes it")
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="the capture file to write (JSON Lines)")
    parser.add_argument("--quiet", action="store_true", help="show only the session story at the end")
    parser.add_argument("--serve", metavar="HOST:PORT",
                        help="serve PORT over RFC 2217 for another flasher, recording it (loopback unless a "
                             "host is named; Ctrl+C ends)")
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                        help="colour the packet lines (default: when stdout is a terminal)")
    parser.epilog = ("ESPTOOL-ARGS are esptool's own (copy the command that failed), e.g. "
                     "`espmon capture sim://esp32 -o cap.jsonl -- --baud 460800 write-flash 0x10000 app.bin`")


def _writer(args: argparse.Namespace, port: str, argv: list[str], live):
    from espmon.capture.writer import CaptureWriter

    by = "espmon capture --serve" if args.serve else "espmon capture"
    try:
        return CaptureWriter.open(args.output, port=port, baud=115200, by=by, argv=argv, echo=live.feed)
    except OSError as exc:
        raise UserError(f"{args.output}: cannot write the capture: {exc.strerror or exc}") from None


def run(args: argparse.Namespace) -> int:
    from espmon.capture.live import LiveView
    from espmon.commands.flash import chosen_port

    argv = list(getattr(args, "after_dashes", None) or [])
    if args.serve and argv:
        raise UserError("--serve records another flasher: give no esptool command after '--'")
    if not args.serve and not argv:
        raise UserError("nothing to capture: give an esptool command after '--' (espmon capture PORT -o OUT -- "
                        "chip-id), or --serve HOST:PORT for another flasher")
    if not args.port and not args.port_option and not args.serve:
        from espmon.flash.esptool_cli import connect_options

        args.port_option = connect_options(argv)[0].port
    port_name = chosen_port(args)
    out = sys.stdout
    color = args.color == "always" or (args.color == "auto" and out.isatty() and not os.environ.get("NO_COLOR"))
    live = LiveView(out, quiet=args.quiet, color=color)
    writer = _writer(args, port_name, argv, live)
    code = 0
    try:
        if args.serve:
            code = _serve(args, port_name, writer)
        else:
            code = _esptool(port_name, argv, writer)
    except KeyboardInterrupt:
        writer.close("interrupted")
        code = 130
    finally:
        writer.close("esptool exited" if code == 0 else f"esptool exit code {code}")
        live.end()
    if writer.failed is not None:
        total = writer.counts["tx"] + writer.counts["rx"]
        raise UserError(f"{args.output}: the capture is incomplete: writing failed after {total:,} bytes "
                        f"({writer.failed.strerror or writer.failed})")
    print(f"--- capture written to {args.output} ({writer.counts['tx']:,} bytes sent, {writer.counts['rx']:,} "
          f"received); decode it with: espmon decode {args.output}", file=sys.stderr)
    return code


class _CaptureReport:
    """esptool's words go into the capture (and from there to the live view)."""

    def __init__(self, writer) -> None:
        self.writer = writer

    def message(self, level: str, text: str) -> None:
        self.writer.message(level, text)

    def progress(self, done: int, total: int, what: str) -> None:
        pass  # the packets are the progress; the capture has them


def _esptool(port_name: str, argv: list[str], writer) -> int:
    from espmon.flash.esptool_cli import run_esptool
    from espmon.session import Session

    session = Session(port_name, 115200)
    session.open()
    try:
        writer.mode("loader")
        return run_esptool(session.port, argv, _CaptureReport(writer), tap=writer, usb_jtag=session.usb_jtag)
    finally:
        session.stop()


def _serve(args: argparse.Namespace, port_name: str, writer) -> int:
    from espmon.capture.serve import CaptureServer, parse_address

    host, tcp_port = parse_address(args.serve)
    server = CaptureServer(port_name, writer, host, tcp_port)
    print(f"--- serving {port_name} on {server.url}: point the flasher there, e.g. "
          f"esptool --port {server.url} chip-id; Ctrl+C ends the capture", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass  # Ctrl+C is how a served capture ends
    finally:
        server.stop()
    return 0
