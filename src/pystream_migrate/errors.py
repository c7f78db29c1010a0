"""Errors a user sees, each with the process exit code it maps to.

Every error the tool raises on purpose is a :class:`MigrateError`. The CLI prints its
message as one line (``pystream-migrate: error: ...``) and exits with its ``exit_code``.
The codes are documented in ``docs/usage.md``; keep the two in step.
"""

from __future__ import annotations

import errno
import tempfile
from collections.abc import Callable

EXIT_OK = 0
EXIT_FAILURE = 1  # an operation failed on the server or locally
EXIT_USAGE = 2  # bad command line (argparse uses 2 as well)
EXIT_CONNECTION = 3  # could not connect or log in
EXIT_ARCHIVE = 4  # the archive is truncated, corrupt or not an archive
EXIT_PRECONDITION = 5  # the target or source is not fit for the job (versions, emptiness, ...)
EXIT_DIFFERENCES = 6  # verify found differences
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM


class MigrateError(Exception):
    """An error with a one-line explanation for the user."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self, mask: Callable[[str], str] = str) -> str:
        """Message and hint on one line; ``mask`` is applied to the message only (a hint
        is the tool's own text, e.g. "put password=... in the DSN")."""
        text = mask(" ".join(self.message.split()))
        if self.hint:
            text += f" ({' '.join(self.hint.split())})"
        return text


class UsageError(MigrateError):
    exit_code = EXIT_USAGE


class ConnectionFailed(MigrateError):
    exit_code = EXIT_CONNECTION


class ArchiveError(MigrateError):
    exit_code = EXIT_ARCHIVE


class PreconditionFailed(MigrateError):
    exit_code = EXIT_PRECONDITION


class DifferencesFound(MigrateError):
    exit_code = EXIT_DIFFERENCES


class Interrupted(MigrateError):
    """Ctrl-C or SIGTERM, with what the interrupted command left behind."""

    exit_code = EXIT_INTERRUPTED


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C's KeyboardInterrupt."""


def disk_reason(exc: OSError) -> str:
    """Why writing a local file failed, in a few words ("the disk is full", ...)."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full"
    return exc.strerror or str(exc)


def temp_file_failed(exc: OSError, what: str) -> MigrateError:
    """The one-line error for a temporary file (``what`` it holds) that cannot be made or
    written: where it was, why, and the fix."""
    return MigrateError(
        f"cannot keep {what} in a temporary file in {tempfile.gettempdir()}: "
        f"{disk_reason(exc)}",
        hint="point TMPDIR at a writable directory with free space "
             "(about 1 kB per table or chunk)")
