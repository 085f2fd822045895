"""Strategy 3, merge-based state, made real with statehub.

Mirrors the lesson's "State Synchronization / Strategy 3: Merge-Based"
(``MergeableState``). ``merge(key, patch)`` applies an RFC 7396 JSON Merge Patch to
the key's value *inside the commit*: new fields are added, fields in the patch
override, and concurrent merges of different fields never lose one another. The
second half proves that last point with agents merging from several threads at once.

Run:  python examples/mergeable_state.py [FILE]    (default: an in-memory hub)
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import statehub

ROUNDS = 20
"""How many merges each agent makes in the concurrent half."""


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    with statehub.open(args[0] if args else "memory://") as hub:
        print("Merge-based state:\n")

        # Three agents update different fields of the same document
        updates: list[tuple[str, dict[str, Any]]] = [
            ("researcher", {"title": "AI Trends 2025", "research": "Complete"}),
            ("writer", {"draft": "Written", "word_count": 2500}),
            ("reviewer", {"reviewed": True, "score": 0.92}),
        ]
        for name, patch in updates:
            entry = hub.agent(name).merge("global/report", patch)
            print(f"  {name} merged into 'report': {list(patch)} (v{entry.version})")

        print("\nMerged report state:")
        for field, value in hub.agent("reader").get("global/report").items():
            print(f"  {field}: {value}")

        # The same, for real: every agent merges its own fields from its own thread
        def contribute(name: str) -> None:
            agent = hub.agent(name)
            for i in range(ROUNDS):
                agent.merge("global/notes", {f"{name}_{i}": True})

        names = [name for name, _ in updates]
        with ThreadPoolExecutor(max_workers=len(names)) as pool:
            list(pool.map(contribute, names))
        notes = hub.agent("reader").entry("global/notes")
        assert notes is not None
        print(f"\nConcurrent merges: {len(names)} threads x {ROUNDS} fields each")
        print(f"  'notes' has {len(notes.value)}/{len(names) * ROUNDS} fields (v{notes.version})")


if __name__ == "__main__":
    main()
