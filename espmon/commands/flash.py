"""espmon flash: write images with esptool's engine, then (``--monitor``) watch the boot log on
the same open port. ``espmon flash --project build --monitor`` replaces ``idf.py flash
monitor``: one process, one port opened once.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from espmon.errors import UserError

__all__ = ["add_arguments", "run", "LEFTOVER_POSITIONALS"]

LEFTOVER_POSITIONALS = "images"  # ADDR FILE words after an option still go to the images (cli.py)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("port", nargs="?", metavar="PORT",
                        help="serial port or pyserial URL (sim://esp32?firmware=demo); default: $ESPPORT, else guessed")
    parser.add_argument("-p", "--port", dest="port_option", metavar="PORT",
                        help="the port, as esptool and idf.py take it")
    parser.add_argument("-b", "--baud", type=int, default=None,
                        help="flashing baud rate (default: $ESPBAUD or 460800); the monitor stays at 115200")
    parser.add_argument("--chip", default=None, help="chip (default: auto, or the project's target)")
    parser.add_argument("--no-stub", action="store_true", help="talk to the ROM loader (no stub flasher)")
    parser.add_argument("--monitor", action="store_true", help="then monitor the boot log on the same port")
    parser.add_argument("--skip-unchanged", action="store_true",
                        help="skip images already in flash (esptool's MD5 check, skip_flashed)")
    parser.add_argument("--erase-all", action="store_true", help="erase the whole flash first")
    parser.add_argument("--verify", action="store_true", help="read back and compare after writing")
    parser.add_argument("--project", metavar="BUILD_DIR", help="an ESP-IDF build directory (flasher_args.json)")
    parser.add_argument("--app-only", action="store_true", help="with --project: the app only (idf.py app-flash)")
    parser.add_argument("--elf", action="append", default=[], metavar="FILE",
                        help="--monitor: ELF file(s) to decode backtraces (default: the project's app ELF)")
    parser.add_argument("--log", metavar="FILE",
                        help="--monitor: save the raw bytes to FILE and a decoded, timestamped text log to FILE.txt")
    parser.add_argument("images", nargs="*", metavar="ADDR FILE", help="offset and image pairs (0x10000 app.bin)")


def chosen_port(args: argparse.Namespace) -> str:
    """PORT or -p PORT (not both, unless the same), else $ESPPORT or a guess."""
    from espmon.port.identity import guess_port

    if args.port and args.port_option and args.port != args.port_option:
        raise UserError(f"two ports given: {args.port} and -p {args.port_option}")
    return args.port or args.port_option or guess_port()


def _flash_set(args: argparse.Namespace):
    from espmon.flash.flash_set import FlashSet, load_project, parse_pairs

    if args.port and args.port.lower().startswith("0x") and (args.port_option or len(args.images) % 2):
        # `espmon flash 0x1000 a.bin ...` with the port from -p or $ESPPORT: the first word is an address
        args.images.insert(0, args.port)
        args.port = None

    if args.project:
        if args.images:
            raise UserError("give either --project or ADDR FILE pairs, not both")
        flash_set = load_project(args.project)
        return flash_set.app_only() if args.app_only else flash_set
    if args.app_only:
        raise UserError("--app-only needs --project BUILD_DIR")
    if not args.images:
        raise UserError("nothing to flash: give ADDR FILE pairs (0x10000 app.bin) or --project BUILD_DIR")
    return FlashSet(parse_pairs(args.images))


def run(args: argparse.Namespace) -> int:
    from espmon.flash.engine import FlashError, LoaderOptions, loader_on
    from espmon.port.opening import check_baud, default_baud
    from espmon.session import Session

    flash_set = _flash_set(args)
    baud = check_baud(args.baud or default_baud(460800))
    chip = (args.chip or flash_set.chip or "auto").lower().replace("-", "")
    stub = not args.no_stub and flash_set.stub is not False
    options = LoaderOptions(chip=chip, stub=stub, baud=baud, before=flash_set.before or "default-reset")
    pairs = [(f.offset, f.read()) for f in flash_set.files]
    encrypted = [(f.offset, data) for f, (_, data) in zip(flash_set.files, pairs) if f.encrypted]
    plain = [(f.offset, data) for f, (_, data) in zip(flash_set.files, pairs) if not f.encrypted]
    from espmon.flash.esptool_log import LineReport

    report = LineReport(sys.stderr if args.monitor else sys.stdout)
    session = Session(chosen_port(args), 115200)
    session.open()
    try:
        started = time.monotonic()
        try:
            with loader_on(session.port, report, options, usb_jtag=session.usb_jtag,
                           after=flash_set.after or "hard-reset") as loader:
                loader.write(plain, flash_mode=flash_set.flash_mode, flash_size=flash_set.flash_size,
                             flash_freq=flash_set.flash_freq, skip_unchanged=args.skip_unchanged,
                             erase_all=args.erase_all, encrypt_files=encrypted or None)
                if args.verify:
                    loader.verify(pairs, flash_mode=flash_set.flash_mode, flash_size=flash_set.flash_size,
                                  flash_freq=flash_set.flash_freq)
                detected = loader.chip_name.lower().replace("-", "")  # for --elf demo
        except FlashError as exc:
            for line in exc.advice_lines():
                report.message("note", line)
            if encrypted:  # the rule in espmon.flash.flash_set: which entries asked for it, and where
                names = ", ".join(f.name or f.path.name for f in flash_set.files if f.encrypted)
                report.message("note", f"{flash_set.source}: {names} marked encrypted, written encrypted as "
                                       f"idf.py encrypted-flash does: the chip needs its flash encryption key")
            raise
        total = sum(len(data) for _, data in pairs)
        after = flash_set.after or "hard-reset"
        done = ("the chip was reset on the same port" if not after.startswith("no-reset") else
                f"the chip was not reset (--after {after}, from {flash_set.source})")
        report.message("note", f"flashed {len(pairs)} image(s), {total:,} bytes, in "
                               f"{time.monotonic() - started:.1f} s; {done}")
        if not args.monitor:
            return 0
        return _monitor(session, args, flash_set, detected)
    finally:
        session.stop()


def _monitor(session, args: argparse.Namespace, flash_set, detected: str | None = None) -> int:
    from espmon.commands.monitor import demo_elf
    from espmon.monitor.build import build_engine, open_log
    from espmon.monitor.plain import PlainMonitor
    from espmon.monitor.settings import MonitorSettings

    elf = list(args.elf) or ([str(flash_set.app_elf)] if flash_set.app_elf and flash_set.app_elf.is_file() else [])
    chip = flash_set.chip if flash_set.chip and flash_set.chip != "auto" else None
    elf = demo_elf(elf, chip or (detected if detected != "?" else None), session.url)
    settings = MonitorSettings(url=session.url, baud=115200, elf=elf, reset=False, chip=chip,
                               print_filter=os.environ.get("ESP_IDF_MONITOR_PRINT_FILTER"))
    log = open_log(args.log)
    engine = build_engine(settings, log)
    session.log = log
    engine.host_reset(time.time())  # the reset the loader just did: the boot log is a new boot
    try:
        if sys.stdin.isatty() and sys.stdout.isatty():
            from espmon.console.app import run_console
            from espmon.console.keys import load_keymap

            return run_console(session, engine, settings, load_keymap(None), flash_set=flash_set)
        script = None if sys.stdin is None or sys.stdin.isatty() else sys.stdin
        return PlainMonitor(session, engine, settings, out=sys.stdout.buffer, err=sys.stderr,
                            script_source=script, flash_set=flash_set).run()
    finally:
        if log is not None:
            log.close()
