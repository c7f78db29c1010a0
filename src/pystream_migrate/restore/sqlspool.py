"""The restore's TOC entries read with their SQL text in a
:class:`~pystream_migrate.sqlspool.SqlSpool` and a compact ``info``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from pystream_migrate.compactinfo import compactor
from pystream_migrate.sqlspool import SpooledTocEntry, SqlSpool
from pystream_migrate.toc import Strings, TocEntry


def entry_reader(*, drop_sql: bool = True,
                 spool: SqlSpool | None = None) -> Callable[[dict[str, Any]], TocEntry]:
    """Like :func:`pystream_migrate.toc.entry_reader`, with each entry's SQL in ``spool``
    (a new one if not given; it lives as long as the entries do) and its ``info`` a
    compact :class:`~pystream_migrate.compactinfo.Info`."""
    strings = Strings()
    target = spool or SqlSpool()
    compact = compactor()

    def read(d: dict[str, Any]) -> TocEntry:
        e = SpooledTocEntry.from_json(d, strings, drop_sql=drop_sql)
        assert isinstance(e, SpooledTocEntry)
        e.spool_out(target)
        e.info = cast(dict[str, Any], compact(e.info))
        return e

    return read
