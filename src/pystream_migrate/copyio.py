"""COPY in both directions: the one statement builder, COPY-out at libpq's speed, COPY-in,
and statements sent straight through libpq: scripts of several statements as one query,
COPY TO STDOUT (``run_script``) or COPY FROM STDIN (``run_in_script``) among them.

Every ``COPY`` the tool sends is built by :func:`copy_statement`: the table form
``COPY t (cols)`` (a table's own heap only, never a compressed chunk's rows twice), or for
an extension's configuration table with a row filter the query form. A table with no
columns (PostgreSQL allows them) gets no column list: ``COPY t TO STDOUT``.

COPY-out: the server sends one message per row. psycopg's ``Copy`` iterator hands each one up
through its generator machinery, which costs more per row than the server spends
producing it. This loop asks libpq for rows directly and passes them on in chunks of
``CHUNK`` bytes, which is all a dump needs.

libpq is used in non-blocking mode: the blocking calls would hold Python's GIL while
they wait for the server, and stall every other worker thread. Waiting happens in
``select``, which releases it.
"""

from __future__ import annotations

import select
from collections.abc import Callable, Iterable, Iterator, Sequence

import psycopg
from psycopg import pq, sql

from pystream_migrate.catalog.names import ident
from pystream_migrate.toc import CopySpec

CHUNK = 256 * 1024


def copy_statement(spec: CopySpec, *, to_stdout: bool, binary: bool = False,
                   freeze: bool = False) -> sql.SQL:
    """``COPY t (cols) TO STDOUT`` or ``COPY t (cols) FROM STDIN``, with its options.

    Quoted with :func:`~pystream_migrate.catalog.names.ident`, the same text as
    ``sql.Identifier`` gives: composing it with ``psycopg.sql`` cost ~0.17 ms a
    statement, as much as the rest of a tiny chunk's dump (once per chunk, each way).
    """
    table = ident(spec.schema, spec.table)
    options = [name for name, on in (("FORMAT binary", binary), ("FREEZE", freeze)) if on]
    with_options = f" ({', '.join(options)})" if options else ""
    names = ", ".join(ident(c) for c in spec.columns)
    if to_stdout and spec.where:
        # Extension configuration tables carry a row filter; only the query form takes it.
        # With no columns, SELECT with an empty list still yields one (empty) row per row.
        return sql.SQL(f"COPY (SELECT {names} FROM ONLY {table} WHERE {spec.where}) "
                       f"TO STDOUT{with_options}")
    columns = f" ({names})" if spec.columns else ""
    direction = "TO STDOUT" if to_stdout else "FROM STDIN"
    return sql.SQL(f"COPY {table}{columns} {direction}{with_options}")


def copy_in(conn: psycopg.Connection, spec: CopySpec, chunks: Iterable[bytes], *,
            binary: bool, freeze: bool) -> int:
    """Load one table's COPY data in the caller's transaction; the rows loaded.

    With ``freeze``, the table is truncated first in the same transaction, which lets
    ``COPY ... FREEZE`` load the rows frozen (no anti-wraparound vacuum later).
    """
    if freeze:
        conn.execute(sql.SQL("TRUNCATE ONLY {}").format(sql.Identifier(spec.schema, spec.table)))
    stmt = copy_statement(spec, to_stdout=False, binary=binary, freeze=freeze)
    with conn.cursor() as cur:
        with cur.copy(stmt) as copy:
            for data in chunks:
                copy.write(data)
        return cur.rowcount if cur.rowcount >= 0 else 0


# A statement of a script for run_in_script: with the data of its COPY FROM STDIN, or None.
ScriptStatement = tuple[sql.Composable, Iterable[bytes] | None]


def run_in_script(conn: psycopg.Connection, statements: Sequence[ScriptStatement],
                  tail: Sequence[sql.Composable] = ()) -> list[int]:
    """Run statements sent as one query, COPY FROM STDIN among them; each one's row count.

    The whole script costs one round trip, plus one per COPY (libpq hands over a COPY's
    data only once the server has asked for it): ``BEGIN; COPY ...; INSERT ...; COMMIT``
    loads a table in two instead of five. Each of ``statements`` is one statement; one
    with data is a ``COPY ... FROM STDIN``, whose bytes are sent when the server reaches
    it. Its count is a COPY's or INSERT's rows, 0 for other commands. ``tail`` follows,
    SQL of any number of statements each (no COPY FROM STDIN), checked but not counted.
    The first error stops the rest and is raised as psycopg would raise it; an error
    raised by a data iterator (a broken archive) ends that COPY with a CopyFail and is
    raised after the server's answer is read. Either way the connection is usable again,
    but inside a failed transaction if the script began one: the caller rolls back.
    """
    pgconn = conn.pgconn
    _send(pgconn, b";\n".join([*(st.as_bytes(conn) for st, _ in statements),
                               *(st.as_bytes(conn) for st in tail)]))
    counts: list[int] = []
    for _, data in statements:
        result = _result(pgconn)
        if result is not None and result.status == pq.ExecStatus.COPY_IN:
            failure = _copy_data_in(pgconn, data if data is not None else _unexpected())
            result = _result(pgconn)
            if failure is not None:
                _drain(pgconn)
                raise failure
        counts.append(_rows(_checked(conn, result)))
    while (result := _result(pgconn)) is not None:
        if result.status == pq.ExecStatus.COPY_IN:
            _copy_data_in(pgconn, _unexpected())
            continue
        _checked(conn, result)
    return counts


def _unexpected() -> Iterator[bytes]:
    raise psycopg.ProgrammingError("a statement of the script asked for COPY data")
    yield b""  # pragma: no cover - makes this a generator


def _checked(conn: psycopg.Connection, result: pq.abc.PGresult | None) -> bytes:
    """A result's command tag; an error result (or none) is raised."""
    if result is None or result.status not in (pq.ExecStatus.COMMAND_OK,
                                               pq.ExecStatus.TUPLES_OK,
                                               pq.ExecStatus.EMPTY_QUERY):
        _raise(conn, result, "result")
    assert result is not None
    return result.command_status or b""


def _copy_data_in(pgconn: pq.abc.PGconn, data: Iterable[bytes]) -> BaseException | None:
    """Send one COPY's data and its end; the iterator's error, if it raised (CopyFail)."""
    failure: BaseException | None = None
    try:
        for chunk in data:
            while pgconn.put_copy_data(chunk) == 0:  # libpq's buffer is full
                _flush(pgconn)
    except Exception as exc:
        failure = exc
    error = f"the data could not be read: {failure}".encode() if failure is not None else None
    while pgconn.put_copy_end(error) == 0:
        _flush(pgconn)
    _flush(pgconn)
    return failure


def _flush(pgconn: pq.abc.PGconn) -> None:
    """Send what libpq holds, reading what the server sends meanwhile (nothing blocks)."""
    while pgconn.flush() != 0:
        readable, _, _ = select.select([pgconn.socket], [pgconn.socket], [])
        if readable:
            pgconn.consume_input()


def _rows(status: bytes) -> int:
    """The row count of a COPY or INSERT command tag (``COPY 5``, ``INSERT 0 5``), else 0."""
    if status.startswith((b"COPY ", b"INSERT ")):
        return int(status.split()[-1])
    return 0


def _wait_readable(pgconn: pq.abc.PGconn) -> None:
    select.select([pgconn.socket], [], [])
    pgconn.consume_input()


def _send(pgconn: pq.abc.PGconn, query: bytes) -> None:
    pgconn.send_query(query)
    while pgconn.flush() != 0:
        select.select([], [pgconn.socket], [])


def _result(pgconn: pq.abc.PGconn) -> pq.abc.PGresult | None:
    while pgconn.is_busy():
        _wait_readable(pgconn)
    return pgconn.get_result()


def copy_out_many(conn: psycopg.Connection, statements: Sequence[sql.Composable],
                  sink_for: Callable[[int], Callable[[bytes], None]],
                  done: Callable[[int, int], None]) -> None:
    """Run several ``COPY ... TO STDOUT`` statements sent as one query (see :func:`run_script`)."""
    run_script(conn, [(st, True) for st in statements], sink_for, done)


def run_script(conn: psycopg.Connection, statements: list[tuple[sql.Composable, bool]],
               sink_for: Callable[[int], Callable[[bytes], None]],
               done: Callable[[int, int], None]) -> None:
    """Run statements sent as one query: ``(statement, is_copy)`` pairs.

    One round trip for the lot instead of one per statement: that is most of the cost
    of a small table, more so on a distant server. A ``COPY ... TO STDOUT`` statement
    ``i`` sends its bytes to ``sink_for(i)``; any other statement must complete without
    rows (BEGIN, SET, LOCK, ROLLBACK). ``done(i, rows)`` follows each statement (rows: 0
    for a command), so the caller knows how far the script went. The server runs the
    statements as one implicit transaction unless they contain BEGIN/COMMIT/ROLLBACK;
    the first error stops the rest and is raised, as the same psycopg exception
    ``cursor.execute`` would raise.
    """
    pgconn = conn.pgconn
    _send(pgconn, b";\n".join(st.as_bytes(conn) for st, _ in statements))
    for i, (_, is_copy) in enumerate(statements):
        if is_copy:
            done(i, _one_copy(conn, sink_for(i)))
            continue
        result = _result(pgconn)
        if result is None or result.status != pq.ExecStatus.COMMAND_OK:
            _raise(conn, result, "result")
        done(i, 0)
    _drain(pgconn)


def execute_raw(conn: psycopg.Connection, query: sql.Composable) -> pq.abc.PGresult | None:
    """Run ``query`` (one or several statements) straight through libpq: one round trip.

    Unlike ``conn.execute``, no implicit BEGIN goes first (psycopg sends it as a query
    of its own outside autocommit), so ``BEGIN ...; SET TRANSACTION SNAPSHOT ...``
    starts a transaction in one round trip. Returns the last statement's result; an
    error is raised as psycopg would raise it.
    """
    pgconn = conn.pgconn
    _send(pgconn, query.as_bytes(conn))
    last = None
    while (result := _result(pgconn)) is not None:
        if result.status not in (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK):
            _raise(conn, result, "result")
        last = result
    return last


def _drain(pgconn: pq.abc.PGconn) -> None:
    """Read the results left after an error or the last COPY: the connection stays usable."""
    while _result(pgconn) is not None:
        pass


def _raise(conn: psycopg.Connection, result: pq.abc.PGresult | None, what: str) -> None:
    _drain(conn.pgconn)
    if result is None:
        raise psycopg.OperationalError(f"the server sent no {what} for COPY")
    raise psycopg.errors.error_from_result(result, encoding=conn.info.encoding)


def _one_copy(conn: psycopg.Connection, sink: Callable[[bytes], None]) -> int:
    pgconn = conn.pgconn
    result = _result(pgconn)
    if result is None or result.status != pq.ExecStatus.COPY_OUT:
        _raise(conn, result, "result")
    buf = bytearray()
    while True:
        nbytes, data = pgconn.get_copy_data(1)  # one row per call; 0: none buffered yet
        if nbytes == 0:
            _wait_readable(pgconn)
            continue
        if nbytes < 0:
            break
        buf += data
        if len(buf) >= CHUNK:
            sink(bytes(buf))
            buf.clear()
    if buf:
        sink(bytes(buf))
    final = _result(pgconn)
    if final is None or final.status != pq.ExecStatus.COMMAND_OK:
        _raise(conn, final, "final result")
    assert final is not None
    return _rows(final.command_status or b"")
