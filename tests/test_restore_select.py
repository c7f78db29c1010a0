"""Which entries a restore's options select (no server)."""

from __future__ import annotations

from pystream_migrate.restore.options import RestoreOptions, select
from pystream_migrate.toc import Section, TocEntry


def entries() -> list[TocEntry]:
    return [TocEntry("TABLE", "s", "t", Section.PRE_DATA, id=1),
            TocEntry("TABLE DATA", "s", "t", Section.DATA, id=2),
            TocEntry("INDEX", "s", "i", Section.POST_DATA, id=3)]


def test_no_option_selects_every_entry_without_a_set_of_every_id() -> None:
    chosen = select(entries(), RestoreOptions(dsn="", file=""))
    assert all(i in chosen for i in (1, 2, 3))
    assert not isinstance(chosen, set)  # 300 000 ids would take ~20 MB


def test_sections_still_narrow_the_selection() -> None:
    chosen = select(entries(), RestoreOptions(dsn="", file="", sections=["data"]))
    assert 2 in chosen and 1 not in chosen and 3 not in chosen
