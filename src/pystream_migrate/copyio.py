"""COPY ... TO STDOUT at the speed of libpq.

The server sends one message per row. psycopg's ``Copy`` iterator hands each one up
through its generator machinery, which costs more per row than the server spends
producing it. This loop asks libpq for rows directly and passes them on in chunks of
``CHUNK`` bytes, which is all a dump needs.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from psycopg import pq, sql

CHUNK = 256 * 1024


def copy_out(conn: psycopg.Connection, statement: sql.Composable,
             sink: Callable[[bytes], None]) -> int:
    """Run a ``COPY ... TO STDOUT`` statement, feed its bytes to ``sink``; return the rows.

    Server errors raise the same psycopg exceptions as ``cursor.execute`` would.
    """
    pgconn = conn.pgconn
    pgconn.send_query(statement.as_bytes(conn))
    result = pgconn.get_result()
    if result is None or result.status != pq.ExecStatus.COPY_OUT:
        while pgconn.get_result() is not None:
            pass
        if result is None:
            raise psycopg.OperationalError("the server sent no result for COPY")
        raise psycopg.errors.error_from_result(result, encoding=conn.info.encoding)
    buf = bytearray()
    while True:
        nbytes, data = pgconn.get_copy_data(0)  # blocking, one row per call
        if nbytes < 0:
            break
        buf += data
        if len(buf) >= CHUNK:
            sink(bytes(buf))
            buf.clear()
    if buf:
        sink(bytes(buf))
    final = pgconn.get_result()
    while pgconn.get_result() is not None:
        pass
    if final is None:
        raise psycopg.OperationalError("the server sent no final result for COPY")
    if final.status != pq.ExecStatus.COMMAND_OK:
        raise psycopg.errors.error_from_result(final, encoding=conn.info.encoding)
    status = final.command_status or b""
    return int(status.split()[-1]) if status.startswith(b"COPY ") else 0
