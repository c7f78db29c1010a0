"""TimescaleDB's relation roles in arrays: every row reads back as it came (no server)."""

from __future__ import annotations

from typing import Any

import pytest

from pystream_migrate.relroles import RelationRoles


def _chunk(relid: int, ht_relid: int = 100, state: int = 0) -> dict[str, Any]:
    return {"relid": relid, "role": "chunk", "hypertable_id": 1, "hypertable_relid": ht_relid,
            "compression_state": state, "internal": None, "compresses": None}


def test_every_row_reads_back_and_only_chunks_are_chunk_relids() -> None:
    rows = [
        {"relid": 100, "role": "hypertable", "hypertable_id": 1, "hypertable_relid": None,
         "compression_state": 1, "internal": None, "compresses": None},
        {"relid": 200, "role": "hypertable", "hypertable_id": 2, "hypertable_relid": None,
         "compression_state": 2, "internal": "compressed", "compresses": 100},
        _chunk(5003, state=1), _chunk(4001), _chunk(90_000_000_000, ht_relid=200, state=2),
        _chunk(4500),
    ]
    roles = RelationRoles(iter(rows))
    assert len(roles) == len(rows)
    assert {relid: roles[relid] for relid in roles} == {r["relid"]: r for r in rows}
    assert dict(roles.items()) == {r["relid"]: r for r in rows}
    assert sorted(roles.chunk_relids()) == [4001, 4500, 5003, 90_000_000_000]
    assert roles.get(4002) is None and roles.get(99) is None and 4500 in roles
    assert roles.get(4002, "none") == "none" and roles.get(200) == rows[1]
    assert all(roles.get(r["relid"]) == r for r in rows)
    assert dict(roles.others()) == {100: rows[0], 200: rows[1]}
    with pytest.raises(KeyError):
        roles[6000]
    assert RelationRoles(()).chunk_relids() == [] and len(RelationRoles(())) == 0
