"""Collations created by users (CREATE COLLATION with provider, locale, determinism)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pystream_migrate.catalog.entries import object_entry
from pystream_migrate.catalog.names import ident, literal
from pystream_migrate.toc import TocEntry

if TYPE_CHECKING:
    from pystream_migrate.catalog import CatalogContext

_PROVIDERS = {"c": "libc", "i": "icu", "b": "builtin"}


def collect(ctx: CatalogContext) -> list[TocEntry]:
    entries = []
    for r in ctx.query("collations"):
        options = collation_options(r)
        if options is None:
            ctx.report_unsupported("COLLATION", r["schema"], r["name"],
                                   f"unknown collation provider {r['provider']!r}")
            continue
        name = ident(r["schema"], r["name"])
        entries.append(object_entry(
            "COLLATION", r["schema"], r["name"], name,
            f"CREATE COLLATION {name} ({', '.join(options)});",
            owner=r["owner"], comment=r["comment"],
            objects=[("pg_collation", int(r["oid"]))],
        ))
    return entries


def collation_options(r: dict[str, Any]) -> list[str] | None:
    """The option list of CREATE COLLATION for one pg_collation row, or None if unknown."""
    provider = _PROVIDERS.get(r["provider"])
    if provider is None:
        return None
    options = [f"provider = {provider}"]
    if provider == "libc":
        if r["lc_collate"] == r["lc_ctype"]:
            options.append(f"locale = {literal(r['lc_collate'] or '')}")
        else:
            options.append(f"lc_collate = {literal(r['lc_collate'] or '')}")
            options.append(f"lc_ctype = {literal(r['lc_ctype'] or '')}")
    else:
        # Before PostgreSQL 15 an ICU locale was kept in collcollate.
        options.append(f"locale = {literal(r['locale'] or r['lc_collate'] or '')}")
    if not r["deterministic"]:
        options.append("deterministic = false")
    if r["icu_rules"] is not None:
        options.append(f"rules = {literal(r['icu_rules'])}")
    return options
