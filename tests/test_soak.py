"""The soak benchmark's smoke run: 5 s of the mixed 8-process workload on SQLite, 0 errors.

``benchmarks/soak.py`` is run as its users run it (one command, a subprocess), with
``--json``; the full minute on both backends is in ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

SOAK = Path(__file__).resolve().parent.parent / "benchmarks" / "soak.py"


def test_five_second_soak_on_sqlite_has_no_error_and_a_gap_free_watch(tmp_path: Path) -> None:
    command = [sys.executable, str(SOAK), "--seconds", "5", "--backend", "sqlite", "--json"]
    command += ["--dir", str(tmp_path)]

    done = subprocess.run(command, capture_output=True, timeout=180, check=False)

    assert done.returncode == 0, done.stderr.decode()[-3000:] + done.stdout.decode()[-3000:]
    (result,) = orjson.loads(done.stdout)
    assert result["errors"] == []
    assert result["checks"] == []
    assert result["workers"] == 8
    assert all(figures["count"] > 0 for figures in result["by_op"].values()), result["by_op"]
    watcher = result["watcher"]
    assert watcher["gaps"] == []
    assert watcher["revisions"] == watcher["final_head"] > 0
    assert watcher["changes"] >= watcher["revisions"]
    assert watcher["rss_samples"] >= 3
