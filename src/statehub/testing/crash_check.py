"""What the crash harness checks after every kill: the store is whole and nothing is lost.

:class:`ConsistencyChecker` follows the hub's log from revision 1, replaying every
change's JSON Patch, and raises :class:`Inconsistency` as soon as something is wrong:

* revisions are gap-free (every revision from 1 to the head has its changes);
* per key, versions go up by exactly 1 (``prev_version`` is the version before);
* no transaction is half applied: a revision changes 0 or 2 accounts (all of them at
  setup) and 0 or all big keys, the accounts always sum to :data:`TOTAL`, and all big
  keys hold one batch, after every revision of the log, at the head, and at past
  revisions read back through ``get(at=)`` and ``scan(at=)``;
* every acknowledged write is there: its revision changed each of its keys to the
  version acknowledged, and the key now holds that version or a later one (a
  writer's put counter, merge field and append log hold its value or a later one);
* at the end, the replayed log equals the state the hub serves.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any

import statehub
from statehub.patch import apply_patch
from statehub.testing.crash_writer import (
    ACCOUNTS,
    BIG_KEYS,
    TOTAL,
    account_key,
    big_key,
)

__all__ = ["ConsistencyChecker", "Inconsistency", "Snapshot", "sqlite_integrity"]

_ACCOUNT_PREFIX = "global/acct/"
_BIG_PREFIX = "global/big/"
_ACCOUNT_KEYS = tuple(account_key(i) for i in range(ACCOUNTS))
_BIG_KEYS = tuple(big_key(i) for i in range(BIG_KEYS))


class Inconsistency(AssertionError):
    """The store broke a promise the crash harness checks (the message says which)."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise Inconsistency(message)


def sqlite_integrity(path: Path) -> str:
    """``PRAGMA integrity_check`` of a SQLite file: ``"ok"`` when the file is sound."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        rows = connection.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.DatabaseError as exc:  # a file too damaged to check at all
        return f"{type(exc).__name__}: {exc}"
    finally:
        connection.close()
    return "\n".join(str(row[0]) for row in rows)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The accounts and the big keys' batch as of one revision, from the replayed log."""

    accounts: tuple[int, ...]
    batch: str


@dataclass
class ConsistencyChecker:
    """Follows a hub's log and checks it, incrementally: call :meth:`advance` as it grows."""

    head: int = 0
    """The last revision replayed and checked."""
    values: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    written: dict[tuple[int, str], int] = field(default_factory=dict)
    """``(revision, key) -> version`` for every change in the log."""
    batches: dict[str, int] = field(default_factory=dict)
    """Each big batch id -> the revision that wrote it."""
    snapshots: dict[int, Snapshot] = field(default_factory=dict)
    past_reads: int = 0
    acks_checked: int = 0

    def advance(self, hub: statehub.Hub) -> int:
        """Replay and check every revision after :attr:`head`; returns how many."""
        head = hub.revision
        changes = hub.history(since=self.head, until=head)
        revisions = [change.revision for change in changes]
        expected = list(range(self.head + 1, head + 1))
        seen = sorted(set(revisions))
        _require(seen == expected, f"revisions {self.head + 1}..{head} not gap-free: {seen}")
        _require(revisions == sorted(revisions), "history is not in revision order")
        for revision, group in groupby(changes, key=lambda change: change.revision):
            self._apply_revision(revision, list(group))
        count = head - self.head
        self.head = head
        return count

    def _apply_revision(self, revision: int, changes: list[statehub.Change]) -> None:
        accounts = big = 0
        for change in changes:
            before = self.versions.get(change.key, 0)
            _require(
                change.prev_version == before and change.version == before + 1,
                f"revision {revision}: {change.key} went {change.prev_version} -> "
                f"{change.version}, but the log had it at version {before}",
            )
            self.values[change.key] = apply_patch(self.values.get(change.key), change.patch)
            self.versions[change.key] = change.version
            self.written[(revision, change.key)] = change.version
            accounts += change.key.startswith(_ACCOUNT_PREFIX)
            big += change.key.startswith(_BIG_PREFIX)
        _require(
            accounts in (0, 2, ACCOUNTS),
            f"revision {revision} changed {accounts} accounts: a half-applied move",
        )
        _require(
            big in (0, BIG_KEYS),
            f"revision {revision} changed {big} of {BIG_KEYS} big keys: a half-applied batch",
        )
        last = self.snapshots.get(revision - 1)
        balances = last.accounts if last is not None and not accounts else self._balances(revision)
        batch = last.batch if last is not None and not big else self._batch(revision)
        if big:
            self.batches[batch] = revision
        self.snapshots[revision] = Snapshot(balances, batch)

    def _balances(self, revision: int) -> tuple[int, ...]:
        balances = tuple(self.values[key] for key in _ACCOUNT_KEYS)
        _require(sum(balances) == TOTAL, f"revision {revision}: accounts sum to {sum(balances)}")
        return balances

    def _batch(self, revision: int) -> str:
        batches: set[str] = {self.values[key]["batch"] for key in _BIG_KEYS}
        _require(len(batches) == 1, f"revision {revision}: big keys hold batches {batches}")
        return batches.pop()

    def check_head(self, hub: statehub.Hub) -> None:
        """The invariants hold on the state the hub serves now."""
        reader = hub.agent("checker")
        accounts = reader.scan(_ACCOUNT_PREFIX)
        _require(len(accounts) == ACCOUNTS, f"head has {len(accounts)} accounts")
        _require(sum(accounts.values()) == TOTAL, f"head accounts sum to {sum(accounts.values())}")
        batches = {value["batch"] for value in reader.scan(_BIG_PREFIX).values()}
        _require(len(batches) == 1, f"head big keys hold batches {batches}")

    def check_past(
        self, hub: statehub.Hub, rng: random.Random, count: int, *, scan: bool = False
    ) -> None:
        """At ``count`` random past revisions, ``get(at=)`` (and ``scan(at=)``) match the log.

        Each reads the accounts and one big key (with ``scan``, also every account
        and big key through ``scan(at=)``) as of the revision.
        """
        if not self.snapshots:
            return
        reader = hub.agent("checker")
        for revision in rng.sample(sorted(self.snapshots), min(count, len(self.snapshots))):
            snapshot = self.snapshots[revision]
            balances = tuple(reader.get(key, at=revision) for key in _ACCOUNT_KEYS)
            _require(
                balances == snapshot.accounts,
                f"get(at={revision}) reads accounts {balances}, the log says {snapshot.accounts}",
            )
            key = rng.choice(_BIG_KEYS)
            batch = reader.get(key, at=revision)["batch"]
            _require(
                batch == snapshot.batch,
                f"get({key}, at={revision}) holds batch {batch}, the log says {snapshot.batch}",
            )
            if scan:
                scanned = reader.scan(_ACCOUNT_PREFIX, at=revision)
                _require(
                    tuple(scanned[key] for key in _ACCOUNT_KEYS) == snapshot.accounts,
                    f"scan(at={revision}) of the accounts disagrees with the log",
                )
                batches = {
                    value["batch"] for value in reader.scan(_BIG_PREFIX, at=revision).values()
                }
                _require(
                    batches == {snapshot.batch},
                    f"scan(at={revision}) of the big keys holds {batches}, not {snapshot.batch}",
                )
            self.past_reads += 1

    def check_acks(self, hub: statehub.Hub, acks: Iterable[Mapping[str, Any]]) -> None:
        """Every acknowledged write is in the log and its keys hold it or a later version."""
        current = {entry.key: entry for entry in hub.agent("checker").entries("global/")}
        for ack in acks:
            revision = ack["rev"]
            _require(revision <= self.head, f"acknowledged revision {revision} > head {self.head}")
            for key, version in ack["keys"].items():
                logged = self.written.get((revision, key))
                _require(
                    logged == version,
                    f"acknowledged {ack['op']} of {key} v{version} at revision {revision} "
                    f"is not in the log (found {logged})",
                )
                entry = current.get(key)
                _require(
                    entry is not None and entry.version >= version,
                    f"acknowledged {key} v{version}, the hub has {entry}",
                )
            self.acks_checked += 1

    def check_writer(self, hub: statehub.Hub, name: str, acks: Iterable[Mapping[str, Any]]) -> None:
        """A writer's own keys hold its last acknowledged value or a later one, never a gap."""
        last: dict[str, int] = {}
        for ack in acks:
            if "seq" in ack and ack["op"] in ("put", "merge", "dispatch"):
                last[ack["op"]] = ack["seq"]
        reader = hub.agent("checker")
        counter = reader.entry(f"global/put/{name}")
        if counter is not None:
            _require(
                counter.version == counter.value + 1, f"{name}'s put counter skipped: {counter}"
            )
        _require(
            (-1 if counter is None else counter.value) >= last.get("put", -1),
            f"{name}'s last acknowledged put {last.get('put')} is lost: {counter}",
        )
        merged = reader.get("global/merged", {}).get(name, -1)
        _require(
            merged >= last.get("merge", -1),
            f"{name}'s last acknowledged merge {last.get('merge')} is lost: {merged}",
        )
        log = reader.get(f"global/log/{name}", [])
        _require(log == list(range(len(log))), f"{name}'s append log lost or repeated one: {log}")
        _require(
            len(log) - 1 >= last.get("dispatch", -1),
            f"{name}'s last acknowledged dispatch {last.get('dispatch')} is lost: {log}",
        )

    def check_replay_matches(self, hub: statehub.Hub) -> None:
        """The replayed log equals what the hub serves (call when no writer is running)."""
        _require(hub.revision == self.head, f"head moved to {hub.revision} past {self.head}")
        entries = hub.agent("checker").entries("global/")
        served = {entry.key: (entry.value, entry.version) for entry in entries}
        replayed = {
            key: (value, self.versions[key])
            for key, value in self.values.items()
            if key.startswith("global/")
        }
        _require(served == replayed, "the hub's state differs from its replayed log")
