"""Global state and agent-local state, made real with statehub.

Mirrors the lesson's "Types of State" section ("Implementation": ``GlobalState`` and
``AgentLocalState``). In statehub both live in one hub, told apart by the key's scope:
``global/...`` is shared by every agent, ``agent/<name>/...`` is private to ``<name>``,
and statehub enforces that. The versions and the "by" of the snapshot come from
statehub's entries, not from the script.

Run:  python examples/global_and_local_state.py [FILE]    (default: an in-memory hub)
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import statehub


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    with statehub.open(args[0] if args else "memory://") as hub:
        coordinator = hub.agent("coordinator")
        researcher = hub.agent("researcher")

        # Agent 1 writes to global state
        coordinator.put("global/task_status", "in_progress")
        coordinator.put("global/research_topics", ["AI", "ML", "NLP"])

        # Agent 2 reads and writes
        topics = researcher.get("global/research_topics")
        print(f"Researcher reads topics: {topics}")
        researcher.put("global/research_results", {"AI": "72% adoption", "ML": "Growing 30% YoY"})

        # Agent 2 also has local state: keys under agent/researcher/, private to it
        researcher.put("agent/researcher/search_queries", ["AI trends 2025", "ML adoption"])
        call = {
            "tool": "web_search",
            "input": "AI trends 2025",
            "output": "12 results",
            "time": datetime.now(UTC).isoformat(),
        }
        researcher.dispatch("agent/researcher/tool_calls", call, reducer="append")

        # Another agent cannot read it: statehub refuses, it does not just hide it
        print("\nCoordinator tries to read the researcher's local state:")
        try:
            coordinator.get("agent/researcher/search_queries")
        except statehub.AccessDenied as exc:
            print(f"  statehub.AccessDenied: {exc}")
        visible = coordinator.scan()
        print(f"  Coordinator sees {len(visible)} keys: {sorted(visible)}")

        print("\nGlobal state snapshot:")
        snapshot = sorted(coordinator.entries("global/"), key=lambda e: e.created_rev)
        for entry in snapshot:
            name = entry.key.removeprefix("global/")
            print(f"  {name}: {entry.value} (by {entry.updated_by}, v{entry.version})")

        print("\nResearcher local state:")
        print(f"  Queries: {researcher.get('agent/researcher/search_queries')}")
        print(f"  Tool calls: {len(researcher.get('agent/researcher/tool_calls', []))}")


if __name__ == "__main__":
    main()
