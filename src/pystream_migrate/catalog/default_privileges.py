"""Default privileges (pg_default_acl) as ALTER DEFAULT PRIVILEGES statements.

Each row becomes the statements that turn its starting point into exactly its
``defaclacl``: for a global row the built-in default of the object type
(``acldefault``), which may need REVOKEs as well as GRANTs; for a per-schema row
nothing, so GRANTs only. The statements are privileges, so they live in ``acl_sql``
(left out with --no-privileges), and in post-data like pg_dump: objects restored
earlier must not pick up the defaults.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pystream_migrate.catalog.names import ident
from pystream_migrate.catalog.security import parse_aclitem
from pystream_migrate.toc import Section, TocEntry

if TYPE_CHECKING:
    from pystream_migrate.catalog import CatalogContext

# pg_default_acl.defaclobjtype -> the object class keyword of ALTER DEFAULT PRIVILEGES.
OBJECT_TYPES = {
    "r": "TABLES",
    "S": "SEQUENCES",
    "f": "FUNCTIONS",
    "T": "TYPES",
    "n": "SCHEMAS",
    "L": "LARGE OBJECTS",
}

Privs = dict[str, bool]  # privilege keyword -> grantable


def collect(ctx: CatalogContext) -> list[TocEntry]:
    entries = []
    for r in ctx.query("default_privileges"):
        objects = OBJECT_TYPES.get(r["objtype"])
        if objects is None:
            ctx.report_unsupported(
                "DEFAULT ACL", r["schema"], f"FOR ROLE {r['role']}",
                f"unknown default privilege object type {r['objtype']!r}")
            continue
        entries.append(TocEntry(
            kind="DEFAULT ACL",
            schema=r["schema"],
            name=f"DEFAULT PRIVILEGES FOR {objects} (ROLE {r['role']})",
            section=Section.POST_DATA,
            owner=r["role"],
            acl_sql=default_acl_sql(r["role"], r["schema"], objects,
                                    r["base_acl"] or [], r["acl"] or []),
            objects=[("pg_default_acl", int(r["oid"]))],
        ))
    return entries


def _by_grantee(acl: list[str]) -> dict[str, Privs]:
    out: dict[str, Privs] = {}
    for item in acl:
        grantee, privs, _grantor = parse_aclitem(item)
        mine = out.setdefault(grantee, {})
        for priv, grantable in privs:
            mine[priv] = mine.get(priv, False) or grantable
    return out


def default_acl_sql(role: str, schema: str | None, objects: str,
                    base: list[str], acl: list[str]) -> str:
    """ALTER DEFAULT PRIVILEGES statements turning ``base`` into ``acl``.

    A grantee whose privileges differ loses everything it had in ``base`` and is granted
    exactly what ``acl`` gives it (grantable privileges WITH GRANT OPTION).
    """
    prefix = f"ALTER DEFAULT PRIVILEGES FOR ROLE {ident(role)}"
    if schema is not None:
        prefix += f" IN SCHEMA {ident(schema)}"
    before = _by_grantee(base)
    after = _by_grantee(acl)
    out: list[str] = []
    for grantee in sorted(before.keys() | after.keys()):
        old = before.get(grantee, {})
        new = after.get(grantee, {})
        if old == new:
            continue
        who = "PUBLIC" if grantee == "" else ident(grantee)
        if old:
            out.append(f"{prefix} REVOKE ALL ON {objects} FROM {who};")
        plain = [p for p, g in new.items() if not g]
        grantable = [p for p, g in new.items() if g]
        if plain:
            out.append(f"{prefix} GRANT {', '.join(plain)} ON {objects} TO {who};")
        if grantable:
            out.append(f"{prefix} GRANT {', '.join(grantable)} ON {objects} TO {who} "
                       "WITH GRANT OPTION;")
    return "\n".join(out)
