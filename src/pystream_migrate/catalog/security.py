"""Owner, comment and privilege statements for any object, kept apart from its DDL.

Restore leaves owners out with ``--no-owner`` and privileges out with
``--no-privileges``; that is why these live in their own TocEntry fields.
"""

from __future__ import annotations

import re

from pystream_migrate.catalog.names import ident, literal

# The keyword GRANT uses for an object kind, when it differs from the kind itself.
_GRANT_KIND = {
    "VIEW": "TABLE",
    "MATERIALIZED VIEW": "TABLE",
    "FOREIGN TABLE": "TABLE",
    "PARTITIONED TABLE": "TABLE",
    "PROCEDURE": "PROCEDURE",
    "AGGREGATE": "FUNCTION",
    "DOMAIN": "DOMAIN",
    "SERVER": "FOREIGN SERVER",
}

# aclitem privilege letters and the keyword each stands for.
_PRIVS = {
    "r": "SELECT",
    "a": "INSERT",
    "w": "UPDATE",
    "d": "DELETE",
    "D": "TRUNCATE",
    "x": "REFERENCES",
    "t": "TRIGGER",
    "X": "EXECUTE",
    "U": "USAGE",
    "C": "CREATE",
    "c": "CONNECT",
    "T": "TEMPORARY",
    "s": "SET",
    "A": "ALTER SYSTEM",
    "m": "MAINTAIN",
}

_ACLITEM = re.compile(
    r'^(?P<grantee>(?:"(?:[^"]|"")*"|[^=]*))=(?P<privs>[A-Za-z*]*)/(?P<grantor>.*)$'
)


def owner_sql(sql_kind: str, obj: str, owner: str | None) -> str:
    """``ALTER <kind> <obj> OWNER TO <owner>;`` (``obj`` is already quoted SQL)."""
    if not owner:
        return ""
    return f"ALTER {sql_kind} {obj} OWNER TO {ident(owner)};"


def comment_sql(sql_kind: str, obj: str, comment: str | None) -> str:
    """``COMMENT ON <kind> <obj> IS '...';`` or nothing when there is no comment."""
    if comment is None:
        return ""
    return f"COMMENT ON {sql_kind} {obj} IS {literal(comment)};"


def _unquote_role(text: str) -> str:
    if text.startswith('"') and text.endswith('"'):
        return text[1:-1].replace('""', '"')
    return text


def parse_aclitem(item: str) -> tuple[str, list[tuple[str, bool]], str]:
    """``grantee=privs/grantor`` -> (grantee or "" for PUBLIC, [(keyword, grantable)], grantor)."""
    m = _ACLITEM.match(item)
    if not m:
        raise ValueError(f"unexpected aclitem: {item!r}")
    privs: list[tuple[str, bool]] = []
    letters = m.group("privs")
    i = 0
    while i < len(letters):
        letter = letters[i]
        grantable = i + 1 < len(letters) and letters[i + 1] == "*"
        privs.append((_PRIVS[letter], grantable))
        i += 2 if grantable else 1
    return _unquote_role(m.group("grantee")), privs, _unquote_role(m.group("grantor"))


def acl_sql(
    sql_kind: str,
    obj: str,
    owner: str | None,
    acl: list[str] | None,
    *,
    column: str | None = None,
) -> str:
    """GRANT/REVOKE statements that give ``obj`` exactly the privileges in ``acl``.

    ``acl`` is the object's aclitem[] as text; NULL means "the default", which needs no
    statement. Otherwise everything is first revoked from PUBLIC and the owner, then each
    grant is made again, so the result is the same array whatever the target's defaults.
    With ``column``, the statements are column privileges (``GRANT SELECT (col) ON ...``).
    """
    if acl is None:
        return ""
    kind = _GRANT_KIND.get(sql_kind, sql_kind)
    target = f"{kind} {obj}" if kind != "TABLE" or column is None else f"TABLE {obj}"
    cols = f" ({ident(column)})" if column else ""
    out: list[str] = []
    if column is None:
        out.append(f"REVOKE ALL ON {target} FROM PUBLIC;")
        if owner:
            out.append(f"REVOKE ALL ON {target} FROM {ident(owner)};")
    for item in acl:
        grantee, privs, _grantor = parse_aclitem(item)
        who = "PUBLIC" if grantee == "" else ident(grantee)
        plain = [p for p, g in privs if not g]
        grantable = [p for p, g in privs if g]
        for group, suffix in ((plain, ""), (grantable, " WITH GRANT OPTION")):
            if group:
                privlist = ", ".join(f"{p}{cols}" for p in group)
                out.append(f"GRANT {privlist} ON {target} TO {who}{suffix};")
    return "\n".join(out)
