"""statehub in one screen: put/get, a compare-and-set conflict, merge, dispatch, history.

A quick tour of the lesson "State Management in Multi-Agent Systems", made real: the
state lives in a SQLite file, every value has a version, every commit a revision,
and every change is attributed to the agent that made it.

Run:  python examples/quickstart.py [FILE]    (default: ./statehub-quickstart.db)
"""

from __future__ import annotations

import sys
from pathlib import Path

import statehub

DEFAULT_PATH = Path("statehub-quickstart.db")


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else DEFAULT_PATH
    if not args:  # our own default file: start afresh on every run
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)

    with statehub.open(path) as hub:
        coordinator, researcher = hub.agent("coordinator"), hub.agent("researcher")
        print(f"statehub quickstart ({path})\n")

        put = coordinator.put("global/task_status", "pending")
        print(f"put       task_status = {put.value!r} (v{put.version}, rev {put.modified_rev})")
        seen = researcher.entry("global/task_status")
        assert seen is not None
        print(f"get       researcher reads {seen.value!r} (v{seen.version}, by {seen.updated_by})")

        coordinator.put("global/task_status", "in_progress")  # meanwhile, another write
        try:  # compare-and-set: write only if the key is still at the version read
            researcher.put("global/task_status", "done", expect_version=seen.version)
        except statehub.ConflictError as exc:
            print(f"conflict  researcher expected v{exc.expected}, key is at v{exc.actual}")

        researcher.merge("global/report", {"title": "AI Trends 2025", "research": "Complete"})
        report = hub.agent("writer").merge("global/report", {"draft": "Written"})
        print(f"merge     report = {report.value} (v{report.version})")

        researcher.dispatch("global/log", "Start research", reducer="append")
        log = researcher.dispatch("global/log", "Found 5 papers", reducer="append")
        print(f"dispatch  log = {log.value} (v{log.version})")

        print("history")
        for change in hub.history():
            print(f"  rev {change.revision}  {change.agent:<11} {change.op:<8} {change.key}")


if __name__ == "__main__":
    main()
