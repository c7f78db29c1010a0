"""A catalog query's rows kept in an unnamed temporary file, read back as often as asked.

The tables and indexes queries return a row per chunk: at 100 000 chunks libpq holds
their results as some 52 and 70 MB (500-700 bytes a row), and a helper
(:mod:`.prefetch`) reads them ahead, so both were held whole while the tables' entries
were built. Freed, they also left the C heap full of holes that later allocations
touched again. :class:`SpilledRows` takes the rows as they stream in (libpq never
holds the whole result), pickles them a batch at a time into a file (about half their
size in libpq) and gives them back as dicts, one batch in memory at a time; the file
goes away when it is closed, or with the process. A result of a few thousand rows
stays in memory as tuples: the file would cost more time than it saves memory.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Iterator
from typing import IO, Any

from pystream_migrate.catalog.queries import Tuples, each_row
from pystream_migrate.errors import temp_file_failed

# Rows per pickled batch: one pickle call per row costs more than the rows' encoding;
# a batch of catalog rows is a few hundred kB.
SPILL_BATCH = 1000
# Rows held in memory before any goes to the file (then all do): pickling and reading
# back 4 000 chunks' tables and indexes rows took 0.2 s of the dump's 3.3 s on the
# 4 000-chunk benchmark (py-spy, session 7), for 2 x ~2.5 MB saved; 20 000 rows are
# ~12 MB as tuples, and at 100 000 chunks they go to the file with the rest.
SPILL_AFTER = 20_000


class SpilledRows:
    """The rows of a query (:class:`~.queries.Tuples`, which it reads to the end), in a
    file once there are more than ``hold`` of them, else in memory as tuples.

    Each iteration reads every row again, from the first, as dicts. A context manager:
    leaving it closes (and so removes) the file.
    """

    def __init__(self, rows: Tuples, hold: int = SPILL_AFTER) -> None:
        self._keys: tuple[str, ...] = rows.names
        self._held: list[list[tuple[Any, ...]]] = []  # batches not in the file
        self._hold = hold
        self._batches = 0  # in the file
        self._file: IO[bytes] | None = None
        self.count = 0
        batch: list[tuple[Any, ...]] = []
        try:
            for row in each_row(rows.rows):
                batch.append(row)
                if len(batch) == SPILL_BATCH:
                    self._keep(batch)
                    batch = []
            if batch:
                self._keep(batch)
            if self._file is not None:
                self._file.flush()
        except OSError as exc:
            self.close()
            raise temp_file_failed(exc, "the catalog's rows") from None
        except BaseException:
            self.close()
            raise

    def _keep(self, batch: list[tuple[Any, ...]]) -> None:
        self.count += len(batch)
        if self._file is None:
            if self.count <= self._hold:
                self._held.append(batch)
                return
            # Open as long as the rows are read: closed by close() or the context manager.
            self._file = tempfile.TemporaryFile(prefix="pystream-migrate-rows-")  # noqa: SIM115
        for held in self._held:
            self._write(held)
        self._held = []
        self._write(batch)

    def _write(self, batch: list[tuple[Any, ...]]) -> None:
        assert self._file is not None
        pickle.dump(batch, self._file, protocol=pickle.HIGHEST_PROTOCOL)
        self._batches += 1

    @property
    def spilled(self) -> bool:
        """Whether the rows are in a file."""
        return self._file is not None

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[dict[str, Any]]:
        keys = self._keys
        for batch in self._each_batch():
            for values in batch:
                yield dict(zip(keys, values, strict=True))

    def columns(self, *names: str) -> Iterator[tuple[Any, ...]]:
        """Each row's values of ``names`` (in that order), from the first row: for a
        reading that needs a few columns, no dict per row."""
        at = [self._keys.index(name) for name in names] if self.count else []
        for batch in self._each_batch():
            for values in batch:
                yield tuple(values[i] for i in at)

    def _each_batch(self) -> Iterator[list[tuple[Any, ...]]]:
        if self._file is None:
            yield from self._held
            return
        self._file.seek(0)
        for _ in range(self._batches):
            # Our own file, written just now by this process: nothing else can write it.
            yield pickle.load(self._file)

    def close(self) -> None:
        self._held = []
        if self._file is not None:
            self._file.close()

    def __enter__(self) -> SpilledRows:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
