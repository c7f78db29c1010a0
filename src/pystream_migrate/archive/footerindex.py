"""The footer's index, read: every data entry's statistics and record places, in arrays.

A restore of 100 000 chunks reads an index item per chunk. As a ``FooterEntry`` with its
``EntryStats``, two tuples and their numbers an item took ~400 bytes; here it is a few
numbers in flat arrays (~90 bytes with its id and position), and a
:class:`~pystream_migrate.archive.format.FooterEntry` is made when one is asked for.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pystream_migrate.archive.format import EntryStats, FooterEntry, FormatViolation
from pystream_migrate.positions import Positions


class FooterIndex(Mapping[int, FooterEntry]):
    """Entry id -> :class:`FooterEntry`, in the footer's order."""

    def __init__(self) -> None:
        self._ids = array("q")  # in the footer's order
        # Entry id -> its position in the arrays: a dict while items are added, then
        # (finish) an array over the ids' range (the data section's ids are consecutive).
        self._at: dict[int, int] | None = {}
        self._positions: Positions | None = None
        # rows, raw bytes, blocks, checksum, end offset, end length: six per entry.
        self._numbers = array("Q")
        self._blocks = array("Q")  # every entry's block offsets, then its lengths
        self._block_start = array("Q", [0])  # entry i's: _blocks[start[i]:start[i + 1]]

    def add(self, entry: FooterEntry) -> None:
        """Add an entry (its id must be new). Raises :class:`FormatViolation` for a
        number beyond 64 bits."""
        self.add_entry(entry.stats, entry.block_offsets, entry.block_lengths,
                       entry.end_offset, entry.end_length)

    def add_entry(self, stats: EntryStats, block_offsets: Sequence[int],
                  block_lengths: Sequence[int], end_offset: int, end_length: int) -> None:
        """:meth:`add` of a FooterEntry's parts, without making one (the writer, for
        every entry it closes)."""
        assert self._at is not None, "FooterIndex.add after finish"
        if stats.entry_id in self._at:
            raise FormatViolation("footer index has a missing or repeated entry id")
        numbers, blocks = self._numbers, self._blocks
        had_numbers, had_blocks = len(numbers), len(blocks)
        try:
            numbers.extend((stats.rows, stats.raw_bytes, stats.blocks, stats.checksum,
                            end_offset, end_length))
            blocks.extend(block_offsets)
            blocks.extend(block_lengths)
        except BaseException as exc:
            del numbers[had_numbers:], blocks[had_blocks:]  # as it was
            if isinstance(exc, OverflowError):
                raise FormatViolation(f"footer index of entry {stats.entry_id} holds a "
                                      "number beyond 64 bits") from None
            raise
        self._at[stats.entry_id] = len(self._ids)
        self._ids.append(stats.entry_id)
        self._block_start.append(len(blocks))

    def finish(self) -> None:
        """Every item is added: the ids' positions take their compact form."""
        self._positions, self._at = Positions(self._ids), None

    def _position(self, entry_id: int) -> int | None:
        if self._at is not None:
            return self._at.get(entry_id)
        assert self._positions is not None
        return self._positions.get(entry_id)

    def _item(self, i: int) -> tuple[array[int], array[int], array[int]]:
        """Item ``i``'s six numbers (rows, raw bytes, blocks, checksum, end offset and
        length), its block offsets and its block lengths."""
        start, end = self._block_start[i], self._block_start[i + 1]
        middle = start + (end - start) // 2
        return (self._numbers[6 * i:6 * i + 6], self._blocks[start:middle],
                self._blocks[middle:end])

    def __getitem__(self, entry_id: int) -> FooterEntry:
        i = self._position(entry_id)
        if i is None:
            raise KeyError(entry_id)
        numbers, offsets, lengths = self._item(i)
        rows, raw_bytes, blocks, checksum, end_offset, end_length = numbers
        return FooterEntry(EntryStats(entry_id, rows, raw_bytes, blocks, checksum),
                           tuple(offsets), tuple(lengths), end_offset, end_length)

    def documents(self) -> Iterator[dict[str, Any]]:
        """The footer's "entries" items (its index), by ascending id, made from the
        arrays directly: through a FooterEntry each, 4101 took 25 ms of the dump's
        last step."""
        ids = self._ids
        for i in sorted(range(len(ids)), key=ids.__getitem__):
            numbers, offsets, lengths = self._item(i)
            rows, raw_bytes, blocks, checksum, end_offset, end_length = numbers
            yield {"id": ids[i], "rows": rows, "raw_bytes": raw_bytes, "blocks": blocks,
                   "checksum": checksum, "block_offsets": offsets.tolist(),
                   "block_lengths": lengths.tolist(), "end": [end_offset, end_length]}

    def raw_bytes(self, entry_id: int) -> int | None:
        """An entry's uncompressed size, or None if the index does not list it."""
        i = self._position(entry_id)
        return None if i is None else self._numbers[6 * i + 1]

    def stats(self) -> Mapping[int, EntryStats]:
        """Entry id -> its :class:`EntryStats`, made as asked for."""
        return _Stats(self)

    def __contains__(self, entry_id: object) -> bool:
        return type(entry_id) is int and self._position(entry_id) is not None

    def __iter__(self) -> Iterator[int]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)


class _Stats(Mapping[int, EntryStats]):
    __slots__ = ("_index",)

    def __init__(self, index: FooterIndex) -> None:
        self._index = index

    def __getitem__(self, entry_id: int) -> EntryStats:
        return self._index[entry_id].stats

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self._index

    def __iter__(self) -> Iterator[int]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)
