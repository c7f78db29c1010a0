"""What TimescaleDB says each relation is (hypertable, chunk), kept for the whole dump.

The dump reads it before the catalog (chunks are not locked one by one) and uses it
after (annotate, portable mode), so it is held through the catalog's peak. At 100 000
chunks, a compact mapping per row still took ~170 bytes a chunk (17 MB). A chunk's row
is four numbers (its relid, its hypertable's id and relid, the compression state):
:class:`RelationRoles` keeps those in arrays sorted by relid, ~26 bytes a chunk, and
the few hypertables' rows as they are. A row is made into a dict when asked for.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

_CHUNK_FIELDS = ("relid", "hypertable_id", "hypertable_relid", "compression_state")


class RelationRoles(Mapping[int, dict[str, Any]]):
    """relid -> {'role': 'hypertable'|'chunk', 'hypertable_id', 'hypertable_relid',
    'compression_state', 'internal', 'compresses'} (timescale_relations.sql's rows)."""

    def __init__(self, rows: Iterable[Mapping[str, Any]]) -> None:
        self._other: dict[int, dict[str, Any]] = {}
        chunks: list[array[int]] = [array("q") for _ in _CHUNK_FIELDS]
        for r in rows:
            if self._is_plain_chunk(r):
                for column, name in zip(chunks, _CHUNK_FIELDS, strict=True):
                    column.append(int(r[name]))
            else:
                self._other[int(r["relid"])] = dict(r)
        order = sorted(range(len(chunks[0])), key=chunks[0].__getitem__)
        self._relid, self._ht_id, self._ht_relid, self._state = (
            array("q", (column[i] for i in order)) for column in chunks)

    @staticmethod
    def _is_plain_chunk(r: Mapping[str, Any]) -> bool:
        return (r["role"] == "chunk" and r.get("internal") is None
                and r.get("compresses") is None
                and all(r.get(name) is not None for name in _CHUNK_FIELDS))

    def others(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """The rows of every relation but the plain chunks (hypertables, compressed
        chunks' companions, internal hypertables), by relid."""
        return iter(self._other.items())

    def chunk_relids(self) -> list[int]:
        """The relids of every chunk."""
        return list(self._relid) + [relid for relid, r in self._other.items()
                                    if r["role"] == "chunk"]

    def _chunk(self, at: int) -> dict[str, Any]:
        return {"relid": self._relid[at], "role": "chunk",
                "hypertable_id": self._ht_id[at], "hypertable_relid": self._ht_relid[at],
                "compression_state": self._state[at], "internal": None, "compresses": None}

    def get(self, relid: int, default: Any = None) -> Any:  # type: ignore[override]
        """As Mapping.get, without raising and catching KeyError for every relation that
        is not TimescaleDB's (annotate asks for every table)."""
        found = self._other.get(relid)
        if found is not None:
            return found
        at = bisect.bisect_left(self._relid, relid)
        if at < len(self._relid) and self._relid[at] == relid:
            return self._chunk(at)
        return default

    def __getitem__(self, relid: int) -> dict[str, Any]:
        found: dict[str, Any] | None = self.get(relid)
        if found is None:
            raise KeyError(relid)
        return found

    def __iter__(self) -> Iterator[int]:
        yield from self._other
        yield from self._relid

    def __len__(self) -> int:
        return len(self._other) + len(self._relid)
