"""State persistence, made real with statehub.

Mirrors the lesson's "State Persistence" section (``PersistentState`` and its
"Checkpoint pattern"), where file I/O was only simulated in print. Here:

1. The state lives in a SQLite file: every commit is durable, so closing the hub
   (a "system restart") and opening the file again finds every key, version and
   revision as it was.
2. Checkpoint + rollback: a checkpoint is just a revision number, and time travel
   (``get(key, at=revision)``) reads any key as it was then. Rolling back is one
   transaction that writes those old values back (and deletes keys that did not
   exist yet); it is a new revision, so the failed step stays in the history.
   Named checkpoints and ``rollback()`` proper come in a later release.
3. The audit log is in the file too, and can be queried by agent.

Run:  python examples/persistence.py [FILE]    (default: a file in a temporary directory)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import statehub

RUN = "task/run-1/"
"""The steps of one run of the pipeline are the keys of one task."""


def steps(hub: statehub.Hub) -> dict[str, Any]:
    """The run's step state, as the lesson prints it (``{'step_1': ...}``)."""
    values = hub.agent("coordinator").scan(RUN)
    return {key.removeprefix(RUN): value for key, value in values.items()}


def save(hub: statehub.Hub, agent: str, step: str, value: str) -> None:
    """One agent saves one step's result."""
    entry = hub.agent(agent).put(f"{RUN}{step}", value)
    print(f"  {agent} saved '{step}' (v{entry.version}, rev {entry.modified_rev})")


def rollback(hub: statehub.Hub, agent: str, revision: int) -> int | None:
    """Restore every key under ``RUN`` to its value at ``revision``, in one commit."""
    actor = hub.agent(agent)
    changed = {change.key for change in hub.history(prefix=RUN, since=revision)}
    missing = object()
    with actor.transaction(label=f"rollback to rev {revision}") as tx:
        for key in sorted(changed):
            old = actor.get(key, missing, at=revision)
            if old is missing:
                tx.delete(key)
            else:
                tx.put(key, old)
    return tx.revision


def demo(path: Path) -> None:
    """The whole story, on the SQLite file at ``path``."""
    print("State persistence with statehub:\n")

    print(f"1. Database-backed: state in a SQLite file ({path.name}) survives a restart")
    with statehub.open(path) as hub:
        save(hub, "researcher", "step_1", "Research complete")
        print(f"  After step 1: {steps(hub)}")
        save(hub, "analyst", "step_2", "Analysis complete")
        print(f"  After step 2: {steps(hub)}")
        checkpoint_2 = hub.revision
    print("  Hub closed (system restart)")

    with statehub.open(path) as hub:
        print(f"  Reopened: {len(steps(hub))} keys at revision {hub.revision}")
        print(f"  After restart: {steps(hub)}")

        print("\n2. Checkpoint-based: roll back to a checkpoint on failure")
        print(f"  checkpoint_2 = revision {checkpoint_2}")
        save(hub, "writer", "step_3", "ERROR: Write failed")
        failed = hub.revision
        print(f"  After step 3 (failed): {steps(hub)}")
        print(f"  Rollback to checkpoint_2 (revision {checkpoint_2})...")
        revision = rollback(hub, "coordinator", checkpoint_2)
        print(f"  After rollback: {steps(hub)} (rev {revision})")
        step_3 = hub.agent("coordinator").get(f"{RUN}step_3", at=failed)
        print(f"  The failed step is still in the history: at rev {failed}, step_3 = {step_3!r}")

    with statehub.open(path) as hub:
        print("\n3. Query historical state by agent (the audit log is in the file too)")
        for agent in ("researcher", "analyst", "writer", "coordinator"):
            for change in hub.history(agent=agent):
                label = f" ({change.label})" if change.label else ""
                print(f"  {agent}: rev {change.revision} {change.op} {change.key}{label}")


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args:
        demo(Path(args[0]))
        return
    with tempfile.TemporaryDirectory(prefix="statehub-") as tmp:
        demo(Path(tmp) / "statehub-persistence.db")


if __name__ == "__main__":
    main()
