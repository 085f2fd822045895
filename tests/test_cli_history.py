"""The command line: history and its filters, diff, checkpoints, rollback, watch."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

import statehub
from statehub.cli.diffs import side_by_side
from statehub.cli.points import parse_duration, parse_time
from tests.test_cli import ANSI, TERMINAL, data, run


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hub.db'}"


def revisions(url: str, *args: str) -> list[int]:
    return [change["revision"] for change in data(run(url, "history", "--json", *args))]


@pytest.fixture
def story(url: str) -> str:
    """Revisions 1-6: alice and bob write, a checkpoint at 3, a private key, a delete."""
    with statehub.open(url) as hub:
        alice, bob = hub.agent("alice"), hub.agent("bob")
        alice.put("global/doc", {"title": "Draft"})  # 1
        bob.put("task/t1/state", "open")  # 2
        alice.checkpoint("drafted")  # 3
        bob.put("global/doc", {"title": "Final"})  # 4
        alice.put("agent/alice/notes", "private")  # 5
        bob.delete("task/t1/state")  # 6
    return url


# -- history -----------------------------------------------------------------------


def test_history_filters_by_key_prefix_and_agent(story: str) -> None:
    assert revisions(story) == [1, 2, 4, 5, 6]
    assert revisions(story, "--key", "global/doc") == [1, 4]
    assert revisions(story, "--prefix", "task/") == [2, 6]
    assert revisions(story, "--agent", "bob") == [2, 4, 6]
    assert revisions(story, "--agent", "alice", "--prefix", "global/") == [1]


def test_history_since_and_until_take_revisions_and_checkpoints(story: str) -> None:
    assert revisions(story, "--since", "2", "--until", "5") == [4, 5]
    assert revisions(story, "--since", "drafted") == [4, 5, 6]
    assert revisions(story, "--until", "drafted") == [1, 2]
    assert revisions(story, "--since", "head") == []
    assert revisions(story, "--limit", "2") == [5, 6]


def test_history_all_includes_statehubs_own_rows(story: str) -> None:
    rows = data(run(story, "history", "--all", "--json"))
    assert [(c["revision"], c["key"]) for c in rows if c["key"].startswith("_")] == [
        (3, "_checkpoints/drafted")
    ]


def test_history_since_a_time_maps_it_to_the_first_revision_at_or_after_it(url: str) -> None:
    with statehub.open(url) as hub:
        agent = hub.agent("a")
        agent.put("global/x", 1)
        time.sleep(0.02)  # not synchronisation: two commits at clearly different times
        agent.put("global/x", 2)
        first, second = hub.history()
    between = (first.timestamp + second.timestamp) / 2
    iso = datetime.fromtimestamp(between, UTC).isoformat()
    assert revisions(url, "--since", iso) == [2]
    assert revisions(url, "--until", iso) == [1]
    naive = datetime.fromtimestamp(between, UTC).replace(tzinfo=None).isoformat()
    assert revisions(url, "--since", naive) == [2]  # a time without an offset is UTC
    assert revisions(url, "--since", "1h ago") == [1, 2]
    assert revisions(url, "--since", "now") == []
    assert revisions(url, "--until", "10 minutes ago") == []


def test_a_point_that_names_nothing_is_a_usage_error(story: str) -> None:
    result = run(story, "history", "--since", "no-such-thing", code=2)
    assert result.stderr.startswith("error: Invalid value for --since: 'no-such-thing' is not")
    assert result.stderr.count("\n") == 1


def test_points_and_durations_parse() -> None:
    assert parse_duration("7d") == 7 * 86400
    assert parse_duration("30m") == 1800
    assert parse_duration("45") == 45
    now = time.time()
    ten_minutes_ago = parse_time("10m ago")
    assert ten_minutes_ago is not None
    assert abs(now - 600 - ten_minutes_ago) < 5
    assert parse_time("2026-01-01T00:00:00+01:00") == parse_time("2025-12-31T23:00:00Z")
    assert parse_time("drafted") is None
    assert parse_time("12") is None  # a bare number is a revision, not a time


# -- diff --------------------------------------------------------------------------


def test_diff_piped_is_one_line_per_key_with_its_patch(story: str) -> None:
    lines = run(story, "diff", "drafted", "head").stdout.splitlines()
    assert lines == [
        "diff r3 r6",
        "+ agent/alice/notes: 'private'",
        "~ global/doc",
        '    ~ /title → "Final"',
        "- task/t1/state: 'open'",
    ]
    assert run(story, "diff", "drafted", "--prefix", "task/").stdout.splitlines()[1:] == [
        "- task/t1/state: 'open'"
    ]
    same = run(story, "diff", "head", "head").stdout
    assert same == "no differences between revisions 6 and 6\n"


def test_diff_json_has_added_removed_and_changed(story: str) -> None:
    assert data(run(story, "diff", "1", "4", "--json")) == {
        "a": 1,
        "b": 4,
        "prefix": "",
        "added": {"task/t1/state": "open"},
        "removed": {},
        "changed": {
            "global/doc": {
                "old": {"title": "Draft"},
                "new": {"title": "Final"},
                "patch": [{"op": "replace", "path": "/title", "value": "Final"}],
            }
        },
        "lines": ["~ global/doc", '    ~ /title → "Final"', "+ task/t1/state: 'open'"],
    }


def test_diff_in_a_terminal_shows_values_side_by_side_in_colour(story: str) -> None:
    out = run(story, "diff", "drafted", "head", env=TERMINAL).stdout
    assert "\x1b[31m" in out
    assert "\x1b[32m" in out
    plain = ANSI.sub("", out)
    row = next(line for line in plain.splitlines() if '"title"' in line)
    assert row.index('"Draft"') < row.index('"Final"')  # old on the left, new on the right


def test_side_by_side_aligns_lines_and_marks_only_what_changed() -> None:
    left, right = side_by_side({"a": 1, "b": [1, 2]}, {"a": 1, "b": [1, 2, 3], "c": True})
    left_lines, right_lines = left.plain.split("\n"), right.plain.split("\n")
    assert len(left_lines) == len(right_lines)
    assert left_lines[1] == right_lines[1] == '  "a": 1,'
    changed = {span.style for span in right.spans}
    assert changed == {"green"}
    assert any('"c": true' in line for line in right_lines)


# -- checkpoints and rollback ---------------------------------------------------------


def test_checkpoints_are_created_listed_and_deleted(url: str) -> None:
    run(url, "put", "global/x", "1")
    made = data(run(url, "checkpoint", "create", "one", "--agent", "ops", "--json"))
    assert made["name"] == "one"
    assert made["revision"] == 2
    assert made["agent"] == "ops"
    taken = run(url, "checkpoint", "create", "one", code=1)
    assert "exists already" in taken.stderr
    listed = run(url, "checkpoint", "list").stdout.splitlines()
    assert listed[0] == "name\trevision\tagent\ttime"
    assert listed[1].split("\t")[:3] == ["one", "2", "ops"]
    assert run(url, "checkpoint", "delete", "one").stdout == "deleted checkpoint one\n"
    assert run(url, "checkpoint", "delete", "one", code=1).stderr == (
        "error: no checkpoint named 'one'\n"
    )
    assert data(run(url, "checkpoint", "list", "--json")) == []


def test_rollback_restores_a_prefix_in_one_new_commit_and_keeps_history(story: str) -> None:
    result = run(story, "rollback", "drafted", "--prefix", "global/", "--agent", "ops")
    assert result.stdout == "rolled back global/ to drafted at revision 7\n"
    assert orjson.loads(run(story, "get", "global/doc").stdout) == {"title": "Draft"}
    last = data(run(story, "history", "--json", "--since", "6"))
    assert [(c["op"], c["agent"], c["key"]) for c in last] == [("rollback", "ops", "global/doc")]
    again = run(story, "rollback", "drafted", "--prefix", "global/", "--json")
    assert data(again) == {"revision": None}
    assert run(story, "rollback", "no-such-checkpoint", code=2).stderr.startswith("error: ")


# -- watch ---------------------------------------------------------------------------


def test_watch_since_a_point_prints_the_changes_after_it_then_stops_on_count(story: str) -> None:
    lines = run(story, "watch", "--since", "drafted", "--count", "2", "--json").stdout
    changes = [orjson.loads(line) for line in lines.splitlines()]
    assert [(c["revision"], c["key"]) for c in changes] == [
        (4, "global/doc"),
        (5, "agent/alice/notes"),
    ]


def test_watch_stops_after_the_timeout_with_no_change(story: str) -> None:
    started = time.monotonic()
    result = run(story, "watch", "global/", "--since", "4", "--timeout", "0.3s")
    assert result.stdout == ""
    assert time.monotonic() - started < 10
    plain = run(story, "watch", "global/", "--since", "0", "--timeout", "0.2").stdout
    rows = [line.split("\t") for line in plain.splitlines()]
    assert [[row[0], *row[2:6]] for row in rows] == [
        ["1", "alice", "put", "global/doc", "0->1"],
        ["4", "bob", "put", "global/doc", "1->2"],
    ]
    assert orjson.loads(rows[1][-1])[0]["op"] == "replace"  # the change's JSON Patch


def test_watch_in_a_process_tails_live_changes_until_ctrl_c(url: str, tmp_path: Path) -> None:
    with statehub.open(url) as hub:
        hub.agent("setup").put("global/ready", True)  # revision 1: the watch starts after it
    watcher = subprocess.Popen(
        [sys.executable, "-m", "statehub", "watch", "global/", "--since", "1", "--json"],
        cwd=tmp_path,
        env={**_environment(), "STATEHUB_URL": url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with statehub.open(url) as hub:
            writer = hub.agent("writer")
            writer.put("global/findings", "5 key trends")
            writer.put("task/t/ignored", 1)  # outside the prefix
            writer.merge("global/report", {"draft": "Written"})
        assert watcher.stdout is not None
        first = orjson.loads(watcher.stdout.readline())  # blocks until the line arrives
        second = orjson.loads(watcher.stdout.readline())
        assert (first["key"], first["agent"], first["revision"]) == ("global/findings", "writer", 2)
        assert (second["key"], second["op"], second["revision"]) == ("global/report", "merge", 4)
        watcher.send_signal(signal.SIGINT)
        remaining, errors = watcher.communicate(timeout=30)
    finally:
        if watcher.poll() is None:
            watcher.kill()
    assert watcher.returncode == 0
    assert remaining == ""
    assert "Traceback" not in errors


def _environment() -> dict[str, str]:
    import os

    return {name: value for name, value in os.environ.items() if name != "FORCE_COLOR"}


def test_watch_on_a_terminal_colours_each_line(story: str) -> None:
    result = run(story, "watch", "global/", "--since", "0", "--count", "1", env=TERMINAL)
    assert ANSI.search(result.stdout)
    words = ANSI.sub("", result.stdout).split()
    assert [words[0], *words[3:7]] == ["1", "alice", "put", "global/doc", "0->1"]
    assert "watching global/ after revision 0" in ANSI.sub("", result.stderr)
