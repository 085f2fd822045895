"""``get``, ``put``, ``merge``, ``delete``, ``scan``: one key, or the keys under a prefix.

Reads are the operator's view (every agent's keys, statehub's reserved ``_`` rows
excepted); writes act as ``--agent``.
"""

from __future__ import annotations

import time
from typing import Any

import click

from statehub import timetravel
from statehub.cli.documents import entry_document
from statehub.cli.options import CommandError, command
from statehub.cli.output import compact_json, when
from statehub.cli.points import read_value, revision_of
from statehub.cli.session import Session, session
from statehub.keys import validate_prefix
from statehub.model import Entry
from statehub.txn import is_expired

__all__ = ["delete", "get", "merge", "put", "scan"]

_MISSING: Any = object()

_expect_option = click.option(
    "--expect-version",
    type=click.IntRange(min=0),
    metavar="N",
    help="Write only if the key is at version N (0: only if absent); else exit 3.",
)
_label_option = click.option("--label", metavar="TEXT", help="A tag recorded in the history.")
_ttl_option = click.option(
    "--ttl", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS", help="Expire after."
)
_string_option = click.option(
    "--string", is_flag=True, help="Store VALUE as a plain string, not JSON text."
)


@command()
@click.argument("key")
@click.option("--at", metavar="POINT", help="Read as of a revision, checkpoint or time.")
@click.option("--raw", is_flag=True, help="Print a string value without JSON quotes.")
def get(key: str, at: str | None, raw: bool) -> None:
    """Print the value of KEY (exit code 1 if it does not exist).

    Example: statehub get global/doc --at before-publish
    """
    with session() as s:
        reader = s.reader(key)
        if at is None:
            entry = reader.entry(key)
            if entry is None:
                raise CommandError(f"no key {key!r}")
            value, document = entry.value, entry_document(entry)
        else:
            revision = revision_of(s.hub, at, "--at")
            value = reader.get(key, _MISSING, at=revision)
            if value is _MISSING:
                raise CommandError(f"no key {key!r} at revision {revision}")
            document = {"key": key, "value": value, "revision": revision}
        if s.settings.json:
            s.out.data(document)
        elif raw and isinstance(value, str):
            click.echo(value)
        else:
            s.out.value(value)


def _report(s: Session, verb: str, entry: Entry) -> None:
    if s.settings.json:
        replaced = entry.replaced
        s.out.data(
            {
                **entry_document(entry),
                "replaced": None if replaced is None else entry_document(replaced),
            }
        )
        return
    line = f"{verb} {entry.key}: version {entry.version} at revision {entry.modified_rev}"
    if entry.replaced is not None:
        line += f" (replaced version {entry.replaced.version} by {entry.replaced.updated_by})"
    s.out.text(line)


@command()
@click.argument("key")
@click.argument("value", required=False)
@_string_option
@_expect_option
@_ttl_option
@_label_option
def put(
    key: str,
    value: str | None,
    string: bool,
    expect_version: int | None,
    ttl: float | None,
    label: str | None,
) -> None:
    """Set KEY to VALUE: JSON text, or - to read it from stdin.

    Last write wins, unless --expect-version is given (exit code 3 on a conflict).

    Example: statehub put global/doc '{"title": "Draft"}' --expect-version 0
    """
    data = read_value(value, string=string)
    with session() as s:
        entry = s.writer.put(key, data, expect_version=expect_version, ttl=ttl, label=label)
        _report(s, "put", entry)


@command()
@click.argument("key")
@click.argument("patch", required=False)
@_expect_option
@_ttl_option
@_label_option
def merge(
    key: str, patch: str | None, expect_version: int | None, ttl: float | None, label: str | None
) -> None:
    """Apply PATCH, an RFC 7396 JSON Merge Patch (JSON text, or - for stdin), to KEY.

    A null member deletes that field; concurrent merges of other fields are kept.

    Example: statehub merge global/report '{"draft": "Written", "notes": null}'
    """
    data = read_value(patch, string=False)
    with session() as s:
        entry = s.writer.merge(key, data, expect_version=expect_version, ttl=ttl, label=label)
        _report(s, "merged", entry)


@command()
@click.argument("key")
@_expect_option
@_label_option
def delete(key: str, expect_version: int | None, label: str | None) -> None:
    """Delete KEY (exit code 1 if it does not exist).

    Example: statehub delete global/draft --expect-version 3
    """
    with session() as s:
        deleted = s.writer.delete(key, expect_version=expect_version, label=label)
        if deleted is None:
            raise CommandError(f"no key {key!r}")
        if s.settings.json:
            s.out.data({"deleted": entry_document(deleted)})
        else:
            s.out.text(f"deleted {key} (was version {deleted.version})")


def _current(s: Session, prefix: str) -> list[Entry]:
    now = time.time()
    return [
        row.to_entry()
        for row in s.hub.backend.scan(prefix, None)
        if not row.key.startswith("_") and not is_expired(row, now)
    ]


@command()
@click.argument("prefix", default="")
@click.option("--at", metavar="POINT", help="The keys as of a revision, checkpoint or time.")
def scan(prefix: str, at: str | None) -> None:
    """List the keys under PREFIX (every key without it), with their values.

    Example: statehub scan global/ --at "10m ago"
    """
    validate_prefix(prefix)
    with session() as s:
        if at is not None:
            revision = revision_of(s.hub, at, "--at")
            snapshot = timetravel.snapshot_at(s.hub.backend, prefix, revision, None)
            if s.settings.json:
                s.out.data([{"key": key, "value": snapshot[key]} for key in sorted(snapshot)])
            else:
                rows = [(key, compact_json(snapshot[key], 80)) for key in sorted(snapshot)]
                s.out.table(("key", "value"), rows, title=f"as of revision {revision}")
            return
        entries = _current(s, prefix)
        if s.settings.json:
            s.out.data([entry_document(entry) for entry in entries])
            return
        s.out.table(
            ("key", "value", "version", "rev", "by", "updated"),
            [
                (
                    entry.key,
                    compact_json(entry.value, 80),
                    str(entry.version),
                    str(entry.modified_rev),
                    s.out.agent(entry.updated_by),
                    when(entry.updated_ts),
                )
                for entry in entries
            ],
        )
