"""The one exception type for user errors: the CLI prints it as one line, never a traceback."""

from __future__ import annotations

__all__ = ["UserError"]


class UserError(Exception):
    """Something the user can fix: a bad file, a missing port, a wrong option.

    The message is printed as ``espmon: error: <message>`` and the process exits with
    ``exit_code``. Name the file and line (or byte offset) and what was expected.
    """

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code
