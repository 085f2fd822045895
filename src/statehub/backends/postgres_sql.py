"""The PostgreSQL schema and server-side functions, as numbered migrations.

Every table is keyed by hub id first, so many hubs share one database (or one
sharded cluster) and commit in parallel; a hub's own commits are serialized by a
``FOR UPDATE`` lock on its row in ``statehub_hubs``, which keeps its revisions gap-free
and in commit order.
"""

from __future__ import annotations

__all__ = ["FUNCTIONS", "MIGRATIONS", "SCHEMA_VERSION"]

FUNCTIONS = r"""
-- The lock that serializes one hub's commits (an advisory lock: no row is rewritten).
CREATE OR REPLACE FUNCTION statehub_lock(p_hub bigint) RETURNS void
LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock(hashtext('statehub hub'), p_hub::int)
$$;

-- The hub's head revision: every commit logs a change and compaction keeps the newest.
CREATE OR REPLACE FUNCTION statehub_head(p_hub bigint) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT coalesce(max(revision), 0) FROM statehub_changes WHERE hub = p_hub
$$;

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
-- (or cached) with revisions numbered from p_planned; here the hub's lock is taken,
-- every row the plan read is checked to be unchanged (its modified_rev, 0 if absent),
-- and the plans are written renumbered from the hub's real next revision, which is
-- returned. Raises SQLSTATE SH001 if a row changed and SH002 if the client's clock is
-- ahead of the database's (re-plan on fresh rows and the database's time); the
-- raise undoes the whole call.
CREATE OR REPLACE FUNCTION statehub_apply(
    p_hub bigint, p_planned bigint, p_ts float8, p_count int,
    x_keys text[], x_revs bigint[],
    w_keys text[], w_values text[], w_versions int[], w_created bigint[], w_modified bigint[],
    w_by text[], w_ts float8[], w_expires float8[], w_owners text[], w_patch_bytes int[],
    d_keys text[],
    c_offsets int[], c_keys text[], c_ops text[], c_agents text[], c_labels text[],
    c_prev int[], c_versions int[], c_patches text[], c_values text[], c_causes text[]
) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_first bigint;
    v_shift bigint;
BEGIN
    -- This hub's commits queue on its advisory lock; every statement after this one
    -- sees every commit made before, so the log's largest revision is the head.
    PERFORM statehub_lock(p_hub);
    v_first := statehub_head(p_hub) + 1;
    IF p_ts > extract(epoch FROM clock_timestamp()) + 1.0 THEN
        RAISE EXCEPTION 'statehub: clock ahead' USING ERRCODE = 'SH002';
    END IF;
    IF EXISTS (
        SELECT 1 FROM unnest(x_keys, x_revs) AS x(k, rev)
        LEFT JOIN statehub_entries e ON e.hub = p_hub AND e.key = x.k
        WHERE coalesce(e.modified_rev, 0) <> x.rev
    ) THEN
        RAISE EXCEPTION 'statehub: rows changed' USING ERRCODE = 'SH001';
    END IF;
    v_shift := v_first - p_planned;
    WITH removed AS (
        DELETE FROM statehub_entries WHERE hub = p_hub AND key = ANY(d_keys)
    ), written AS (
        INSERT INTO statehub_entries AS e (hub, key, value, version, created_rev, modified_rev,
                                           updated_by, updated_ts, expires_ts, owner, patch_bytes)
        SELECT p_hub, w.key,
               (CASE WHEN v_shift = 0 THEN w.value
                     ELSE statehub_fence(w.key, w.value, p_planned, v_shift) END)::json,
               w.version,
               CASE WHEN w.created >= p_planned THEN w.created + v_shift ELSE w.created END,
               w.modified + v_shift, w.by, w.ts, w.expires, w.owner, w.patch_bytes
        FROM unnest(w_keys, w_values, w_versions, w_created, w_modified, w_by, w_ts,
                    w_expires, w_owners, w_patch_bytes)
             AS w(key, value, version, created, modified, by, ts, expires, owner, patch_bytes)
        ON CONFLICT (hub, key) DO UPDATE SET
            value = excluded.value, version = excluded.version,
            created_rev = excluded.created_rev, modified_rev = excluded.modified_rev,
            updated_by = excluded.updated_by, updated_ts = excluded.updated_ts,
            expires_ts = excluded.expires_ts, owner = excluded.owner,
            patch_bytes = excluded.patch_bytes
    )
    INSERT INTO statehub_changes (hub, revision, key, op, agent, ts, label, prev_version,
                                  version, patch, value, cause)
    SELECT p_hub, v_first + c.offset_, c.key, c.op, c.agent, p_ts, c.label, c.prev, c.version,
           c.patch::json,
           (CASE WHEN v_shift = 0 THEN c.value
                 ELSE statehub_fence(c.key, c.value, p_planned, v_shift) END)::json,
           c.cause::json
    FROM unnest(c_offsets, c_keys, c_ops, c_agents, c_labels, c_prev, c_versions, c_patches,
                c_values, c_causes)
         AS c(offset_, key, op, agent, label, prev, version, patch, value, cause);
    PERFORM pg_notify('statehub_' || p_hub, (v_first + p_count - 1)::text);
    RETURN v_first;
END
$$;
"""
"""Server-side functions. They are code, not schema: every open re-creates them
(``CREATE OR REPLACE``, under the migration lock), so a release's own versions run."""

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
    ),
    # The head is the log's largest revision now (see statehub_head): no counter row
    # rewritten at every commit.
    ("ALTER TABLE statehub_hubs DROP COLUMN head",),
)
"""Entry ``n`` takes the schema from version ``n`` to ``n + 1``."""

SCHEMA_VERSION = len(MIGRATIONS)
"""The schema version this release writes (table ``statehub_migrations``)."""
