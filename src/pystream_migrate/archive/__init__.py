"""The streaming archive: a sequential, checksummed, zstd-compressed container.

The byte layout is specified in ``docs/archive-format.md``. :class:`ArchiveWriter` writes
it (from several threads at once); :class:`ArchiveReader` reads it sequentially (pipes) or
by random access (regular files).
"""

from pystream_migrate.archive.format import (
    DEFAULT_BLOCK_SIZE,
    FORMAT_VERSION,
    EntryStats,
    StreamEvent,
)
from pystream_migrate.archive.reader import ArchiveReader
from pystream_migrate.archive.writer import ArchiveWriter, EntryWriter, open_output

__all__ = [
    "DEFAULT_BLOCK_SIZE",
    "FORMAT_VERSION",
    "ArchiveReader",
    "ArchiveWriter",
    "EntryStats",
    "EntryWriter",
    "StreamEvent",
    "open_output",
]
