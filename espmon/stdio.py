"""Standard streams that are closed, full or broken: a one-line error or a clean exit,
never a traceback (``espmon decode x >&-``, ``espmon monitor PORT >/dev/full``,
``espmon decode big | head``).

- :func:`fill_closed` runs first: a closed fd 0, 1 or 2 gets ``/dev/null`` (so no file
  espmon opens later lands on it and receives its output), and says which were closed;
- :func:`closed_error` turns a closed stdout (or a closed stdin that ``-`` would read) into
  the one-line error;
- :func:`write_error` recognises an error writing the output (disk full, I/O error) and
  :func:`finish` flushes stdout before exit, where a full disk shows up for buffered output;
- :func:`silence_stdout` points fd 1 at ``/dev/null`` so the interpreter's last flush of a
  broken or full stdout stays quiet.
"""

from __future__ import annotations

import errno
import io
import os
import sys

__all__ = ["closed_error", "fill_closed", "finish", "silence_stdout", "write_error"]

_NAMES = ("stdin", "stdout", "stderr")
# errors of a write that the user fixes outside espmon (free space, a working disk or pipe)
_WRITE_ERRNOS = {errno.ENOSPC, errno.EIO, errno.EPIPE, errno.EFBIG, errno.EDQUOT, errno.EBADF}


def fill_closed() -> set[str]:
    closed: set[str] = set()
    for fd, name in enumerate(_NAMES):
        try:
            os.fstat(fd)
            if getattr(sys, name) is not None:
                continue
        except OSError:
            os.open(os.devnull, os.O_RDWR)  # the lowest free fd: this one
        closed.add(name)
        mode = "r" if fd == 0 else "w"
        setattr(sys, name, io.TextIOWrapper(io.FileIO(fd, mode, closefd=False), encoding="utf-8",
                                            line_buffering=fd == 2))
    return closed


def closed_error(closed: set[str], argv: list[str]) -> str | None:
    if "stdout" in closed:
        return "standard output is closed: nothing to write to (use >/dev/null to discard the output)"
    if "stdin" in closed and "-" in argv:
        return "standard input is closed: nothing to read for '-'"
    return None


def write_error(exc: OSError) -> str | None:
    """The one-line message for an error writing the output, None for any other OSError."""
    if exc.errno not in _WRITE_ERRNOS or exc.filename is not None:
        return None
    return f"cannot write the output: {exc.strerror or exc}"


def silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def finish(code: int) -> int:
    """Flush stdout now, so a full disk is reported here and not by the interpreter's exit."""
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
    except OSError as exc:
        silence_stdout()
        say(f"espmon: error: {write_error(exc) or exc}")
        return code or 1
    return code


def say(line: str) -> None:
    """One line on stderr, if stderr can take it."""
    try:
        print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError, AttributeError):
        pass
