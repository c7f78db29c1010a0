"""The command line as a user meets it: help, version, and one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pystream_migrate import __version__
from pystream_migrate.cli import main
from pystream_migrate.errors import EXIT_ARCHIVE


def run_cli(*args: str, input: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pystream_migrate", *args],
        capture_output=True, text=True, timeout=120, check=False,
        input=input.decode() if input is not None else None,
    )


@pytest.mark.parametrize("sub", [[], ["dump"], ["restore"], ["list"], ["verify"], ["demo"]])
def test_help_prints_usage(sub: list[str]) -> None:
    res = run_cli(*sub, "--help")
    assert res.returncode == 0
    assert res.stdout.startswith("usage: pystream-migrate")
    if sub in (["dump"], ["restore"]):
        assert "--dbname" in res.stdout and "--jobs" in res.stdout and "--file" in res.stdout


def test_version() -> None:
    res = run_cli("--version")
    assert res.returncode == 0
    assert res.stdout.strip() == f"pystream-migrate {__version__}"


def test_unreachable_host_is_one_line_without_password() -> None:
    res = run_cli("dump", "-d", "host=127.0.0.1 port=1 password=secret", "-f", "x")
    assert res.returncode == 3
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert "127.0.0.1:1" in lines[0]
    assert "connection refused" in lines[0]
    assert "secret" not in res.stderr + res.stdout
    assert "Traceback" not in res.stderr


def test_uri_password_is_masked_in_errors() -> None:
    res = run_cli("dump", "-d", "postgresql://bob:hunter2@127.0.0.1:1/db", "-f", "x")
    assert res.returncode == 3
    assert "hunter2" not in res.stderr + res.stdout
    assert len(res.stderr.strip().splitlines()) == 1


def test_malformed_dsn_is_a_usage_error() -> None:
    res = run_cli("dump", "-d", "host=127.0.0.1 port=1 password='secret", "-f", "x")
    assert res.returncode == 2
    assert "invalid connection string" in res.stderr
    assert "secret" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_bad_jobs_value_is_rejected() -> None:
    res = run_cli("dump", "-d", "dbname=x", "-f", "x", "-j", "0")
    assert res.returncode == 2
    assert "--jobs" in res.stderr or "-j" in res.stderr


def test_unknown_role_is_one_line(pg_server) -> None:  # type: ignore[no-untyped-def]
    from pystream_migrate.connection import parse_dsn

    params = parse_dsn(pg_server.dsn)
    dsn = f"host={params.get('host', '127.0.0.1')} port={params.get('port', '5432')} " \
          "user=no_such_role password=topsecret dbname=postgres"
    res = run_cli("dump", "-d", dsn, "-f", "x")
    assert res.returncode == 3
    assert len(res.stderr.strip().splitlines()) == 1
    assert "no_such_role" in res.stderr
    assert "topsecret" not in res.stderr


def test_demo_runs_and_cleans_up(pg_server) -> None:  # type: ignore[no-untyped-def]
    import re
    import socket

    res = run_cli("demo")
    assert res.returncode == 0, res.stderr
    assert "verify: source and target match" in res.stderr
    assert "the server and its data are removed" in res.stderr
    port = int(re.search(r"server on 127\.0\.0\.1:(\d+)", res.stderr).group(1))  # type: ignore[union-attr]
    with socket.socket() as s, pytest.raises(ConnectionRefusedError):
        s.connect(("127.0.0.1", port))  # the demo's server is gone


# --- dump -f onto something that is not a plain file (issue 17, item 1) -----------------


@pytest.fixture
def small_source(make_db) -> str:  # type: ignore[no-untyped-def]
    import psycopg

    dsn = make_db("out")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
        conn.execute("INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 500) g")
    return dsn


def _dump_to(dsn: str, path: str, **popen: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "pystream_migrate", "dump", "-d", dsn, "-f", path,
         "--progress", "none"],
        stderr=subprocess.PIPE, timeout=120, check=False, **popen,  # type: ignore[call-overload]
    )


def _entries_in(archive: bytes) -> int:
    """Check every checksum of an archive held in memory; return its TOC length."""
    import io

    from pystream_migrate.archive import ArchiveReader

    reader = ArchiveReader(io.BytesIO(archive), name="received")
    reader.verify()
    return len(reader.toc)


def test_dump_through_a_symlink_writes_its_target(small_source: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "real").mkdir()
    link = tmp_path / "link.psm"
    link.symlink_to(tmp_path / "real" / "db.psm")  # dangling until the dump is done
    res = _dump_to(small_source, str(link))
    assert res.returncode == 0, res.stderr
    assert link.is_symlink(), "the symlink was replaced by a file"
    assert _entries_in((tmp_path / "real" / "db.psm").read_bytes()) > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.psm", "real"]
    assert [p.name for p in (tmp_path / "real").iterdir()] == ["db.psm"]  # no .partial


def test_dump_into_a_fifo_feeds_its_reader(small_source: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    import stat
    import threading

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    res = _dump_to(small_source, str(fifo))
    # Checked before joining: a reader of a FIFO that was replaced would wait forever.
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO was replaced"
    if res.returncode != 0:  # unblock the reader, which may still wait for a writer
        with open(fifo, "wb"):
            pass
    reader.join(30)
    assert res.returncode == 0, res.stderr
    assert _entries_in(received[0]) > 0
    assert [p.name for p in tmp_path.iterdir()] == ["fifo"]


def test_dump_into_a_character_device(small_source: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    import stat

    # As root, a private copy of /dev/null: the old code renamed its .partial over the
    # device, and this test must not destroy the machine's /dev/null when it fails.
    device = tmp_path / "null"
    if os.geteuid() == 0:
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    else:
        device = tmp_path.joinpath("/dev/null")  # a non-root rename into /dev fails
    res = _dump_to(small_source, str(device))
    assert res.returncode == 0, res.stderr
    assert stat.S_ISCHR(os.lstat(device).st_mode), "the device was replaced by a file"
    assert not os.path.exists(f"{device}.partial")


def test_dump_to_stdout_through_its_descriptor(small_source: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # /dev/stdout is a symlink to /proc/self/fd/1; a link of our own to the same place
    # behaves the same and keeps the machine's /dev/stdout out of harm's way.
    stdout_link = tmp_path / "stdout"
    stdout_link.symlink_to("/proc/self/fd/1")
    res = _dump_to(small_source, str(stdout_link), stdout=subprocess.PIPE)
    assert res.returncode == 0, res.stderr
    assert stdout_link.is_symlink()
    assert _entries_in(res.stdout) > 0
    with open(tmp_path / "captured.psm", "wb") as out:  # stdout redirected to a file
        res = _dump_to(small_source, str(stdout_link), stdout=out)
    assert res.returncode == 0, res.stderr
    assert _entries_in((tmp_path / "captured.psm").read_bytes()) > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["captured.psm", "stdout"]


def test_dump_to_a_process_substitution_path(small_source: str) -> None:
    # What -f >(cmd) passes: /dev/fd/N, a pipe the shell opened for us.
    import os

    read_end, write_end = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pystream_migrate", "dump", "-d", small_source,
         "-f", f"/dev/fd/{write_end}", "--progress", "none"],
        stderr=subprocess.PIPE, pass_fds=(write_end,),
    )
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        received = pipe.read()
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert _entries_in(received) > 0


# --- exit paths (issue 17, item 4) ------------------------------------------------------


def _sample_file(tmp_path) -> str:  # type: ignore[no-untyped-def]
    from tests.archive_forge import sample_archive

    path = tmp_path / "sample.psm"
    path.write_bytes(sample_archive())
    return str(path)


def test_list_into_a_pipe_whose_reader_left_ends_quietly(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`list X | head`: the reader is gone before the first write; no word on stderr."""
    import os

    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        res = subprocess.run([sys.executable, "-m", "pystream_migrate", "list",
                              _sample_file(tmp_path)], stdout=write_end,
                             stderr=subprocess.PIPE, text=True, timeout=60, check=False)
    finally:
        os.close(write_end)
    assert res.stderr == ""
    assert res.returncode == 1  # the listing did not get through


def test_the_command_leaves_with_its_output_flushed_and_its_code(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The command leaves through os._exit (cli.entry): what it printed is all there,
    into a file or a pipe, and its exit code is main's."""
    import io
    from contextlib import redirect_stdout

    archive = _sample_file(tmp_path)
    inside = io.StringIO()
    with redirect_stdout(inside):
        assert main(["list", archive]) == 0
    listed = tmp_path / "listed.txt"
    with listed.open("w") as out:
        res = subprocess.run([sys.executable, "-m", "pystream_migrate", "list", archive],
                             stdout=out, stderr=subprocess.PIPE, text=True, timeout=60,
                             check=False)
    assert res.returncode == 0 and res.stderr == ""
    assert listed.read_text() == inside.getvalue() and len(inside.getvalue()) > 100
    piped = subprocess.run([sys.executable, "-m", "pystream_migrate", "list", archive],
                           capture_output=True, text=True, timeout=60, check=False)
    assert piped.stdout == inside.getvalue()
    broken = tmp_path / "broken.psm"
    broken.write_bytes(Path(archive).read_bytes()[:-10])
    res = subprocess.run([sys.executable, "-m", "pystream_migrate", "verify", str(broken)],
                         capture_output=True, text=True, timeout=60, check=False)
    assert res.returncode == EXIT_ARCHIVE and res.stderr.count("\n") == 1, res.stderr


@pytest.mark.parametrize("closed, args", [
    (0, ["verify", "-"]),
    (0, ["list", "-"]),
    (0, ["restore", "-d", "host=127.0.0.1 port=1", "-f", "-"]),
    (1, ["list", "ARCHIVE"]),
    (1, ["verify", "ARCHIVE"]),
    (1, ["dump", "-d", "host=127.0.0.1 port=1", "-f", "-"]),
])
def test_closed_standard_streams(tmp_path, closed: int, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    """`verify - <&-`, `list f >&-`: one line, exit 2, never an AttributeError."""
    import os

    archive = _sample_file(tmp_path)
    args = [archive if a == "ARCHIVE" else a for a in args]
    res = subprocess.run([sys.executable, "-m", "pystream_migrate", *args],
                         stderr=subprocess.PIPE, text=True, timeout=60, check=False,
                         preexec_fn=lambda: os.close(closed))
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    name = "standard input" if closed == 0 else "standard output"
    assert f"{name} is closed" in lines[0]
    assert res.returncode == 2


def test_psycopg_warnings_while_unwinding_stay_quiet(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """After a failed COPY, psycopg logs "error ignored terminating <psycopg.Copy
    [INERROR]>"; the error that caused it is what the user is told, once.

    In a child process: pytest's own logging handlers would swallow the warning here.
    """
    script = ("import logging, sys\n"
              "from pystream_migrate.cli import main\n"
              "code = main(['list', sys.argv[1]])\n"
              "logging.getLogger('psycopg').warning('error ignored terminating %r', 'copy')\n"
              "sys.exit(code)\n")
    res = subprocess.run([sys.executable, "-c", script, _sample_file(tmp_path)],
                         capture_output=True, text=True, timeout=60, check=False)
    assert res.returncode == 0 and res.stdout
    assert res.stderr == ""


def test_dump_header_has_one_creation_time(small_source: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from pystream_migrate.archive import ArchiveReader
    from pystream_migrate.archive.format import DEFAULT_LEVEL
    from pystream_migrate.dump import DumpOptions

    path = tmp_path / "a.psm"
    assert _dump_to(small_source, str(path)).returncode == 0
    with ArchiveReader.open(path) as reader:
        assert "created_at" in reader.header and "created" not in reader.header
        assert reader.header["options"]["compress"] == DEFAULT_LEVEL
    listing = run_cli("list", str(path)).stdout
    assert f"; created: {reader.header['created_at']} by" in listing
    assert DumpOptions(dsn="", file="").compress == DEFAULT_LEVEL  # as the CLI's default


def test_sigterm_during_dump(make_db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """exit 130 with a message naming what was left, and no FILE.partial behind.

    The table takes the dump a second or more to copy; FILE.partial exists from before
    the copy starts until the rename, so the signal, sent as soon as it appears, lands
    in the middle of the copy.
    """
    import time

    import psycopg

    source = make_db("term")
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id int, v text)")
        conn.execute("INSERT INTO t SELECT g, repeat(md5(g::text), 4) "
                     "FROM generate_series(1, 500000) g")
    path = tmp_path / "a.psm"
    partial = tmp_path / "a.psm.partial"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pystream_migrate", "dump", "-d", source, "-f", str(path),
         "--progress", "none"], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not partial.exists():
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr
            time.sleep(0.005)
        proc.terminate()
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "interrupted by SIGTERM" in lines[0] and f"{path} was not written" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_an_interrupt_as_the_archive_file_is_made_removes_it(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A SIGTERM that lands once FILE.partial exists, even inside its creation
    (test_sigterm_during_dump met that one run in four), finds the dump able to remove it:
    the output is held before the file is made, and knows its name first."""
    from pystream_migrate import dump
    from pystream_migrate.errors import Terminated

    def open_then_stop(path: str, mode: str) -> None:
        with open(path, mode):
            pass
        raise Terminated

    monkeypatch.setattr(dump, "open", open_then_stop, raising=False)
    out = dump._Output(str(tmp_path / "a.psm"))
    assert list(tmp_path.iterdir()) == []  # nothing made before open()
    try:
        out.open()
    except KeyboardInterrupt as exc:  # what _dump's handler does with it
        out.abort()
        message = str(out.interrupted(exc))
    else:
        pytest.fail("no interrupt")
    assert "interrupted by SIGTERM" in message and "a.psm was not written" in message
    assert list(tmp_path.iterdir()) == []
