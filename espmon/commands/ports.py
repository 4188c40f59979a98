"""espmon ports: serial ports with a guess of the USB bridge / chip."""

from __future__ import annotations

import argparse
import json

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--all", action="store_true", help="also list ports with no known ESP USB bridge")
    parser.add_argument("--json", action="store_true", help="one JSON object per port")


def run(args: argparse.Namespace) -> int:
    from espmon.port.identity import find_candidates

    ports = find_candidates(all_ports=args.all)
    if args.json:
        for p in ports:
            print(json.dumps({"device": p.device, "bridge": p.bridge, "vid": p.vid, "pid": p.pid,
                              "serial_number": p.serial_number, "location": p.location,
                              "description": p.description}))
        return 0 if ports else 1  # as the text listing: nothing found is exit code 1
    if not ports:
        print("no ESP-looking serial port found" + ("" if args.all else " (`espmon ports --all` lists every port)"))
        return 1
    width = max(len(p.device) for p in ports)
    for p in ports:
        ids = f"{p.vid:04x}:{p.pid:04x}" if p.vid is not None and p.pid is not None else "         "
        extra = f"  serial {p.serial_number}" if p.serial_number else ""
        print(f"{p.device:<{width}}  {ids}  {p.guess}{extra}")
    return 0
