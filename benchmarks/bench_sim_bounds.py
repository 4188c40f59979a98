"""Memory and threads of ``espmon sim`` under hostile clients (issue 12, item 10).

Starts ``espmon sim --control 127.0.0.1:0`` and reports its RSS and thread count before and
after: a client sending up to 113 MiB inside one unterminated telnet subnegotiation, 1,000
control connections, and up to 113 MiB on one control line without a newline. Also times
``esptool chip-id`` (stock pyserial) over RFC 2217 and over ``--pty``.

    python benchmarks/bench_sim_bounds.py            # about 20 s
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

LIMIT = 113 << 20


def _status(pid: int) -> str:
    rss = next(line for line in open(f"/proc/{pid}/status") if line.startswith("VmRSS")).split()[1]
    return f"{int(rss) // 1024} MiB RSS, {len(os.listdir(f'/proc/{pid}/task'))} threads"


def _flood(address: tuple[str, int], head: bytes, fill: bytes) -> str:
    sent = 0
    with socket.create_connection(address) as sock:
        try:
            sock.sendall(head)
            while sent < LIMIT:
                sock.sendall(fill * 65536)
                sent += 65536
        except OSError as exc:
            return f"hung up after {sent:,} bytes were sent ({exc.strerror})"
    return f"took all {sent:,} bytes"


def _esptool(port: str) -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "esptool", "--port", port, "chip-id"], check=True,
                   capture_output=True, timeout=120)
    return time.monotonic() - started


def _start(*args: str) -> tuple[subprocess.Popen, list[str]]:
    proc = subprocess.Popen([sys.executable, "-m", "espmon", "sim", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    lines = [proc.stdout.readline().decode().strip() for _ in range(2 if "--control" in args else 1)]
    time.sleep(0.5)
    return proc, lines


def main() -> None:
    proc, (url, control) = _start("--control", "127.0.0.1:0")
    host, port = url.removeprefix("rfc2217://").rsplit(":", 1)
    chost, cport = control.split()[1].rsplit(":", 1)
    try:
        print("start:", _status(proc.pid))
        print("unterminated subnegotiation:", _flood((host, int(port)), b"\xff\xfa\x2c", b"x"))
        print("  then:", _status(proc.pid))
        socks = [socket.create_connection((chost, int(cport))) for _ in range(1000)]
        time.sleep(0.5)
        print("1,000 control connections:", _status(proc.pid))
        for sock in socks:
            sock.close()
        print("control line without newline:", _flood((chost, int(cport)), b"", b"y"))
        print("  then:", _status(proc.pid))
        print(f"esptool chip-id over RFC 2217 (stock pyserial): {_esptool(url):.2f} s")
    finally:
        proc.terminate()
        proc.wait(10)
    proc, (pty,) = _start("--pty")
    try:
        print(f"esptool chip-id over --pty: {_esptool(pty):.2f} s")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
