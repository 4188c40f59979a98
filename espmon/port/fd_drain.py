"""Drain a non-blocking file descriptor in one call that does not hold the GIL.

A tty hands over at most 4 KiB per ``read()``. Read from Python, every one of those reads
gives the GIL back and must win it again before the next, and the event-loop thread holds
it for milliseconds at a time while it turns a block of text into records: the reader
starves and a pty (20 KiB of buffer) stalls its sender. Here the loop of reads runs inside
C's ``fread`` on an unbuffered stream over a ``dup`` of the descriptor, called through
ctypes (which lets the GIL go for the whole call): up to ``size`` bytes, until the
descriptor has nothing more (EAGAIN), in one GIL round trip.

``FdDrain.open`` returns None where that is not available (no C library found); callers
then read with ``os.read`` as usual.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import os

__all__ = ["FdDrain"]

_IONBF = 2  # setvbuf mode: unbuffered (the same value in glibc, musl and the BSDs)


@functools.cache
def _load() -> ctypes.CDLL | None:
    """The C library with the prototypes we call, loaded once; None where there is none."""
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        libc.fdopen.restype = ctypes.c_void_p
        libc.fdopen.argtypes = [ctypes.c_int, ctypes.c_char_p]
        libc.setvbuf.restype = ctypes.c_int
        libc.setvbuf.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_size_t]
        libc.fread.restype = ctypes.c_size_t
        libc.fread.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_void_p]
        libc.feof.restype = ctypes.c_int
        libc.feof.argtypes = [ctypes.c_void_p]
        libc.clearerr.restype = None
        libc.clearerr.argtypes = [ctypes.c_void_p]
        libc.fclose.restype = ctypes.c_int
        libc.fclose.argtypes = [ctypes.c_void_p]
    except (OSError, AttributeError):
        return None
    return libc


class FdDrain:
    """Reads what a non-blocking descriptor has (``read``); ``close`` when the port closes."""

    def __init__(self, libc: ctypes.CDLL, stream: int, fd: int, size: int) -> None:
        self._libc = libc
        self._stream: int | None = stream
        self.fd = fd  # the descriptor it drains (not the dup it owns)
        self._buf = ctypes.create_string_buffer(size)
        self._size = size

    @classmethod
    def open(cls, fd: int, size: int = 1 << 16) -> "FdDrain | None":
        libc = _load()
        if libc is None:
            return None
        dup = os.dup(fd)  # same open file (non-blocking too); fclose closes only the dup
        stream = libc.fdopen(dup, b"rb")
        if not stream:
            os.close(dup)
            return None
        if libc.setvbuf(stream, None, _IONBF, 0) != 0:  # no stdio buffer: every byte comes back
            libc.fclose(stream)
            return None
        return cls(libc, stream, fd, size)

    def read(self, limit: int | None = None) -> bytes:
        """Up to ``size`` (or ``limit``) bytes, b"" when there was nothing; raises EOFError at
        end of file and OSError for a read error with nothing read before it."""
        libc, stream = self._libc, self._stream
        if stream is None:
            raise OSError(errno.EBADF, "drain closed")
        ctypes.set_errno(0)
        n = libc.fread(self._buf, 1, self._size if limit is None else min(limit, self._size), stream)
        err = ctypes.get_errno()
        eof = n == 0 and libc.feof(stream)
        libc.clearerr(stream)
        if n:
            return ctypes.string_at(self._buf, n)
        if eof:
            raise EOFError
        if err and err not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR):
            raise OSError(err, os.strerror(err))
        return b""

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            self._libc.fclose(stream)
