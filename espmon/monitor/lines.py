"""Line assembly: bytes as they arrive -> blocks of complete lines, plus the unfinished tail.

Works on bytes in bulk (one ``rfind`` per chunk, no per-byte loop) and hands back whole
blocks, so the caller decodes once per chunk and splits with ``str.split``. A newline never
falls inside a UTF-8 sequence, so cutting at newlines never splits a character.

The partial last line is kept until its newline arrives; the caller may *show* it after an
idle time (``partial``) but it is only processed as a line when complete, when it grows past
``max_line`` bytes (then it is cut, at a character boundary), or at ``end()``.
"""

from __future__ import annotations

__all__ = ["LineAssembler", "MAX_LINE"]

MAX_LINE = 8192


def _cut_point(data: bytes, limit: int) -> int:
    """A cut at or before ``limit`` that does not split a UTF-8 sequence."""
    cut = limit
    for _ in range(3):
        if cut > 1 and 0x80 <= data[cut] <= 0xBF:
            cut -= 1
        else:
            break
    return cut


class LineAssembler:
    def __init__(self, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        self._partial = b""

    @property
    def partial(self) -> bytes:
        """The unfinished last line (bytes since the last newline)."""
        return self._partial

    def feed(self, data: bytes) -> bytes:
        """Return a block of complete lines, each ending with b"\\n" (possibly b"")."""
        nl = data.rfind(b"\n")
        if nl < 0:
            self._partial += data
            if len(self._partial) <= self.max_line:
                return b""
            return self._cut_partial()
        block = self._partial + data[: nl + 1] if self._partial else data[: nl + 1]
        self._partial = data[nl + 1 :]
        if len(block) > self.max_line:
            block = self._cut_long_lines(block)
        if len(self._partial) > self.max_line:
            block += self._cut_partial()
        return block

    def end(self) -> bytes:
        """At the end of the stream: the partial line as a last line (with a newline added)."""
        if not self._partial:
            return b""
        rest, self._partial = self._partial, b""
        return self._cut_long_lines(rest + b"\n")

    def _has_long_line(self, block: bytes) -> bool:
        """Is a line longer than max_line? Hops from line start to the last newline within
        reach (a few C-speed ``rfind`` calls per block instead of splitting it)."""
        reach = self.max_line + 1
        pos, size = 0, len(block)
        while size - pos >= reach:
            nl = block.rfind(b"\n", pos, pos + reach)
            if nl < 0:
                return True
            pos = nl + 1
        return False

    def _cut_partial(self) -> bytes:
        out = []
        part = self._partial
        while len(part) > self.max_line:
            cut = _cut_point(part, self.max_line)
            out.append(part[:cut] + b"\n")
            part = part[cut:]
        self._partial = part
        return b"".join(out)

    def _cut_long_lines(self, block: bytes) -> bytes:
        if not self._has_long_line(block):
            return block
        lines = block.split(b"\n")
        out = []
        for line in lines:
            while len(line) > self.max_line:
                cut = _cut_point(line, self.max_line)
                out.append(line[:cut])
                line = line[cut:]
            out.append(line)
        return b"\n".join(out)
