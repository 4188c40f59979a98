"""esp-idf-monitor's command line habits (issue 8 item 10): -p PORT, the ELF as a positional
argument, --open-port-attempts (wait for a port that is not there yet)."""

from __future__ import annotations

import socket
import threading
import time

from monitor_support import run_monitor
from tmux_support import ROOT

ELF = str(ROOT / "samples" / "firmware" / "esp32" / "app.elf")
BOARD = "sim://esp32?firmware=demo&heartbeat=0"
SCRIPT = b"expect --timeout 20 hello from espmon-demo\nexit\n"


def test_port_option_and_the_elf_as_a_positional_argument():
    result = run_monitor(["-p", BOARD, ELF, "--no-reset"], SCRIPT)
    assert result.returncode == 0, result.stderr.decode()
    assert f"matches {ELF}".encode() in result.stdout  # the positional ELF is used as --elf


def test_two_ports_are_one_line_of_error():
    result = run_monitor(["-p", BOARD, "/dev/ttyNOPE0", "--no-reset"])
    assert result.returncode == 2
    err = result.stderr.decode()
    assert "two ports given" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_open_port_attempts_waits_for_a_server_that_starts_later():
    with socket.socket() as probe:  # a free port, not listening yet: "Connection refused"
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    refused = run_monitor([f"socket://127.0.0.1:{port}", "--no-reset"])
    assert refused.returncode != 0 and b"Connection refused" in refused.stderr

    def serve_later() -> None:
        time.sleep(1.5)
        with socket.create_server(("127.0.0.1", port)) as server:
            conn, _ = server.accept()
            with conn:
                conn.sendall(b"I (1) net: hello from espmon-demo\r\n")
                conn.settimeout(25)  # stay until the monitor leaves (a fixed 2 s raced a loaded machine)
                try:
                    while conn.recv(1024):
                        pass
                except OSError:
                    pass

    thread = threading.Thread(target=serve_later, daemon=True)
    thread.start()
    result = run_monitor([f"socket://127.0.0.1:{port}", "--no-reset", "--open-port-attempts", "0"], SCRIPT)
    thread.join()
    assert result.returncode == 0, result.stderr.decode()
    assert b"waiting for it (forever" in result.stderr and b"hello from espmon-demo" in result.stdout
