"""Run a pyserial program on a bare pty: ``python pty_shim.py MODULE ARGS...``.

A pty has no modem lines, so pyserial's DTR/RTS ioctls fail with ENOTTY and
esp-idf-monitor gives up before reading anything. This shim makes those two setters
ignore ENOTTY/EINVAL (as pyserial's own open() already does), then runs MODULE as
``python -m MODULE``. Benchmark use only: it changes nothing else.
"""

from __future__ import annotations

import errno
import runpy
import sys

import serial.serialposix as posix


def tolerant(method):
    """``method``, except that ENOTTY/EINVAL (no modem lines on a pty) is ignored."""
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except OSError as exc:
            if exc.errno not in (errno.ENOTTY, errno.EINVAL):
                raise
            return None

    return wrapper


def install() -> None:
    posix.Serial._update_dtr_state = tolerant(posix.Serial._update_dtr_state)
    posix.Serial._update_rts_state = tolerant(posix.Serial._update_rts_state)


if __name__ == "__main__":
    install()
    module = sys.argv[1]
    sys.argv = [module, *sys.argv[2:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
