"""Strategy 1, last-write-wins, made real with statehub.

Mirrors the lesson's "State Synchronization / Strategy 1: Last-Write-Wins"
(``LastWriteWins``). A plain ``put`` always succeeds and overwrites; the lesson's
store remembered the old value itself to warn about it, statehub hands it back:
the returned entry's ``replaced`` is the entry that was overwritten (its value, its
version, and the agent who wrote it). Nothing is really lost either: the hub's
history still holds every overwritten value, and ``get(key, at=revision)`` reads it.

Run:  python examples/last_write_wins.py [FILE]    (default: an in-memory hub)
"""

from __future__ import annotations

import sys

import statehub


def write(agent: statehub.Agent, key: str, value: str) -> None:
    """Write ``value`` (last write wins) and say whose value, if any, it replaced."""
    entry = agent.put(key, value)
    name = key.removeprefix("global/")
    old = entry.replaced
    if old is not None and old.updated_by != agent.name:
        print(
            f"  ⚠ {agent.name} overwrote {old.updated_by}'s value "
            f"for '{name}': {old.value} → {entry.value}"
        )
    else:
        print(f"  ✅ {agent.name} wrote '{name}': {entry.value}")


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    with statehub.open(args[0] if args else "memory://") as hub:
        print("Last-Write-Wins:\n")
        write(hub.agent("writer"), "global/summary", "Initial draft")
        write(hub.agent("editor"), "global/summary", "Revised draft")
        write(hub.agent("reviewer"), "global/summary", "Final version")

        reader = hub.agent("reader")
        final = reader.entry("global/summary")
        assert final is not None
        print(f"\nFinal: {final.value} (v{final.version}, by {final.updated_by})")

        print("\nOverwritten, but not lost: the history keeps every value")
        for change in hub.history(key="global/summary"):
            value = reader.get("global/summary", at=change.revision)
            print(f"  rev {change.revision}: v{change.version} by {change.agent}: {value}")


if __name__ == "__main__":
    main()
