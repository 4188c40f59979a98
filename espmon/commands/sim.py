"""``espmon sim``: run a virtual board and serve it over RFC 2217 or a pty."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import urllib.parse

from espmon.errors import UserError

__all__ = ["add_arguments", "run"]

_CHIPS = ("esp32", "esp32s2", "esp32s3", "esp32c3", "esp32c6", "esp8266")
_HELP_TAIL = """
control channel (--control HOST:PORT, one text command per line, one reply line each):
  reset download   pulse EN with GPIO0 low (the ROM waits for esptool)
  reset flash      pulse EN with GPIO0 high (normal boot)
  status           the board's state as JSON

The first line printed on stdout is the port (rfc2217://127.0.0.1:PORT or /dev/pts/N);
with --control the second is "control HOST:PORT". Ctrl+C or SIGTERM stops the board.

esptool and speed: over RFC 2217, stock pyserial waits at least 50 ms for the ack of
each port setting and esptool re-applies its settings around every command, exactly as
with a real board behind an RFC 2217 server: `esptool chip-id` takes about 9 s, a 64 kB
write-flash about 23 s. On --pty the same commands take 0.2-0.3 s. A pty carries no
DTR/RTS, so with --pty the board starts in download mode (the ROM waits for esptool) and
esptool's default options work; the line printed on stderr shows the command. Boot the
app with --control's "reset flash" (esptool's hard reset cannot reach it)."""


def _epilog() -> str:
    from espmon.sim.faults import FAULTS  # data only: keeps `espmon --help` fast

    lines = ["faults (--fault, repeatable or comma-separated):"]
    lines += [f"  {name:<16} {text}" for name, text in FAULTS.items()]
    return "\n".join(lines) + "\n" + _HELP_TAIL


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "127.0.0.1", text
    if not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT with a port from 0 to 65535, got {text!r}")
    return host or "127.0.0.1", int(port)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = _epilog()
    parser.add_argument("--chip", default="esp32", choices=_CHIPS, help="chip to emulate (default esp32)")
    parser.add_argument("--fault", action="append", default=[], metavar="NAME",
                        help="inject a fault (see below); repeatable")
    transport = parser.add_mutually_exclusive_group()
    transport.add_argument("--rfc2217", type=_host_port, metavar="HOST:PORT",
                           help="serve over RFC 2217 (default 127.0.0.1:0, port 0 = pick a free one)")
    transport.add_argument("--pty", action="store_true", help="serve on a pseudo-terminal instead")
    parser.add_argument("--control", type=_host_port, metavar="HOST:PORT",
                        help="also serve a text control channel (reset/status); port 0 = free port")
    parser.add_argument("--start", choices=("flash", "download"), default=None,
                        help="boot mode at power-on (default flash; download with --pty, which has no DTR/RTS)")
    image = parser.add_mutually_exclusive_group()
    image.add_argument("--flash", metavar="FILE", help="preload a merged flash image at 0x0")
    image.add_argument("--firmware", metavar="PRESET",
                       help="preload the sample firmware: 'demo' (shipped with espmon; its ELFs: --elf demo)")
    parser.add_argument("--flash-size", default="4MB", help="flash chip size (default 4MB)")
    parser.add_argument("--record", metavar="FILE", help="log every frame and byte as JSON Lines")
    parser.add_argument("--strap", choices=("latch", "rc"), default="latch",
                        help="boot-strap model: latch (survives RFC 2217 timing) or rc (real timing)")
    parser.add_argument("--no-color", action="store_true", help="boot log without ANSI colours")
    parser.add_argument("--pace", action="store_true",
                        help="send at the real UART speed (10 bits per byte at the current baud)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log client connections on stderr")


def _start_mode(args: argparse.Namespace) -> str:
    return args.start or ("download" if args.pty else "flash")


def _esptool_hint(args: argparse.Namespace, port: str) -> str:
    """The esptool command line that works on this transport, for stderr."""
    if not args.pty:
        return (f"espmon sim: esptool --port {port} chip-id works (about 9 s a command with stock pyserial: "
                "RFC 2217 acks; --pty is the fast path)")
    if _start_mode(args) == "download":
        return f"espmon sim: esptool --port {port} chip-id works with esptool's default options (0.2 s)"
    return (f"espmon sim: a pty has no DTR/RTS: put the board in download mode first (--control, then "
            f"'reset download'), then: esptool --port {port} --before no-reset chip-id")


def _board_url(args: argparse.Namespace) -> str:
    query: list[tuple[str, str]] = [("name", "espmon-sim-cli")]
    query += [("fault", f) for f in args.fault]
    query += [("start", _start_mode(args)), ("flash_size", args.flash_size), ("strap", args.strap)]
    for key in ("flash", "firmware", "record"):
        if getattr(args, key):
            query.append((key, getattr(args, key)))
    if args.no_color:
        query.append(("colors", "0"))
    if args.pace:
        query.append(("pace", "1"))
    return f"sim://{args.chip}?{urllib.parse.urlencode(query)}"


def run(args: argparse.Namespace) -> int:
    from espmon.sim import register, registry

    register()
    url = _board_url(args)
    try:
        board = registry.board_for_url(url)
    except OSError as exc:  # --flash FILE, --record FILE
        raise UserError(f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc)) from None
    except ValueError as exc:
        raise UserError(str(exc)) from None
    board.power_on()
    stop = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    servers = []
    try:
        if args.pty:
            from espmon.sim.pty_bridge import PtyBridge

            bridge = PtyBridge(board)
            bridge.start()
            servers.append(bridge)
            print(bridge.path, flush=True)
            port_name = bridge.path
        else:
            from espmon.sim.rfc2217_server import Rfc2217Server

            host, port = args.rfc2217 or ("127.0.0.1", 0)
            try:
                server = Rfc2217Server(url, host, port, verbose=args.verbose)
            except OSError as exc:
                raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
            server.serve_in_thread()
            servers.append(server)
            print(server.url, flush=True)
            port_name = server.url
        if args.control:
            from espmon.sim.control import ControlServer

            try:
                control = ControlServer(board, *args.control)
            except OSError as exc:  # an unknown host name, a port in use
                chost, cport = args.control
                raise UserError(f"--control {chost}:{cport}: cannot listen there: {exc.strerror or exc}") from None
            control.serve_in_thread()
            servers.append(control)
            chost, cport = control.address
            print(f"control {chost}:{cport}", flush=True)
        print(f"espmon sim: {board.chip.name} running (faults: {', '.join(board.faults.names) or 'none'}); "
              "Ctrl+C to stop", file=sys.stderr, flush=True)
        print(_esptool_hint(args, port_name), file=sys.stderr, flush=True)
        while not stop.wait(3600):
            pass
    finally:
        for server in servers:
            server.stop()
        registry.clear()
    return 0
