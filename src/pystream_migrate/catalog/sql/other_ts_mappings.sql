-- Token type -> dictionary list mappings of the given text search configurations, with
-- the token type's name from its parser.
SELECT m.mapcfg::bigint AS cfg_oid,
       m.maptokentype AS tokentype,
       pg_catalog.quote_ident(tt.alias) AS token,
       pg_catalog.string_agg(
         pg_catalog.quote_ident(dn.nspname) || '.' || pg_catalog.quote_ident(d.dictname),
         ', ' ORDER BY m.mapseqno) AS dictionaries
FROM pg_catalog.pg_ts_config_map m
JOIN pg_catalog.pg_ts_config c ON c.oid = m.mapcfg
JOIN pg_catalog.pg_ts_dict d ON d.oid = m.mapdict
JOIN pg_catalog.pg_namespace dn ON dn.oid = d.dictnamespace
CROSS JOIN LATERAL pg_catalog.ts_token_type(c.cfgparser) tt
WHERE m.mapcfg = ANY (%(configs)s::oid[])
  AND tt.tokid = m.maptokentype
GROUP BY m.mapcfg, m.maptokentype, tt.alias
ORDER BY 1, 2
