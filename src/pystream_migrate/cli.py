"""Command-line parsing only: every subcommand hands its options to one function."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import NoReturn

import psycopg

from pystream_migrate import __version__
from pystream_migrate.archive.format import DEFAULT_LEVEL
from pystream_migrate.connection import mask_password
from pystream_migrate.errors import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    MigrateError,
    Terminated,
)

PROG = "pystream-migrate"

EPILOG = """\
exit codes: 0 success, 1 operation failed, 2 bad command line (or a needed standard stream
closed), 3 cannot connect or log in, 4 archive truncated, corrupt or malformed, 5 source/target
not fit for the job (versions, non-empty target, missing extension or privilege, too few
connections for -j), 6 verify found differences, 130 interrupted (Ctrl-C or SIGTERM).
Connection settings not in -d come from the libpq environment (PGHOST, PGPORT, PGUSER,
PGPASSWORD, PGSERVICE, PGSSLMODE, ~/.pgpass), as for psql."""


def _jobs(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if n < 1 or n > 256:
        raise argparse.ArgumentTypeError("must be between 1 and 256")
    return n


def _level(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if n < 1 or n > 22:
        raise argparse.ArgumentTypeError("zstd levels go from 1 (fastest) to 22 (smallest)")
    return n


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-v", "--verbose", action="count", default=0, help="say more (repeatable)")


def _add_progress(p: argparse.ArgumentParser) -> None:
    p.add_argument("--progress", choices=("auto", "plain", "json", "none"), default="auto",
                   help="progress on stderr: a live display on a terminal and plain lines "
                   "elsewhere (auto, the default), plain lines, JSON lines, or none")


def _add_filters(p: argparse.ArgumentParser) -> None:
    _add_selection(p)
    only = p.add_mutually_exclusive_group()
    only.add_argument("-s", "--schema-only", action="store_true",
                      help="only the schema (with TimescaleDB's catalog), no table rows")
    only.add_argument("-a", "--data-only", action="store_true", help="only the data")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Dump a PostgreSQL + TimescaleDB database into a compressed streaming "
        "archive and restore it in parallel. No pg_dump, pg_restore or psql needed.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    dump = sub.add_parser(
        "dump", help="dump a database into an archive",
        description="Dump a database into an archive, from one consistent snapshot.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    dump.add_argument("-d", "--dbname", required=True, metavar="DSN",
                      help="source: a conninfo string or postgresql:// URI")
    dump.add_argument("-f", "--file", required=True, metavar="FILE",
                      help="archive to write; '-' writes to standard output")
    dump.add_argument("-j", "--jobs", type=_jobs, default=2, metavar="N",
                      help="parallel COPY workers (default 2)")
    dump.add_argument("-Z", "--compress", type=_level, default=DEFAULT_LEVEL, metavar="LEVEL",
                      help=f"zstd level, 1-22 (default {DEFAULT_LEVEL}); higher is smaller "
                           "and slower")
    dump.add_argument("--exclude-table-data", action="append", default=[], metavar="PATTERN",
                      help="dump the definition but not the rows of matching tables")
    dump.add_argument("--copy-format", choices=("text", "binary"), default="text",
                      help="COPY format for table data (default text; binary falls back to "
                      "text for types without binary I/O)")
    dump.add_argument("--portable", action="store_true",
                      help="write an archive that restores into any TimescaleDB version, "
                      "without superuser: hypertables, chunks, continuous aggregates and "
                      "jobs are recreated through the target's API, chunk rows are read "
                      "decompressed (see docs/migration-guide.md)")
    _add_filters(dump)
    _add_progress(dump)
    _add_common(dump)
    dump.set_defaults(func=_run_dump)

    restore = sub.add_parser(
        "restore", help="restore an archive into a database",
        description="Restore an archive into a database, in parallel, between "
        "timescaledb_pre_restore() and timescaledb_post_restore().",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    restore.add_argument("-d", "--dbname", required=True, metavar="DSN",
                         help="target: a conninfo string or postgresql:// URI")
    restore.add_argument("-f", "--file", required=True, metavar="FILE",
                         help="archive to read; '-' reads standard input, read ahead "
                         "into 32 MiB of memory, then a temporary file in $TMPDIR "
                         "(up to 4 GiB)")
    restore.add_argument("-j", "--jobs", type=_jobs, default=2, metavar="N",
                         help="parallel workers (default 2)")
    restore.add_argument("-O", "--no-owner", action="store_true",
                         help="do not restore object owners")
    restore.add_argument("-x", "--no-privileges", action="store_true",
                         help="do not restore GRANT/REVOKE")
    restore.add_argument("--no-tablespaces", action="store_true",
                         help="create everything in the default tablespace")
    restore.add_argument("-c", "--clean", action="store_true",
                         help="drop the archive's objects from the target before creating them")
    restore.add_argument("--if-exists", action="store_true",
                         help="with --clean: use DROP ... IF EXISTS")
    restore.add_argument("-C", "--create", action="store_true",
                         help="create the target database (named by -d) first")
    restore.add_argument("--section", action="append", default=[],
                         choices=("pre-data", "data", "post-data"),
                         help="restore only this section (repeatable)")
    errs = restore.add_mutually_exclusive_group()
    errs.add_argument("-e", "--exit-on-error", action="store_true",
                      help="stop at the first failed item (by default the restore goes on "
                      "past it, skips what needs it, lists every failed and skipped item "
                      "at the end and exits 1)")
    errs.add_argument("--continue-on-error", action="store_true",
                      help="the default; accepted for scripts written for earlier versions")
    restore.add_argument("--resume", action="store_true",
                         help="finish an interrupted or failed restore: run exactly the items "
                         "not done yet (failed, skipped, or never run)")
    restore.add_argument("--no-analyze", action="store_true",
                         help="skip the ANALYZE of restored tables")
    restore.add_argument("--skip-archive-check", action="store_true",
                         help="do not read a file archive once through to check every "
                         "checksum before changing the target (damage is still detected, "
                         "but only when the damaged entry is reached)")
    restore.add_argument("--mode", choices=("catalog", "portable"),
                         help="restore mode; by default the archive's own (portable for "
                         "archives written by 'dump --portable'); a different one is refused")
    restore.add_argument("--decompress", action="store_true",
                         help="portable mode: load compressed chunks uncompressed and leave "
                         "out compression settings and policies (for an Apache-edition "
                         "target)")
    restore.add_argument("-L", "--use-list", metavar="LISTFILE",
                         help="restore only the entries in LISTFILE (made with 'list')")
    _add_filters(restore)
    _add_progress(restore)
    _add_common(restore)
    restore.set_defaults(func=_run_restore)

    lst = sub.add_parser("list", help="print an archive's table of contents",
                         description="Print an archive's table of contents, in restore order.")
    lst.add_argument("file", metavar="FILE", help="archive; '-' reads standard input")
    lst.add_argument("--json", action="store_true", help="print JSON")
    _add_common(lst)
    lst.set_defaults(func=_run_list)

    verify = sub.add_parser(
        "verify", help="check an archive, or compare a target with its source",
        description="With FILE: check every checksum in the archive (no server needed). "
        "With --source and --target: compare the two databases.",
    )
    verify.add_argument("file", nargs="?", metavar="FILE", help="archive; '-' reads stdin")
    verify.add_argument("--source", metavar="DSN", help="the source database")
    verify.add_argument("--target", metavar="DSN", help="the migrated target database")
    verify.add_argument("--portable", action="store_true",
                        help="compare logically, as after a portable restore: leave out "
                        "TimescaleDB's catalog ids and internal tables, compare chunks by "
                        "their rows (automatic when the TimescaleDB versions differ)")
    _add_common(verify)
    verify.set_defaults(func=_run_verify)

    demo = sub.add_parser(
        "demo", help="run dump, restore and verify on a throwaway local server",
        description="Start a throwaway local PostgreSQL + TimescaleDB server, load sample "
        "data, dump, restore, verify, report, and clean up.",
    )
    demo.add_argument("-j", "--jobs", type=_jobs, default=2, metavar="N")
    _add_common(demo)
    demo.set_defaults(func=_run_demo)
    _add_export(sub)
    _add_import(sub)
    return parser


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return n


def _add_selection(p: argparse.ArgumentParser) -> None:
    """-n/-N/-t/-T (dump and restore add --schema-only/--data-only)."""
    p.add_argument("-n", "--schema", action="append", default=[], metavar="PATTERN",
                   help="only objects in schemas matching PATTERN (repeatable)")
    p.add_argument("-N", "--exclude-schema", action="append", default=[], metavar="PATTERN",
                   help="leave out schemas matching PATTERN (repeatable)")
    p.add_argument("-t", "--table", action="append", default=[], metavar="PATTERN",
                   help="only tables matching PATTERN (repeatable)")
    p.add_argument("-T", "--exclude-table", action="append", default=[], metavar="PATTERN",
                   help="leave out tables matching PATTERN (repeatable)")


def _add_export(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from pystream_migrate.parquet import parse_size

    p = sub.add_parser(
        "export", help="export tables to Parquet files, a hypertable chunk by chunk",
        description="Export tables into a directory of Parquet files from one consistent "
        "snapshot: one file per chunk of a hypertable (compressed chunks included), one or "
        "more per plain table, and DIR/_manifest.json listing them. Running it again with "
        "the same DIR skips the files already complete.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-d", "--dbname", required=True, metavar="DSN",
                   help="source: a conninfo string or postgresql:// URI")
    p.add_argument("-o", "--output", required=True, metavar="DIR",
                   help="directory to write (created if missing)")
    p.add_argument("-j", "--jobs", type=_jobs, default=2, metavar="N",
                   help="parallel workers (default 2)")
    p.add_argument("--since", metavar="TS", help="only chunks whose range starts at or after "
                   "TS (as drop_chunks' newer_than picks them); a number for integer time")
    p.add_argument("--until", metavar="TS", help="only chunks whose range ends at or before "
                   "TS (as drop_chunks' older_than picks them); a number for integer time")
    p.add_argument("--compression", choices=("zstd", "snappy", "none"), default="zstd",
                   help="Parquet compression (default zstd)")
    p.add_argument("--row-group-size", type=_positive, default=131072, metavar="N",
                   help="rows per row group (default 131072); memory grows with it")
    p.add_argument("--max-file-size", type=parse_size, default=parse_size("1GB"),
                   metavar="SIZE", help="start a new file of a plain table past SIZE "
                   "(default 1GB); a chunk is always one file")
    _add_selection(p)
    _add_progress(p)
    _add_common(p)
    p.set_defaults(func=_run_export)


def _add_import(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "import", help="load an export directory into existing tables",
        description="Load the Parquet files of an export directory into existing tables or "
        "hypertables with COPY, one file per transaction, in parallel. Each file's checksum "
        "is checked first.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-d", "--dbname", required=True, metavar="DSN",
                   help="target: a conninfo string or postgresql:// URI")
    p.add_argument("directory", metavar="DIR", help="a directory written by export")
    p.add_argument("-j", "--jobs", type=_jobs, default=2, metavar="N",
                   help="parallel workers (default 2)")
    _add_selection(p)
    _add_progress(p)
    _add_common(p)
    p.set_defaults(func=_run_import)


def _run_export(args: argparse.Namespace) -> int:
    from pystream_migrate.parquet import run_export

    return run_export(args)


def _run_import(args: argparse.Namespace) -> int:
    from pystream_migrate.parquet import run_import

    return run_import(args)


def _run_dump(args: argparse.Namespace) -> int:
    from pystream_migrate.dump import run_dump

    return run_dump(args)


def _run_restore(args: argparse.Namespace) -> int:
    from pystream_migrate.restore import run_restore

    return run_restore(args)


def _run_list(args: argparse.Namespace) -> int:
    from pystream_migrate.listing import run_list

    return run_list(args)


def _run_verify(args: argparse.Namespace) -> int:
    from pystream_migrate.verify import run_verify

    return run_verify(args)


def _run_demo(args: argparse.Namespace) -> int:
    from pystream_migrate.demo import run_demo

    return run_demo(args)


def error(message: str) -> None:
    """Print ``pystream-migrate: error: MESSAGE`` on stderr (if there is one)."""
    if sys.stderr is not None:
        print(f"{PROG}: error: {message}", file=sys.stderr)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Terminated


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM unwinds the main thread as Ctrl-C does: every command cleans up, exit 130."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _closed_stream(args: argparse.Namespace) -> str | None:
    """The standard stream this command needs that was closed (``<&-``, ``>&-``)."""
    if sys.stdin is None and getattr(args, "file", None) == "-" and args.command != "dump":
        return "standard input"
    if sys.stdout is None and (args.command in ("list", "verify")
                               or (args.command == "dump" and args.file == "-")):
        return "standard output"
    return None


def _quiet_broken_pipe() -> None:
    """The reader of our output went away (``list ... | head``): end without a word.

    Whatever is still buffered for stdout goes to /dev/null, so that the interpreter's
    last flush does not complain either.
    """
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def entry() -> NoReturn:
    """The command (console script, ``python -m pystream_migrate``): :func:`main`, then
    leave at once with its exit code, standard output and error flushed.

    Everything is done by then (the archive committed, every connection closed, every
    child reaped), but the interpreter's own exit collected and freed every object
    left: 50-140 ms after a dump of 4000 chunks of 1.6 s. ``main`` itself returns, for
    callers in the same process (tests).
    """
    code = main()
    for stream in (sys.stdout, sys.stderr):
        if stream is None:  # closed when we started (see _closed_stream)
            continue
        try:
            stream.flush()
        except BrokenPipeError:  # the reader of our output went away (list ... | head)
            _quiet_broken_pipe()
            code = code or EXIT_FAILURE
        except (OSError, ValueError):  # closed, or nowhere to say so
            code = code or EXIT_FAILURE
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    closed = _closed_stream(args)
    if closed is not None:
        error(f"{closed} is closed; {args.command} needs it "
              f"({'give a FILE' if closed == 'standard input' else 'redirect it'})")
        return EXIT_USAGE
    # psycopg logs what it ignores while unwinding a failed COPY ("error ignored
    # terminating <psycopg.Copy ...>"); the error that caused it is reported instead.
    logging.getLogger("psycopg").addHandler(logging.NullHandler())
    logging.getLogger("psycopg").propagate = False
    func: Callable[[argparse.Namespace], int] = args.func
    with _sigterm_interrupts():
        return _run(func, args)


def _run(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a subcommand; every failure becomes one line on stderr and an exit code."""
    try:
        return func(args)
    except MigrateError as exc:
        error(exc.one_line(mask_password))
        return exc.exit_code
    except KeyboardInterrupt as exc:
        error("interrupted by SIGTERM" if isinstance(exc, Terminated) else "interrupted")
        return EXIT_INTERRUPTED
    except psycopg.Error as exc:
        # A server error no code path explained: still one line, never a traceback.
        diag = exc.diag
        text = diag.message_primary or str(exc).splitlines()[0]
        if diag.message_hint:
            text += f" ({diag.message_hint})"
        error(mask_password(f"the server reported: {text}"))
        return EXIT_FAILURE
    except BrokenPipeError:
        _quiet_broken_pipe()
        return EXIT_FAILURE
    except OSError as exc:
        error(mask_password(f"{exc.strerror or exc}"
                            + (f": {exc.filename}" if exc.filename else "")))
        return EXIT_FAILURE
