"""The PostgreSQL schema and server-side functions, as numbered migrations.

Every table is keyed by hub id first, so many hubs share one database (or one
sharded cluster) and commit in parallel; a hub's own commits are serialized by a lock
on its row in ``statehub_hubs``, whose ``head`` they advance, which keeps its revisions
gap-free and in commit order.
"""

from __future__ import annotations

__all__ = ["FAST_APPLY", "FAST_APPLY_ONE", "FUNCTIONS", "MIGRATIONS", "SCHEMA_VERSION"]

_HUB_LOCK = "FROM statehub_hubs WHERE id = p_hub FOR UPDATE"
"""The lock that serializes hub ``p_hub``'s commits: its row, whose ``head`` they advance."""

_HEAD = "coalesce(max(revision), 0) FROM statehub_changes WHERE hub = p_hub"
"""Hub ``p_hub``'s head revision: every commit logs a change, compaction keeps the newest."""

_WATCH_CLASS = "hashtext('statehub watch')"
_WATCH_KEY = f"{_WATCH_CLASS}, p_hub::int"
"""The advisory lock key a session holds (shared) while it listens for hub ``p_hub``."""


def _writes(entries: str, changes: str) -> str:
    """CTEs upserting the entries ``entries`` selects, logging the rows ``changes`` selects.

    Both select their table's columns in order.
    """
    return f"""written AS (
        INSERT INTO statehub_entries AS e (hub, key, value, version, created_rev, modified_rev,
                                           updated_by, updated_ts, expires_ts, owner, patch_bytes)
        {entries}
        ON CONFLICT (hub, key) DO UPDATE SET
            value = excluded.value, version = excluded.version,
            created_rev = excluded.created_rev, modified_rev = excluded.modified_rev,
            updated_by = excluded.updated_by, updated_ts = excluded.updated_ts,
            expires_ts = excluded.expires_ts, owner = excluded.owner,
            patch_bytes = excluded.patch_bytes
    ), logged AS (
        INSERT INTO statehub_changes (hub, revision, key, op, agent, ts, label, prev_version,
                                      version, patch, value, cause)
        {changes}
    )"""


def _json_writes(**names: str) -> str:
    """:func:`_writes` of a plan's rows and log rows given as JSON arrays.

    The rows are ``writes`` and ``changes``, written once per row of ``source``,
    renumbered by ``shift`` from revision ``planned`` (0: as planned); ``first`` is
    the commit's first revision.
    """
    entries = """SELECT {hub}, w ->> 0,
               (CASE WHEN {shift} = 0 THEN w ->> 1
                     ELSE statehub_fence(w ->> 0, w ->> 1, {planned}, {shift}) END)::json,
               (w ->> 2)::int,
               CASE WHEN (w ->> 3)::bigint >= {planned} THEN (w ->> 3)::bigint + {shift}
                    ELSE (w ->> 3)::bigint END,
               (w ->> 4)::bigint + {shift}, w ->> 5, (w ->> 6)::float8, (w ->> 7)::float8,
               w ->> 8, (w ->> 9)::int
        FROM {source}, jsonb_array_elements({writes}) AS w"""
    changes = """SELECT {hub}, {first} + (c ->> 0)::int, c ->> 1, c ->> 2, c ->> 3, {ts}, c ->> 4,
               (c ->> 5)::int, (c ->> 6)::int, (c ->> 7)::json,
               (CASE WHEN {shift} = 0 THEN c ->> 8
                     ELSE statehub_fence(c ->> 1, c ->> 8, {planned}, {shift}) END)::json,
               (c ->> 9)::json
        FROM {source}, jsonb_array_elements({changes}) AS c"""
    return _writes(entries.format(**names), changes.format(**names))


_APPLY_WRITES = _json_writes(
    hub="p_hub",
    shift="shift",
    planned="p_planned",
    first="first",
    ts="p_ts",
    source="go",
    writes="p_writes",
    changes="p_changes",
)

FUNCTIONS = rf"""
CREATE OR REPLACE FUNCTION statehub_lock(p_hub bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM {_HUB_LOCK};
END
$$;

CREATE OR REPLACE FUNCTION statehub_head(p_hub bigint) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT {_HEAD}
$$;

-- A session about to wait for hub p_hub's commits calls statehub_watch(p_hub, true)
-- after its LISTEN and before it reads the head, and statehub_watch(p_hub, false) when
-- it stops; it holds a shared lock on the hub's watch key meanwhile. Each call counts
-- the holders of that lock into the hub's row, and commits notify only while the
-- count is above zero (a NOTIFY takes a database-wide lock at commit). The count is
-- written under the hub's row lock, so a commit either precedes it (and the head read
-- next includes it) or sees it. A session that dies holding the lock leaves the count
-- too high until the next call recounts: commits notify for nothing meanwhile, which
-- is harmless.
CREATE OR REPLACE FUNCTION statehub_watch(p_hub bigint, p_watching boolean) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_watching THEN
        PERFORM pg_advisory_lock_shared({_WATCH_KEY});
    ELSE
        PERFORM pg_advisory_unlock_shared({_WATCH_KEY});
    END IF;
    UPDATE statehub_hubs SET watchers = (
        SELECT count(*) FROM pg_locks
        WHERE locktype = 'advisory' AND granted AND objsubid = 2
              AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND classid = {_WATCH_CLASS}::oid AND objid = p_hub::int::oid)
    WHERE id = p_hub;
END
$$;

CREATE OR REPLACE FUNCTION statehub_fence(p_key text, p_value text, p_planned bigint,
                                          p_shift bigint) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN p_shift = 0 OR p_value IS NULL OR left(p_key, 7) <> '_locks/' THEN p_value
        WHEN (p_value::jsonb ->> 'fence')::bigint < p_planned THEN p_value
        ELSE jsonb_set(p_value::jsonb, '{{fence}}',
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
--
-- After the lock, one statement does the rest: its snapshot is taken once the lock is
-- held, so it sees every earlier commit, and its data-modifying CTEs all see the rows
-- as they were before it (the checks read what the writes replace). The lock and the
-- head are written out here rather than called: PL/pgSQL caches the plans of its own
-- statements, but a SQL function called from one is planned again at every call.
-- Plans are generic: left to choose, PostgreSQL kept planning this statement afresh
-- for each call's parameters (a custom plan), which cost more than running it.
CREATE OR REPLACE FUNCTION statehub_apply(p_hub bigint, p_planned bigint, p_ts float8,
                                          p_expect jsonb, p_count int, p_writes jsonb,
                                          p_deletes text[], p_changes jsonb) RETURNS bigint
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_first bigint;
    v_changed boolean;
    v_ahead boolean;
    v_watchers int;
BEGIN
    PERFORM {_HUB_LOCK};
    WITH head AS (
        SELECT h.head + 1 AS first, h.head + 1 - p_planned AS shift,
               EXISTS (SELECT 1 FROM jsonb_each_text(p_expect) AS x(k, rev)
                       WHERE coalesce((SELECT e.modified_rev FROM statehub_entries e
                                       WHERE e.hub = p_hub AND e.key = x.k), 0)
                             <> x.rev::bigint) AS changed,
               p_ts > extract(epoch FROM clock_timestamp()) + 1.0 AS ahead
        FROM (SELECT {_HEAD}) AS h(head)
    ), go AS (
        SELECT first, shift FROM head WHERE NOT (changed OR ahead)
    ), counted AS (
        UPDATE statehub_hubs SET head = go.first + p_count - 1 FROM go WHERE id = p_hub
        RETURNING watchers
    ), {_APPLY_WRITES}
    SELECT first, changed, ahead, (SELECT watchers FROM counted)
    INTO v_first, v_changed, v_ahead, v_watchers FROM head;
    IF v_changed THEN
        RAISE EXCEPTION 'statehub: rows changed' USING ERRCODE = 'SH001';
    END IF;
    IF v_ahead THEN
        RAISE EXCEPTION 'statehub: clock ahead' USING ERRCODE = 'SH002';
    END IF;
    -- A separate statement, run only when needed: an empty DELETE in the CTE above
    -- cost as much as a row written (every data-modifying CTE opens its table).
    IF cardinality(p_deletes) > 0 THEN
        DELETE FROM statehub_entries WHERE hub = p_hub AND key = ANY(p_deletes);
    END IF;
    IF v_watchers > 0 THEN
        PERFORM pg_notify('statehub_' || p_hub, (v_first + p_count - 1)::text);
    END IF;
    RETURN v_first;
END
$$;
"""
"""Server-side functions. They are code, not schema: every open re-creates them
(``CREATE OR REPLACE``, under the migration lock), so a release's own versions run."""

_GUARDED = """
WITH bumped AS (
    UPDATE statehub_hubs SET head = head + %(count)s
    WHERE id = %(hub)s AND head = %(planned)s - 1
          AND %(ts)s <= extract(epoch FROM clock_timestamp()) + 1.0
    RETURNING head, watchers
), {writes}
SELECT head, CASE WHEN watchers > 0 THEN pg_notify('statehub_' || %(hub)s, head::text) END
FROM bumped
"""

FAST_APPLY = _GUARDED.format(
    writes=_json_writes(
        hub="%(hub)s",
        shift="0",
        planned="%(planned)s",
        first="%(planned)s",
        ts="%(ts)s",
        source="bumped",
        writes="%(writes)s::jsonb",
        changes="%(changes)s::jsonb",
    )
)
"""A commit in one statement, for a client that knows every row it read is current if
the hub's head is still ``planned - 1``: no change was committed since it last saw
every one of them (its own commits included). The update of the hub's row both locks
it (a concurrent commit waits, then finds the head moved) and checks it; if the head
moved, or the client's clock is ahead of the database's, nothing is written and no row
returned, and the client commits through ``statehub_apply`` instead. No rows are
deleted here: plans that delete use ``statehub_apply``."""

FAST_APPLY_ONE = _GUARDED.format(
    writes=_writes(
        """SELECT %(hub)s, %(key)s, %(data)s::json, %(version)s::int, %(created_rev)s::bigint,
               %(planned)s, %(agent)s::text, %(ts)s, %(expires_ts)s::float8,
               %(owner)s::text, %(patch_bytes)s::int
        FROM bumped""",
        """SELECT %(hub)s, %(planned)s, %(key)s, %(op)s::text, %(agent)s::text, %(ts)s,
               %(label)s::text, %(prev_version)s::int, %(version)s::int, %(patch)s::json,
               %(logged)s::json, %(cause)s::json
        FROM bumped""",
    )
)
"""``FAST_APPLY`` for the commonest plan, one key written by one commit, with every
field a parameter of its own: no JSON to take apart (about a tenth of the time). It is
run as a prepared statement through libpq (see :mod:`statehub.backends.postgres_prepared`)."""

_INT8 = ("hub", "planned", "count", "version", "created_rev", "patch_bytes", "prev_version")
_TEXT = ("key", "data", "agent", "owner", "op", "label", "patch", "logged", "cause")
FAST_APPLY_ONE_TYPES = {
    **dict.fromkeys(_INT8, "int8"),
    **dict.fromkeys(("ts", "expires_ts"), "float8"),
    **dict.fromkeys(_TEXT, "text"),
}
"""The PostgreSQL type of each parameter of ``FAST_APPLY_ONE``."""

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
    # No foreign keys to statehub_hubs: checking one locked the hub's row (FOR KEY
    # SHARE, a write to it) at every commit, and a hub's id only ever comes from that
    # table, whose rows are never deleted.
    (
        "ALTER TABLE statehub_entries DROP CONSTRAINT statehub_entries_hub_fkey",
        "ALTER TABLE statehub_changes DROP CONSTRAINT statehub_changes_hub_fkey",
    ),
    # The head is kept in the hub's row again, and commits lock that row: a commit that
    # knows its rows are current writes in one statement guarded by it (FAST_APPLY).
    (
        "ALTER TABLE statehub_hubs ADD COLUMN head bigint NOT NULL DEFAULT 0",
        """UPDATE statehub_hubs h SET head = (
            SELECT coalesce(max(revision), 0) FROM statehub_changes c WHERE c.hub = h.id)""",
    ),
    # How many sessions watch the hub (see statehub_watch): commits read it in the row
    # they lock anyway, and notify only if it is above zero.
    ("ALTER TABLE statehub_hubs ADD COLUMN watchers integer NOT NULL DEFAULT 0",),
)
"""Entry ``n`` takes the schema from version ``n`` to ``n + 1``."""

SCHEMA_VERSION = len(MIGRATIONS)
"""The schema version this release writes (table ``statehub_migrations``)."""
