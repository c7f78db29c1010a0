"""A catalog query's rows kept in an unnamed temporary file, read back as often as asked.

The tables and indexes queries return a row per chunk: at 100 000 chunks libpq holds
their results as some 52 and 70 MB (500-700 bytes a row), and a helper
(:mod:`.prefetch`) reads them ahead, so both were held whole while the tables' entries
were built. Freed, they also left the C heap full of holes that later allocations
touched again. :class:`SpilledRows` takes the rows as they stream in (libpq never
holds the whole result), pickles them a batch at a time into a file (about half their
size in libpq) and gives them back as dicts, one batch in memory at a time; the file
goes away when it is closed, or with the process.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

from pystream_migrate.catalog.queries import each_row
from pystream_migrate.errors import temp_file_failed

# Rows per pickled batch: one pickle call per row costs more than the rows' encoding;
# a batch of catalog rows is a few hundred kB.
SPILL_BATCH = 1000


class SpilledRows:
    """The rows of a query (a stream or an executed cursor, which it closes), in a file.

    Each iteration reads every row again, from the first, as dicts. A context manager:
    leaving it closes (and so removes) the file.
    """

    def __init__(self, rows: Iterable[dict[str, Any]]) -> None:
        self._keys: tuple[str, ...] = ()
        self._batches = 0
        self.count = 0
        batch: list[tuple[Any, ...]] = []
        try:
            # Open as long as the rows are read: closed by close() or the context manager.
            self._file = tempfile.TemporaryFile(prefix="pystream-migrate-rows-")  # noqa: SIM115
        except OSError as exc:
            close = getattr(rows, "close", None)
            if close is not None:  # a cursor's result, a stream's query: let go
                close()
            raise temp_file_failed(exc, "the catalog's rows") from None
        try:
            for row in each_row(rows):
                if not self._keys:
                    self._keys = tuple(row)
                batch.append(tuple(row.values()))
                if len(batch) == SPILL_BATCH:
                    self._write(batch)
                    batch = []
            if batch:
                self._write(batch)
            self._file.flush()
        except OSError as exc:
            self._file.close()
            raise temp_file_failed(exc, "the catalog's rows") from None
        except BaseException:
            self._file.close()
            raise

    def _write(self, batch: list[tuple[Any, ...]]) -> None:
        pickle.dump(batch, self._file, protocol=pickle.HIGHEST_PROTOCOL)
        self._batches += 1
        self.count += len(batch)

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self._file.seek(0)
        keys = self._keys
        for _ in range(self._batches):
            # Our own file, written just now by this process: nothing else can write it.
            for values in pickle.load(self._file):
                yield dict(zip(keys, values, strict=True))

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> SpilledRows:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
