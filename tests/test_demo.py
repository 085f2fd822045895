"""``statehub demo``: four agent processes, one SQLite file, the lesson's TaskTracker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import statehub

DEMO_SECONDS = 15
"""The issue's bound for the whole demo on a 2-core machine (it takes ~4 s here)."""


def _run_demo(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "statehub", "demo", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=DEMO_SECONDS,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_demo_shows_every_pattern_and_leaves_the_outcome_in_the_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"

    out = _run_demo(tmp_path, "--url", url)

    for line in (
        "blocked, locked by coordinator",
        "got the lock once it was released",
        "conflict on the doc: expected v0, found v1; retrying",
        "received {'task': 'Research AI'} from coordinator",
        "'findings': '5 key trends'",
        "checkpoint 'before-publish'",
        "rolled the report back",
        "Tasks: 2/3 completed, 1 failed",
        "History: who changed what",
        '+ /status: "ERROR: publish failed"',
        "(none: the rollback restored the checkpoint)",
        "Explore it:",
    ):
        assert line in out
    with statehub.open(url) as hub:
        reader = hub.agent("checker")
        counts = reader.get("global/task_counts")
        assert (counts["total"], counts["completed"], counts["failed"]) == (3, 2, 1)
        assert reader.get("global/report") == {
            "title": "AI Trends 2025",
            "research": "Complete",
            "draft": "Written",
            "word_count": 2500,
            "reviewed": True,
            "score": 0.92,
        }
        assert reader.get("global/doc") == "writer's edit + reviewer's edit"
        changes = hub.history()
        assert {"coordinator", "researcher", "writer", "reviewer"} <= {c.agent for c in changes}
        assert [c.op for c in changes if c.key == "global/report"][-1] == "rollback"
        assert [checkpoint.name for checkpoint in hub.checkpoints()] == ["before-publish"]
        statuses = [reader.get(key)["status"] for key in reader.scan("task/")]
        assert sorted(statuses) == ["completed", "completed", "failed"]


def test_demo_by_default_makes_its_file_afresh_in_the_working_directory(tmp_path: Path) -> None:
    _run_demo(tmp_path)
    first = (tmp_path / "statehub-demo.db").stat().st_size
    _run_demo(tmp_path)
    with statehub.open(f"sqlite:///{tmp_path / 'statehub-demo.db'}") as hub:
        assert [checkpoint.name for checkpoint in hub.checkpoints()] == ["before-publish"]
    assert first > 0


def test_demo_refuses_a_hub_that_is_not_empty(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    with statehub.open(url) as hub:
        hub.agent("someone").put("global/x", 1)
    done = subprocess.run(
        [sys.executable, "-m", "statehub", "demo", "--url", url],
        capture_output=True,
        text=True,
        timeout=DEMO_SECONDS,
        check=False,
    )
    assert done.returncode == 1
    assert "is not empty" in done.stderr
