"""The PostgreSQL schema and server-side functions, as numbered migrations.

Every table is keyed by hub id first, so many hubs share one database (or one
sharded cluster) and commit in parallel; a hub's own commits are serialized by a
``FOR UPDATE`` lock on its row in ``statehub_hubs``, which keeps its revisions gap-free
and in commit order.
"""

from __future__ import annotations

__all__ = ["MIGRATIONS", "SCHEMA_VERSION"]

_APPLY = r"""
CREATE OR REPLACE FUNCTION statehub_fence(p_key text, p_value text, p_planned bigint,
                                          p_shift bigint) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN p_shift = 0 OR p_value IS NULL OR left(p_key, 7) <> '_locks/' THEN p_value
        WHEN (p_value::jsonb ->> 'fence')::bigint < p_planned THEN p_value
        ELSE jsonb_set(p_value::jsonb, '{fence}',
                       to_jsonb((p_value::jsonb ->> 'fence')::bigint + p_shift))::text
    END
$$;

-- Commit planned changes in one round trip. The client planned them on rows it read
-- (or cached) with revisions numbered from p_planned; here the hub's row is locked,
-- every row the plan read is checked to be unchanged (its modified_rev, 0 if absent),
-- and the plans are written renumbered from the hub's real next revision.
-- Returns the first revision written, -1 if a row changed (re-plan), -2 if the
-- client's clock is ahead of the database's (re-plan on the database's time).
CREATE OR REPLACE FUNCTION statehub_apply(p_hub bigint, p_planned bigint, p_ts float8,
                                          p_expect jsonb, p_plans jsonb) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_head bigint;
    v_shift bigint;
    v_plan jsonb;
    v_count int := 0;
BEGIN
    SELECT head INTO v_head FROM statehub_hubs WHERE id = p_hub FOR UPDATE;
    IF p_ts > extract(epoch FROM clock_timestamp()) + 1.0 THEN
        RETURN -2;
    END IF;
    IF EXISTS (
        SELECT 1 FROM jsonb_each_text(p_expect) AS x(k, rev)
        LEFT JOIN statehub_entries e ON e.hub = p_hub AND e.key = x.k
        WHERE coalesce(e.modified_rev, 0) <> x.rev::bigint
    ) THEN
        RETURN -1;
    END IF;
    v_shift := v_head + 1 - p_planned;
    FOR v_plan IN SELECT value FROM jsonb_array_elements(p_plans) LOOP
        DELETE FROM statehub_entries
        WHERE hub = p_hub AND key IN (SELECT jsonb_array_elements_text(v_plan -> 'deletes'));
        INSERT INTO statehub_entries AS e (hub, key, value, version, created_rev, modified_rev,
                                           updated_by, updated_ts, expires_ts, owner, patch_bytes)
        SELECT p_hub, w ->> 0, statehub_fence(w ->> 0, w ->> 1, p_planned, v_shift)::json,
               (w ->> 2)::int,
               CASE WHEN (w ->> 3)::bigint >= p_planned THEN (w ->> 3)::bigint + v_shift
                    ELSE (w ->> 3)::bigint END,
               (w ->> 4)::bigint + v_shift, w ->> 5, (w ->> 6)::float8, (w ->> 7)::float8,
               w ->> 8, (w ->> 9)::int
        FROM jsonb_array_elements(v_plan -> 'writes') AS w
        ON CONFLICT (hub, key) DO UPDATE SET
            value = excluded.value, version = excluded.version,
            created_rev = excluded.created_rev, modified_rev = excluded.modified_rev,
            updated_by = excluded.updated_by, updated_ts = excluded.updated_ts,
            expires_ts = excluded.expires_ts, owner = excluded.owner,
            patch_bytes = excluded.patch_bytes;
        INSERT INTO statehub_changes (hub, revision, key, op, agent, ts, label, prev_version,
                                      version, patch, value, cause)
        SELECT p_hub, v_head + 1 + v_count, c ->> 0, c ->> 1, v_plan ->> 'agent', p_ts,
               c ->> 2, (c ->> 3)::int, (c ->> 4)::int, (c ->> 5)::json,
               statehub_fence(c ->> 0, c ->> 6, p_planned, v_shift)::json, (c ->> 7)::json
        FROM jsonb_array_elements(v_plan -> 'changes') AS c;
        v_count := v_count + 1;
    END LOOP;
    UPDATE statehub_hubs SET head = v_head + v_count WHERE id = p_hub;
    PERFORM pg_notify('statehub_' || p_hub, (v_head + v_count)::text);
    RETURN v_head + 1;
END
$$;
"""

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE statehub_hubs (
            id bigserial PRIMARY KEY,
            name text NOT NULL UNIQUE,
            head bigint NOT NULL DEFAULT 0,
            oldest bigint NOT NULL DEFAULT 0,
            created_at timestamptz NOT NULL DEFAULT now()
        )""",
        """CREATE TABLE statehub_entries (
            hub bigint NOT NULL REFERENCES statehub_hubs (id),
            key text COLLATE "C" NOT NULL,
            value json NOT NULL,
            version integer NOT NULL,
            created_rev bigint NOT NULL,
            modified_rev bigint NOT NULL,
            updated_by text NOT NULL,
            updated_ts float8 NOT NULL,
            expires_ts float8,
            owner text,
            patch_bytes integer NOT NULL DEFAULT 0,
            PRIMARY KEY (hub, key)
        )""",
        """CREATE INDEX statehub_entries_by_expiry ON statehub_entries (hub, expires_ts)
            WHERE expires_ts IS NOT NULL""",
        """CREATE TABLE statehub_changes (
            hub bigint NOT NULL REFERENCES statehub_hubs (id),
            revision bigint NOT NULL,
            key text COLLATE "C" NOT NULL,
            op text NOT NULL,
            agent text NOT NULL,
            ts float8 NOT NULL,
            label text,
            prev_version integer NOT NULL,
            version integer NOT NULL,
            patch json,
            value json,
            cause json,
            PRIMARY KEY (hub, revision, key)
        )""",
        "CREATE INDEX statehub_changes_by_key ON statehub_changes (hub, key, revision)",
        _APPLY,
    ),
)
"""Entry ``n`` takes the schema from version ``n`` to ``n + 1``."""

SCHEMA_VERSION = len(MIGRATIONS)
"""The schema version this release writes (table ``statehub_migrations``)."""
