"""Drive ``espmon monitor`` in a real terminal: a private tmux server (its own socket),
keys typed with ``send-keys``, the screen read with ``capture-pane``."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
import uuid
from pathlib import Path

from monitor_support import wait_for

__all__ = ["Tmux", "ROOT"]

ROOT = Path(__file__).resolve().parent.parent


class Tmux:
    def __init__(self, tmp_path: Path) -> None:
        self.socket = f"espmon-test-{uuid.uuid4().hex[:8]}"
        self.tmp = tmp_path
        self.stderr_path = tmp_path / "stderr.txt"

    def run(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=False).stdout

    def start(self, monitor_args: list[str], width: int = 120, height: int = 40, prefix: str = "",
              command: str = "monitor") -> None:
        """Run the monitor in a fresh window; ``EXIT=rc`` is printed when it ends.
        ``prefix`` is shell text put before the command (e.g. a pipeline feeding a pty)."""
        cmd = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "espmon", command, *monitor_args])
        shell = (f"cd {shlex.quote(str(ROOT))} && {prefix}{cmd} 2>{shlex.quote(str(self.stderr_path))}; "
                 "echo EXIT=$?; sleep 600")
        env = dict(os.environ, TERM="xterm-256color")
        self.run("kill-session", "-t", "mon")  # a test may start the monitor again
        for attempt in range(3):
            # on a loaded machine a brand-new tmux server sometimes exits before the session
            # is made ("server exited unexpectedly"): that is tmux, not espmon; try again
            done = subprocess.run(["tmux", "-L", self.socket, "new-session", "-d", "-x", str(width), "-y",
                                   str(height), "-s", "mon", shell], env=env, capture_output=True, text=True)
            if done.returncode == 0:
                return
            time.sleep(0.2 * (attempt + 1))
        raise AssertionError(f"tmux new-session failed: {done.stderr.strip()}")

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "mon")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "mon", *keys)

    def wait_screen(self, text: str, timeout: float = 20.0) -> str:
        found = wait_for(lambda: text in self.screen(), timeout, 0.1)
        screen = self.screen()
        assert found, f"{text!r} never showed up; screen:\n{screen}\nstderr: {self.stderr()}"
        return screen

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def exit_cleanly(self) -> str:
        self.keys("C-]")
        screen = self.wait_screen("EXIT=", 20)
        assert "EXIT=0" in screen, screen
        assert "Traceback" not in self.stderr(), self.stderr()
        return screen

    def kill(self) -> None:
        self.run("kill-server")
