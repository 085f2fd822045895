"""Crash consistency: writers SIGKILLed at random points never leave a broken or lossy store.

The harness (:mod:`statehub.testing.crash`) keeps three writer processes committing
puts, merges, dispatches, two-key moves and 200-key transactions, and kills each
with SIGKILL at a random point: while it starts, inside a big commit, or anywhere in
its run. After every kill the hub must open, pass SQLite's integrity check, have a
gap-free log in which versions go up by one, show no half-applied transaction (the
accounts' sum is constant, every big key holds the same batch: at every revision
of the log, at the head, and through ``get(at=)``), and hold every write the dead
writer had acknowledged. The second half of this file checks that the checker
itself rejects each kind of damage, so a passing run means something.
"""

from __future__ import annotations

import random
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import statehub
from statehub.testing.crash import run_crash_test
from statehub.testing.crash_check import ConsistencyChecker, Inconsistency, sqlite_integrity
from statehub.testing.crash_writer import BIG_KEYS, account_key, big_key, big_value, initial_state
from tests.conftest import postgres_url

KILLS = 50
"""SIGKILLs per backend per run (the issue asks for at least 50)."""
TIMEOUT = 150.0


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh hub on a SQLite file, or on the test PostgreSQL server."""
    return f"sqlite:///{tmp_path / 'crash.db'}" if request.param == "sqlite" else postgres_url()


def test_sigkilled_writers_leave_a_sound_store_with_every_acknowledged_write(url: str) -> None:
    report = run_crash_test(url, kills=KILLS, timeout=TIMEOUT)

    print(report.summary())
    assert report.kills == KILLS
    assert set(report.kills_by_mode) == {"early", "in-commit", "random"}
    assert report.kills_in_commit >= 3, "too few kills landed inside a commit to mean much"
    assert set(report.acks_by_op) == {"put", "merge", "dispatch", "move", "big"}
    assert report.acks >= 10 * KILLS
    assert report.revisions > report.acks  # every ack's revision was replayed and checked
    assert report.past_reads >= KILLS
    if url.startswith("sqlite"):
        assert report.integrity_checks == KILLS


# -- the checker rejects every kind of damage ------------------------------------------


def _set_up(hub: statehub.Hub) -> ConsistencyChecker:
    with hub.agent("setup").transaction() as tx:
        for key, value in initial_state().items():
            tx.put(key, value)
    checker = ConsistencyChecker()
    checker.advance(hub)
    return checker


def test_checker_accepts_a_whole_move_and_a_whole_batch() -> None:
    with statehub.open("memory://") as hub:
        checker = _set_up(hub)
        writer = hub.agent("w1")
        with writer.transaction() as tx:
            tx.put(account_key(0), 900)
            tx.put(account_key(1), 1100)
        with writer.transaction() as tx:
            for index in range(BIG_KEYS):
                tx.put(big_key(index), big_value("w1-0"))

        assert checker.advance(hub) == 2
        checker.check_head(hub)
        checker.check_past(hub, random.Random(0), 3, scan=True)
        checker.check_replay_matches(hub)
        assert checker.batches == {"init": 1, "w1-0": 3}


def test_checker_rejects_a_half_applied_move() -> None:
    with statehub.open("memory://") as hub:
        checker = _set_up(hub)
        hub.agent("w1").put(account_key(0), 900)  # the matching +100 never lands

        with pytest.raises(Inconsistency, match="changed 1 accounts"):
            checker.advance(hub)


def test_checker_rejects_a_move_that_breaks_the_sum() -> None:
    with statehub.open("memory://") as hub:
        checker = _set_up(hub)
        with hub.agent("w1").transaction() as tx:
            tx.put(account_key(0), 900)
            tx.put(account_key(1), 1099)

        with pytest.raises(Inconsistency, match="accounts sum to 7999"):
            checker.advance(hub)


def test_checker_rejects_a_half_applied_batch() -> None:
    with statehub.open("memory://") as hub:
        checker = _set_up(hub)
        with hub.agent("w1").transaction() as tx:
            for index in range(BIG_KEYS - 1):
                tx.put(big_key(index), big_value("w1-0"))

        with pytest.raises(Inconsistency, match="half-applied batch"):
            checker.advance(hub)


def test_checker_rejects_a_half_applied_state_at_the_head() -> None:
    with statehub.open("memory://") as hub:
        checker = _set_up(hub)
        hub.agent("w1").put(big_key(7), big_value("w1-0"))

        with pytest.raises(Inconsistency, match="big keys hold batches"):
            checker.check_head(hub)


class _Log:
    """Just enough of a hub for ``advance``: a head and a log, possibly damaged."""

    def __init__(self, changes: list[statehub.Change]) -> None:
        self.changes = changes
        self.revision = max(change.revision for change in changes)

    def history(self, since: int, until: int) -> list[statehub.Change]:
        return [c for c in self.changes if since < c.revision <= until]


def test_checker_rejects_a_gap_in_the_revisions() -> None:
    with statehub.open("memory://") as hub:
        _set_up(hub)
        hub.agent("w1").put("global/put/w1", 0)
        hub.agent("w1").put("global/put/w1", 1)
        damaged = [change for change in hub.history() if change.revision != 2]

    with pytest.raises(Inconsistency, match="not gap-free"):
        ConsistencyChecker().advance(_Log(damaged))  # type: ignore[arg-type]


def test_checker_rejects_a_version_that_skips() -> None:
    with statehub.open("memory://") as hub:
        _set_up(hub)
        hub.agent("w1").put("global/put/w1", 0)
        hub.agent("w1").put("global/put/w1", 1)
        changes = hub.history()
    last = changes[-1]
    damaged = [*changes[:-1], statehub.Change(**{**_fields(last), "version": 3})]

    with pytest.raises(Inconsistency, match="went 1 -> 3"):
        ConsistencyChecker().advance(_Log(damaged))  # type: ignore[arg-type]


def _fields(change: statehub.Change) -> dict[str, Any]:
    return {name: getattr(change, name) for name in change.__dataclass_fields__}


def test_checker_rejects_an_acknowledged_write_missing_from_the_log() -> None:
    with statehub.open("memory://") as hub:
        checker = _set_up(hub)
        entry = hub.agent("w1").put("global/put/w1", 0)
        checker.advance(hub)
        checker.check_acks(hub, [{"op": "put", "rev": entry.modified_rev, "keys": {entry.key: 1}}])
        lost = {"op": "put", "rev": entry.modified_rev, "keys": {entry.key: 2}}

        with pytest.raises(Inconsistency, match="is not in the log"):
            checker.check_acks(hub, [lost])


def test_checker_rejects_a_lost_or_repeated_writer_value() -> None:
    with statehub.open("memory://") as hub:
        checker = _set_up(hub)
        writer = hub.agent("w1")
        writer.put("global/put/w1", 0)
        writer.merge("global/merged", {"w1": 0})
        for n in (0, 1):
            writer.dispatch("global/log/w1", n, reducer="append")
        checker.check_writer(hub, "w1", [{"op": "dispatch", "seq": 1}, {"op": "put", "seq": 0}])

        with pytest.raises(Inconsistency, match="put 1 is lost"):
            checker.check_writer(hub, "w1", [{"op": "put", "seq": 1}])
        with pytest.raises(Inconsistency, match="merge 3 is lost"):
            checker.check_writer(hub, "w1", [{"op": "merge", "seq": 3}])
        writer.dispatch("global/log/w1", 1, reducer="append")
        with pytest.raises(Inconsistency, match="lost or repeated"):
            checker.check_writer(hub, "w1", [])


def test_checker_rejects_a_past_read_that_disagrees_with_the_log() -> None:
    with statehub.open("memory://") as hub:
        checker = _set_up(hub)
        checker.snapshots[1] = replace(checker.snapshots[1], accounts=(999,) * 8)

        with pytest.raises(Inconsistency, match="get\\(at=1\\) reads accounts"):
            checker.check_past(hub, random.Random(0), 1)


def test_integrity_check_reports_a_damaged_file(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    with statehub.open(f"sqlite:///{path}") as hub:
        writer = hub.agent("w1")
        for n in range(200):
            writer.put(f"global/k{n}", "x" * 500)
    assert sqlite_integrity(path) == "ok"
    data = bytearray(path.read_bytes())
    page = 4096
    data[3 * page : 6 * page] = b"\xff" * (3 * page)
    path.write_bytes(bytes(data))

    assert sqlite_integrity(path) != "ok"


def test_crash_run_refuses_a_hub_that_is_not_empty(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'used.db'}"
    with statehub.open(url) as hub:
        hub.agent("someone").put("global/doc", "precious")

    with pytest.raises(statehub.InvalidArgument, match="fresh, empty hub"):
        run_crash_test(url, kills=1)

    with statehub.open(url) as hub:
        assert hub.revision == 1


@pytest.mark.parametrize("arguments", [{"kills": 0}, {"writers": 0}, {"timeout": 0.0}])
def test_crash_run_refuses_bad_arguments(arguments: dict[str, Any], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'unused.db'}"

    with pytest.raises(statehub.InvalidArgument, match="at least 1"):
        run_crash_test(url, **arguments)

    assert not (tmp_path / "unused.db").exists()


def test_crash_command_runs_and_reports(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    command = [sys.executable, "-m", "statehub.testing.crash", url, "--kills", "3"]

    done = subprocess.run(command, capture_output=True, timeout=120, check=False)

    assert done.returncode == 0, done.stderr.decode()[-3000:]
    assert ": 3 SIGKILLs in " in done.stdout.decode()
