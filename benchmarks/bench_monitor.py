"""Monitor benchmark: espmon vs esp-idf-monitor vs miniterm vs a plain copy, in one run.

    python benchmarks/bench_monitor.py [--mb 20] [--paced-seconds 15] [--skip-peers]

What it measures (a realistic ESP-IDF log from ``make_device_log.py``: colours, long lines,
junk bytes, panics, boot banners), each tool reading a pty as its serial port:

- throughput: the whole log pushed through the pty as fast as the tool reads it; MB/s from
  the first byte written to the end marker seen on the tool's output; CPU-seconds per MB
  (user+sys of the tool between those two moments, from /proc); peak RSS (VmHWM); lines
  lost (device lines in minus device lines out; the tools' own ``--- `` lines excluded);
- espmon's full-screen console, run in a pty that plays the terminal (its ``--log`` text
  log shows when everything was processed), and espmon over ``socket://``;
- espmon and esp-idf-monitor over ``rfc2217://``: ``rfc2217_server.py`` (pyserial's
  PortManager) serves the pty to them, as a networked board would (``--only rfc2217``
  also runs espmon's pty case, the ratio's reference);
- paced: a 115200-baud stream in 1 ms chunks, CPU as % of one core;
- startup: ``espmon --help`` wall time, and time from launch to the first line shown.

The kernel counts CPU in 10 ms ticks: use >= 20 MB. esp-idf-monitor and miniterm run
through ``pty_shim.py`` (a bare pty rejects the DTR/RTS ioctls).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
import tty
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from benchmarks.make_device_log import write_device_log  # noqa: E402

PY = sys.executable
END = b"BENCH-END-OF-STREAM"
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    name: str
    mb_s: float
    cpu_per_mb: float
    rss_mib: float
    lost: int
    note: str = ""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def has_open(pid: int, target: str) -> bool:
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return True
            except OSError:
                pass
    except OSError:
        pass
    return False


def wait(pred, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.01)
    return False


def make_pty() -> tuple[int, int, str]:
    master, slave = pty.openpty()
    tty.setraw(slave)
    return master, slave, os.ttyname(slave)


def terminal_pty(cols: int = 120, rows: int = 40) -> tuple[int, int]:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    return master, slave


class Drain(threading.Thread):
    """Reads a tool's output; notes when the end marker shows up."""

    def __init__(self, fd: int, keep: bool = True) -> None:
        super().__init__(daemon=True)
        self.fd, self.keep = fd, keep
        self.data = bytearray()
        self.tail = b""
        self.end_seen: float | None = None
        self.first_line: float | None = None
        self.total = 0

    def run(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            now = time.monotonic()
            self.total += len(chunk)
            if self.first_line is None and b"\n" in chunk:
                self.first_line = now
            if self.keep:
                self.data += chunk
            if self.end_seen is None and END in self.tail + chunk:
                self.end_seen = now
            self.tail = chunk[-64:]


def device_lines(out: bytes) -> int:
    lines = out.split(b"\n")
    return sum(1 for line in lines[:-1] if not line.lstrip(b"\r").startswith(b"--- "))


def write_all(fd: int, data: bytes, chunk: int = 1 << 16) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view[:chunk])
        view = view[n:]


_PY_COPY = (
    "import os, sys\n"
    "fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NOCTTY)\n"
    "while True:\n"
    "    data = os.read(fd, 65536)\n"
    "    if not data: break\n"
    "    os.write(1, data)\n"
)


def tool_commands(dev: str) -> dict[str, list[str]]:
    shim = str(HERE / "pty_shim.py")
    return {
        "cat (floor)": ["cat", dev],
        "python copy (floor)": [PY, "-c", _PY_COPY, dev],
        "espmon monitor (plain)": [PY, "-m", "espmon", "monitor", dev, "--no-reset"],
        "esp-idf-monitor 1.10": [PY, shim, "esp_idf_monitor", "--no-reset", "-p", dev],
        "miniterm": [PY, shim, "serial.tools.miniterm", dev, "115200", "--raw", "-q"],
    }


def run_stream(name: str, argv_for, data: bytes, lines_in: int) -> Result:
    master, slave, dev = make_pty()
    # a terminal on stdin: miniterm and esp-idf-monitor want one; espmon stays plain (stdout is a pipe)
    tmaster, tslave = terminal_pty()
    out_r, out_w = os.pipe()
    proc = subprocess.Popen(argv_for(dev), stdin=tslave, stdout=out_w, stderr=subprocess.DEVNULL)
    os.close(out_w)
    drain = Drain(out_r)
    drain.start()
    tdrain = Drain(tmaster, keep=False)
    tdrain.start()
    try:
        if not wait(lambda: has_open(proc.pid, dev), 30):
            return Result(name, 0, 0, 0, lines_in, "never opened the port")
        time.sleep(0.5)  # let it finish starting (its open() flushes the input queue)
        cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
        write_all(master, data + END + b"\r\n")
        wait(lambda: drain.end_seen is not None, 600)
        t1 = drain.end_seen or time.monotonic()
        cpu1, rss = cpu_seconds(proc.pid), peak_rss_mib(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for fd in (master, slave, tslave, tmaster):
            os.close(fd)
    drain.join(5)
    mb = len(data) / 1e6
    lost = lines_in - (device_lines(bytes(drain.data)) - 1)  # minus the end marker
    note = "" if drain.end_seen else "end marker never seen"
    return Result(name, mb / (t1 - t0), (cpu1 - cpu0) / mb, rss, max(0, lost), note)


def run_console(data: bytes, lines_in: int) -> Result:
    """espmon's full-screen console in a 120x40 pty terminal; --log tells when all is processed."""
    master, slave, dev = make_pty()
    tmaster, tslave = terminal_pty()
    tmp = Path(tempfile.mkdtemp())
    log = tmp / "console.log"
    env = dict(os.environ, TERM="xterm-256color")
    proc = subprocess.Popen([PY, "-m", "espmon", "monitor", dev, "--no-reset", "--log", str(log)],
                            stdin=tslave, stdout=tslave, stderr=tslave, env=env)
    tdrain = Drain(tmaster, keep=False)
    tdrain.start()
    text = Path(str(log) + ".txt")

    def done() -> bool:
        try:
            with open(text, "rb") as f:
                f.seek(max(0, os.path.getsize(text) - 200))
                return END in f.read()
        except OSError:
            return False

    try:
        if not wait(lambda: has_open(proc.pid, dev), 30):
            return Result("espmon monitor (console)", 0, 0, 0, lines_in, "never opened the port")
        time.sleep(1.0)
        cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
        write_all(master, data + END + b"\r\n")
        wait(done, 600)
        t1 = time.monotonic()
        cpu1, rss = cpu_seconds(proc.pid), peak_rss_mib(proc.pid)
        os.write(tmaster, b"\x1d")  # Ctrl+] exits
        proc.wait(20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for fd in (master, slave, tslave, tmaster):
            os.close(fd)
    logged = text.read_bytes()
    out_lines = sum(1 for line in logged.split(b"\n")[:-1] if not line.split(b" ", 2)[-1].startswith(b"--- "))
    mb = len(data) / 1e6
    raw_ok = log.read_bytes() == data + END + b"\r\n"
    return Result("espmon monitor (console, --log)", mb / (t1 - t0), (cpu1 - cpu0) / mb, rss,
                  max(0, lines_in - (out_lines - 1)), "" if raw_ok else "raw log differs")


def run_socket(data: bytes, lines_in: int) -> Result:
    """espmon over socket:// (a local TCP server sends the log)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    out_r, out_w = os.pipe()
    tmaster, tslave = terminal_pty()
    proc = subprocess.Popen([PY, "-m", "espmon", "monitor", f"socket://127.0.0.1:{port}", "--no-reset"],
                            stdin=tslave, stdout=out_w, stderr=subprocess.DEVNULL)
    os.close(out_w)
    drain = Drain(out_r)
    drain.start()
    conn, _ = server.accept()
    try:
        time.sleep(0.5)
        cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
        conn.sendall(data + END + b"\r\n")
        wait(lambda: drain.end_seen is not None, 600)
        t1 = drain.end_seen or time.monotonic()
        cpu1, rss = cpu_seconds(proc.pid), peak_rss_mib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(10)
        conn.close()
        server.close()
        os.close(tslave)
        os.close(tmaster)
    drain.join(5)
    mb = len(data) / 1e6
    lost = lines_in - (device_lines(bytes(drain.data)) - 1)
    return Result("espmon monitor (plain, socket://)", mb / (t1 - t0), (cpu1 - cpu0) / mb, rss, max(0, lost))


def rfc2217_commands(url: str) -> dict[str, list[str]]:
    return {
        "espmon monitor (plain, rfc2217://)": [PY, "-m", "espmon", "monitor", url, "--no-reset"],
        "esp-idf-monitor 1.10 (rfc2217://)": [PY, "-m", "esp_idf_monitor", "--no-reset", "-p", url],
    }


def _readline(proc: subprocess.Popen, timeout: float) -> str:
    import select

    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        raise TimeoutError("the RFC 2217 server said nothing")
    return proc.stdout.readline().decode().strip()


def run_rfc2217(name: str, argv_for, data: bytes, lines_in: int, limit: float = 600) -> Result:
    """A tool on rfc2217://, served by ``rfc2217_server.py`` (PortManager) around a pty the
    benchmark writes the log into. MB/s as in run_stream; the server's own CPU goes in the note."""
    master, slave, dev = make_pty()
    server = subprocess.Popen([PY, str(HERE / "rfc2217_server.py"), dev], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, bufsize=0)
    tmaster, tslave = terminal_pty()
    out_r, out_w = os.pipe()
    proc = None
    try:
        url = _readline(server, 15)
        proc = subprocess.Popen(argv_for(url), stdin=tslave, stdout=out_w, stderr=subprocess.DEVNULL)
        os.close(out_w)
        out_w = -1
        drain = Drain(out_r)
        drain.start()
        tdrain = Drain(tmaster, keep=False)
        tdrain.start()
        try:
            while _readline(server, 30) != "purged":  # the client's open() purges the receive buffer
                pass
        except TimeoutError:
            return Result(name, 0, 0, 0, lines_in, "never finished opening the port")
        time.sleep(1.0)  # let it finish starting (line changes after the purge, its threads)
        cpu0, scpu0, t0 = cpu_seconds(proc.pid), cpu_seconds(server.pid), time.monotonic()
        write_all(master, data + END + b"\r\n")
        wait(lambda: drain.end_seen is not None, limit)
        t1 = drain.end_seen or time.monotonic()
        cpu1, scpu1, rss = cpu_seconds(proc.pid), cpu_seconds(server.pid), peak_rss_mib(proc.pid)
    finally:
        for p in (proc, server):
            if p is None:
                continue
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        server.stdout.close()
        for fd in (master, slave, tslave, tmaster, out_w):
            if fd >= 0:
                os.close(fd)
    drain.join(5)
    mb = len(data) / 1e6
    lost = lines_in - (device_lines(bytes(drain.data)) - 1)
    note = f"server {(scpu1 - scpu0) / mb:.3f} CPU-s/MB"
    if not drain.end_seen:
        note += f"; end marker not seen in {limit:.0f} s ({drain.total / 1e6:.1f} MB out)"
    return Result(name, mb / (t1 - t0), (cpu1 - cpu0) / mb, rss, max(0, lost), note)


def run_paced(name: str, argv: list[str] | None, data: bytes, seconds: float, console: bool = False,
              repeat: int = 1) -> float:
    return min(_paced_once(argv, data, seconds, console) for _ in range(max(1, repeat)))


def _paced_once(argv: list[str] | None, data: bytes, seconds: float, console: bool) -> float:
    """CPU (% of one core) while a 115200-baud stream arrives in 1 ms chunks."""
    master, slave, dev = make_pty()
    tmaster, tslave = terminal_pty()
    cmd = ([PY, "-m", "espmon", "monitor", dev, "--no-reset", *([] if console else ["--plain"])] if argv is None
           else [a if a != "DEV" else dev for a in argv])
    # the output goes to a terminal (a pty read by a thread, as a user's terminal reads it):
    # with /dev/null the terminal writes were never paid (1.7 % measured, 9 % on a terminal)
    out = tslave
    proc = subprocess.Popen(cmd, stdin=tslave, stdout=out, stderr=out, env=dict(os.environ, TERM="xterm-256color"))
    tdrain = Drain(tmaster, keep=False)
    tdrain.start()
    try:
        wait(lambda: has_open(proc.pid, dev), 30)
        time.sleep(1.0)
        cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
        per_ms = 115200 / 10 / 1000
        sent, pos, start = 0.0, 0, time.monotonic()
        while time.monotonic() - start < seconds:
            sent += per_ms
            n = int(sent) - pos
            if n:
                os.write(master, data[pos % len(data): pos % len(data) + n])
                pos += n
            next_t = start + (pos / per_ms + 1) / 1000
            time.sleep(max(0.0, next_t - time.monotonic()))
        cpu1, t1 = cpu_seconds(proc.pid), time.monotonic()
    finally:
        proc.terminate()
        proc.wait(10)
        for fd in (master, slave, tslave, tmaster):
            os.close(fd)
    return 100 * (cpu1 - cpu0) / (t1 - t0)


def first_line_time(runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        master, slave, dev = make_pty()
        out_r, out_w = os.pipe()
        t0 = time.monotonic()
        proc = subprocess.Popen([PY, "-m", "espmon", "monitor", dev, "--no-reset"],
                                stdin=subprocess.DEVNULL, stdout=out_w, stderr=subprocess.DEVNULL)
        os.close(out_w)
        drain = Drain(out_r)
        drain.start()
        wait(lambda: has_open(proc.pid, dev), 30)
        # the board keeps printing, as a booted app does; the first line after open() counts
        while drain.first_line is None and time.monotonic() - t0 < 10:
            os.write(master, b"I (1) app: hello\r\n")
            time.sleep(0.005)
        times.append(drain.first_line - t0)
        proc.terminate()
        proc.wait(10)
        os.close(master)
        os.close(slave)
    return sorted(times)[len(times) // 2]


def help_time(runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t0 = time.monotonic()
        subprocess.run([PY, "-m", "espmon", "--help"], capture_output=True, check=True)
        times.append(time.monotonic() - t0)
    return sorted(times)[len(times) // 2]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=20)
    ap.add_argument("--paced-seconds", type=float, default=15)
    ap.add_argument("--skip-peers", action="store_true")
    ap.add_argument("--only", help="comma-separated: stream,console,socket,rfc2217,paced,startup "
                                   "(paced-console: the console's paced line alone)")
    ap.add_argument("--rfc2217-limit", type=float, default=600,
                    help="seconds a tool gets to read the log over rfc2217:// (stock pyserial is slow)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per tool; the best is kept (the machine is shared)")
    args = ap.parse_args()
    parts = set((args.only or "stream,console,socket,rfc2217,paced,startup").split(","))
    tmp = Path(tempfile.mkdtemp())
    path = tmp / "device.log"
    write_device_log(path, size=int(args.mb * 1e6), seed=1)
    data = path.read_bytes()
    lines_in = data.count(b"\n")
    print(f"input: {len(data) / 1e6:.1f} MB, {lines_in} lines; python {sys.version.split()[0]}; {os.cpu_count()} cores")
    results: list[Result] = []
    if "stream" in parts:
        for name, argv in tool_commands("DEV").items():
            if args.skip_peers and not name.startswith(("cat", "python", "espmon")):
                continue
            results.append(_best(args.repeat, lambda a=argv: run_stream(
                name, lambda dev: [dev if x == "DEV" else x for x in a], data, lines_in)))
            print(_row(results[-1]), flush=True)
    if "console" in parts:
        results.append(_best(args.repeat, lambda: run_console(data, lines_in)))
        print(_row(results[-1]), flush=True)
    if "socket" in parts:
        results.append(_best(args.repeat, lambda: run_socket(data, lines_in)))
        print(_row(results[-1]), flush=True)
    if "rfc2217" in parts:
        if "stream" not in parts:  # the pty run it is compared with, in the same run
            argv = tool_commands("DEV")["espmon monitor (plain)"]
            results.append(_best(args.repeat, lambda: run_stream(
                "espmon monitor (plain)", lambda dev: [dev if x == "DEV" else x for x in argv], data, lines_in)))
            print(_row(results[-1]), flush=True)
        for name, argv in rfc2217_commands("URL").items():
            if args.skip_peers and not name.startswith("espmon"):
                continue
            # the peer on stock pyserial takes ~70 s per 20 MB: one run of it is enough
            runs = args.repeat if name.startswith("espmon") else 1
            results.append(_best(runs, lambda a=argv, n=name: run_rfc2217(
                n, lambda url: [url if x == "URL" else x for x in a], data, lines_in, args.rfc2217_limit)))
            print(_row(results[-1]), flush=True)
    print()
    print("| tool | MB/s | CPU-s/MB | peak RSS MiB | lines lost | note |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(_row(r))
    floor = next((r for r in results if r.name.startswith("cat")), None)
    pyfloor = next((r for r in results if r.name.startswith("python copy")), None)
    idf = next((r for r in results if r.name == "esp-idf-monitor 1.10"), None)
    mine = next((r for r in results if r.name == "espmon monitor (plain)"), None)
    if floor and mine:
        print(f"\nespmon plain throughput / cat floor: {mine.mb_s / floor.mb_s:.2f} (target >= 0.33)")
    if pyfloor and mine:
        print(f"espmon plain throughput / python-copy floor: {mine.mb_s / pyfloor.mb_s:.2f} (target >= 0.33)")
    for r in results:
        if mine and r.name.startswith("espmon") and ("socket://" in r.name or "rfc2217://" in r.name):
            print(f"{r.name} / pty throughput: {r.mb_s / mine.mb_s:.2f} (target >= 0.5)")
    if idf and mine and idf.cpu_per_mb:
        print(f"espmon plain CPU/MB / esp-idf-monitor's: {mine.cpu_per_mb / idf.cpu_per_mb:.2f} (target <= 0.5)")
    if "paced-console" in parts and "paced" not in parts:
        print("\npaced 115200 baud, 1 ms chunks: CPU % of one core")
        print(f"  espmon monitor (console): {run_paced('console', None, data, args.paced_seconds, console=True, repeat=args.repeat):5.1f} %")
    if "paced" in parts:
        print("\npaced 115200 baud, 1 ms chunks: CPU % of one core")
        print(f"  espmon monitor (plain):   {run_paced('plain', None, data, args.paced_seconds, repeat=args.repeat):5.1f} %")
        print(f"  espmon monitor (console): {run_paced('console', None, data, args.paced_seconds, console=True, repeat=args.repeat):5.1f} %")
        if not args.skip_peers:
            shim = str(HERE / "pty_shim.py")
            idf = [PY, shim, "esp_idf_monitor", "--no-reset", "-p", "DEV"]
            mt = [PY, shim, "serial.tools.miniterm", "DEV", "115200", "--raw", "-q"]
            print(f"  esp-idf-monitor 1.10:     {run_paced('idf', idf, data, args.paced_seconds, repeat=args.repeat):5.1f} %")
            print(f"  miniterm:                 {run_paced('miniterm', mt, data, args.paced_seconds, repeat=args.repeat):5.1f} %")
        cat = run_paced("cat", ["cat", "DEV"], data, args.paced_seconds, repeat=args.repeat)
        print(f"  cat (the floor):          {cat:5.1f} %")
    if "startup" in parts:
        print(f"\nespmon --help: {help_time():.3f} s (target <= 0.25 s)")
        print(f"launch -> first line shown: {first_line_time():.3f} s (target <= 0.5 s)")
    return 0


def _best(repeat: int, run) -> Result:
    """Best of several runs: throughput is the best seen, CPU and memory the lowest, lines
    lost the worst (a loss in any run counts)."""
    runs = [run() for _ in range(max(1, repeat))]
    best = max(runs, key=lambda r: r.mb_s)
    return Result(best.name, best.mb_s, min(r.cpu_per_mb for r in runs), min(r.rss_mib for r in runs),
                  max(r.lost for r in runs), "; ".join(sorted({r.note for r in runs if r.note})))


def _row(r: Result) -> str:
    return f"| {r.name} | {r.mb_s:.1f} | {r.cpu_per_mb:.3f} | {r.rss_mib:.0f} | {r.lost} | {r.note} |"


if __name__ == "__main__":
    raise SystemExit(main())
