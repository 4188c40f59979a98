"""espmon monitor: the serial console that understands boot logs and crashes.

Full-screen (prompt_toolkit) when stdin and stdout are terminals; otherwise plain streaming
output with the same annotations, and a script read from a non-TTY stdin (esp-idf-monitor
1.10 compatible: send, sleep, expect --timeout S REGEX, reset, bootloader, exit).
"""

from __future__ import annotations

import argparse
import codecs
import os
import sys

from espmon.errors import UserError

__all__ = ["add_arguments", "run", "build_settings"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("port", nargs="*", metavar="PORT|ELF",
                        help="serial port or pyserial URL (rfc2217://, socket://, sim://esp32?fault=panic); "
                             "default: $ESPPORT, else the first Espressif/CP210x/CH34x/FTDI port found. "
                             "An ELF file here is as --elf (esp-idf-monitor's `-p PORT build/app.elf`)")
    parser.add_argument("-p", "--port", dest="port_option", metavar="PORT",
                        help="the port, as esp-idf-monitor takes it")
    parser.add_argument("--open-port-attempts", type=int, default=1, metavar="N",
                        help="wait for a port that is not there yet: try N times, 0.5 s apart (0 = forever; "
                             "default 1)")
    parser.add_argument("-b", "--baud", type=int, default=None, help="baud rate (default: $ESPBAUD or 115200)")
    parser.add_argument("--elf", action="append", default=[], metavar="FILE",
                        help="ELF file(s) to decode addresses with (app, bootloader, ROM); repeatable; "
                             "'demo': the shipped demo firmware's ELFs for the chip (--chip or sim://CHIP)")
    parser.add_argument("--no-reset", action="store_true",
                        help="do not reset the chip on start (default: reset, like esp-idf-monitor)")
    parser.add_argument("--timestamps", action="store_true", help="prefix each line with the host time")
    parser.add_argument("--timestamp-format", default="%Y-%m-%d %H:%M:%S", metavar="FMT",
                        help="strftime format of --timestamps (%%f = milliseconds)")
    parser.add_argument("--print-filter", "--print_filter", default=os.environ.get("ESP_IDF_MONITOR_PRINT_FILTER"),
                        metavar="'TAG:L ...'", help="show only these ESP-IDF log tags/levels (esp-idf-monitor syntax)")
    parser.add_argument("--log", metavar="FILE",
                        help="save the raw bytes to FILE and a decoded, timestamped text log to FILE.txt")
    parser.add_argument("--eol", choices=("CR", "LF", "CRLF"), default="CR", type=str.upper,
                        help="end of line sent after each input line (default: CR, like esp-idf-monitor)")
    parser.add_argument("--encoding", default="utf-8", help="device text encoding (default: utf-8)")
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                        help="keep the device's colours in plain (piped) output (auto: only on a terminal)")
    parser.add_argument("--freeze-on-crash", action="store_true",
                        help="console: when a boot loop is detected, stop scrolling at its first crash")
    parser.add_argument("--scrollback", type=int, default=100_000, metavar="LINES",
                        help="console: lines kept for scrolling and search (default: 100000)")
    parser.add_argument("--keys", metavar="FILE", help="console: key map file (TOML, [keys] command = \"keys\")")
    parser.add_argument("--chip", help="chip family, when the boot banner is not seen (e.g. esp32c3)")
    parser.add_argument("--plain", action="store_true", help="plain streaming output even on a terminal")


def _is_elf(value: str) -> bool:
    if value.lower().endswith(".elf"):
        return True  # a missing one is reported by the ELF loader, naming the file
    try:
        with open(value, "rb") as f:
            return os.path.isfile(value) and f.read(4) == b"\x7fELF"
    except OSError:
        return False


def _port_and_elfs(args: argparse.Namespace) -> tuple[str | None, list[str]]:
    """The positionals: ELF files (esp-idf-monitor's habit) and at most one port; and -p."""
    positional = args.port if isinstance(args.port, list) else [args.port] if args.port else []
    elfs = [v for v in positional if _is_elf(v)]
    ports = [v for v in positional if v not in elfs]
    port_option = getattr(args, "port_option", None)
    if port_option:
        ports = [p for p in ports if p != port_option] + [port_option]
    if len(ports) > 1:
        raise UserError(f"two ports given: {' and '.join(ports)} (one PORT, or -p PORT; an ELF file ends in .elf)")
    return (ports[0] if ports else None), elfs


def build_settings(args: argparse.Namespace):
    from espmon.monitor.print_filter import PrintFilter
    from espmon.monitor.settings import MonitorSettings
    from espmon.port.identity import guess_port
    from espmon.port.opening import check_baud, default_baud

    if args.print_filter:
        PrintFilter(args.print_filter)  # fail early with a one-line error
    if args.scrollback < 100:
        raise UserError(f"--scrollback {args.scrollback}: keep at least 100 lines")
    if args.baud is not None and args.baud <= 0:
        raise UserError(f"--baud {args.baud}: a baud rate is a positive number (e.g. 115200)")
    chip_key = None
    if args.chip:
        from parsers.chips import find_chip

        found = find_chip(args.chip)
        if found is None:
            raise UserError(f"--chip {args.chip}: unknown chip (e.g. esp32, esp32s2, esp32s3, esp32c3, esp32c6, esp8266)")
        chip_key = found.key
    try:
        codecs.lookup(args.encoding)  # b"".decode() does not look the codec up
    except LookupError:
        raise UserError(f"--encoding {args.encoding}: unknown encoding") from None
    try:
        b"text \xff".decode(args.encoding, "backslashreplace")  # as the engine decodes device text
    except (LookupError, UnicodeError, TypeError, ValueError) as exc:  # idna, punycode, base64, rot13...
        raise UserError(f"--encoding {args.encoding}: not usable for device text ({exc}); "
                        "use a text encoding such as utf-8 or latin-1") from None
    if getattr(args, "open_port_attempts", 1) < 0:
        raise UserError(f"--open-port-attempts {args.open_port_attempts}: a count of attempts (0 = forever)")
    port, positional_elfs = _port_and_elfs(args)
    url = port or guess_port()
    return MonitorSettings(
        url=url,
        baud=check_baud(args.baud or default_baud()),
        elf=demo_elf(list(args.elf) + positional_elfs, chip_key, url),
        reset=not args.no_reset and not os.environ.get("ESP_IDF_MONITOR_NO_RESET"),
        timestamps=args.timestamps,
        timestamp_format=args.timestamp_format,
        print_filter=args.print_filter,
        log_path=args.log,
        eol=args.eol,
        encoding=args.encoding,
        color=args.color,
        freeze_on_crash=args.freeze_on_crash,
        scrollback=args.scrollback,
        keys_file=args.keys,
        chip=args.chip,
    )


def demo_elf(elfs: list[str], chip: str | None, url: str | None) -> list[str]:
    """``--elf demo``: the shipped demo's ELFs for the board's chip (``--chip`` or ``sim://CHIP``)."""
    if "demo" not in elfs:
        return elfs
    from espmon.sim.firmware import expand_demo_elf

    try:
        return expand_demo_elf(elfs, chip, url)
    except (ValueError, FileNotFoundError) as exc:
        raise UserError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    from espmon.monitor.build import build_engine, open_log
    from espmon.session import Session

    settings = build_settings(args)
    interactive = sys.stdin.isatty() and sys.stdout.isatty() and not args.plain
    keymap = None
    if interactive or settings.keys_file:  # a bad --keys file is an error even when piped
        from espmon.console.keys import load_keymap

        keymap = load_keymap(settings.keys_file)  # a bad key file fails before the port opens
    log = open_log(settings.log_path)
    engine = build_engine(settings, log)
    session = Session(settings.url, settings.baud, log=log)
    try:
        _open(session, getattr(args, "open_port_attempts", 1))
        if interactive:
            from espmon.console.app import run_console

            return run_console(session, engine, settings, keymap)
        from espmon.monitor.plain import PlainMonitor

        color = settings.color == "always" or (settings.color == "auto" and sys.stdout.isatty())
        script = None if sys.stdin is None or sys.stdin.isatty() else sys.stdin
        monitor = PlainMonitor(session, engine, settings, out=sys.stdout.buffer, err=sys.stderr,
                               script_source=script, color=color)
        return monitor.run()
    finally:
        session.stop()
        if engine.log is not None:
            engine.log.close()


def _open(session, attempts: int) -> None:
    """Open the port, waiting for it when asked (a board being plugged in, a server starting)."""
    import time

    tried = 0
    while True:
        try:
            session.open()
            return
        except UserError as exc:
            tried += 1
            if attempts and tried >= attempts:
                raise
            if tried == 1:
                more = "forever" if not attempts else f"up to {attempts - 1} more times"
                print(f"--- {exc}; waiting for it ({more}, 0.5 s apart; Ctrl+C stops)", file=sys.stderr, flush=True)
            time.sleep(0.5)
