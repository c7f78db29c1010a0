"""COPY ... TO STDOUT at the speed of libpq.

The server sends one message per row. psycopg's ``Copy`` iterator hands each one up
through its generator machinery, which costs more per row than the server spends
producing it. This loop asks libpq for rows directly and passes them on in chunks of
``CHUNK`` bytes, which is all a dump needs.

libpq is used in non-blocking mode: the blocking calls would hold Python's GIL while
they wait for the server, and stall every other worker thread. Waiting happens in
``select``, which releases it.
"""

from __future__ import annotations

import select
from collections.abc import Callable

import psycopg
from psycopg import pq, sql

CHUNK = 256 * 1024


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


def copy_out(conn: psycopg.Connection, statement: sql.Composable,
             sink: Callable[[bytes], None]) -> int:
    """Run a ``COPY ... TO STDOUT`` statement, feed its bytes to ``sink``; return the rows.

    Server errors raise the same psycopg exceptions as ``cursor.execute`` would.
    """
    pgconn = conn.pgconn
    _send(pgconn, statement.as_bytes(conn))
    result = _result(pgconn)
    if result is None or result.status != pq.ExecStatus.COPY_OUT:
        while _result(pgconn) is not None:
            pass
        if result is None:
            raise psycopg.OperationalError("the server sent no result for COPY")
        raise psycopg.errors.error_from_result(result, encoding=conn.info.encoding)
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
    while _result(pgconn) is not None:
        pass
    if final is None:
        raise psycopg.OperationalError("the server sent no final result for COPY")
    if final.status != pq.ExecStatus.COMMAND_OK:
        raise psycopg.errors.error_from_result(final, encoding=conn.info.encoding)
    status = final.command_status or b""
    return int(status.split()[-1]) if status.startswith(b"COPY ") else 0
