"""The lesson's hands-on exercise, the TaskTracker, with statehub doing the work.

Three agents handle the same three tasks with the three approaches of the exercise:

1. Centralized store with locking: a lease on the task's key; while ``agent_a``
   holds it, ``agent_b``'s write is refused (the toy solution let it through).
2. Versioned state: both agents read version 0, ``agent_a`` writes version 1,
   ``agent_b``'s write is a conflict, and its retry on a fresh read succeeds.
3. Reducer: the lesson's ``ADD`` / ``COMPLETE`` / ``FAIL`` task reducer, applied
   inside each commit, so concurrent dispatches never lose one another.

Run:  python examples/task_tracker.py [FILE]    (default: an in-memory hub)
"""

from __future__ import annotations

import sys

import statehub

TASKS = ["task-1", "task-2", "task-3"]
AGENTS = ["agent_a", "agent_b", "agent_c"]


def centralized(hub: statehub.Hub) -> None:
    """Approach 1: one store for all, a lock per task while an agent writes it."""
    print("=== Centralized ===")
    a, b, c = (hub.agent(name) for name in AGENTS)
    for task, (owner, rival) in zip(TASKS, [(a, b), (b, c), (c, a)], strict=True):
        key = f"task/{task}/result"
        with owner.lock(key, ttl=30) as lease:
            owner.put(key, "done", fence=lease.fence)
            print(f"✅ {owner.name}: wrote {task}=done (holding the lock, fence {lease.fence})")
            try:
                rival.put(key, "revised")
            except statehub.LockedError as exc:
                print(f"❌ {rival.name}: blocked by {exc.holder}")
        entry = rival.put(key, "revised")
        print(f"✅ {rival.name}: wrote {task}=revised after the release (v{entry.version})")


def versioned(hub: statehub.Hub) -> None:
    """Approach 2: optimistic versioning, a conflict, and a retry."""
    print("\n=== Versioned ===")
    a, b, c = (hub.agent(name) for name in AGENTS)
    key = "task/task-1/draft"
    seen_a, seen_b = a.entry(key), b.entry(key)
    version_a = seen_a.version if seen_a else 0
    version_b = seen_b.version if seen_b else 0
    written = a.put(key, "draft", expect_version=version_a)
    print(f"✅ {a.name}: wrote task-1=draft (v{written.version})")
    try:
        b.put(key, "alt draft", expect_version=version_b)
    except statehub.ConflictError as exc:
        print(f"❌ {b.name}: conflict (expected v{exc.expected}, got v{exc.actual})")
    fresh = b.entry(key)
    retried = b.put(key, "alt draft", expect_version=fresh.version if fresh else 0)
    print(f"✅ {b.name}: wrote task-1=alt draft (v{retried.version})")
    third = c.update(key, lambda draft: f"{draft} (reviewed)")
    print(f"✅ {c.name}: update() read, applied and wrote (v{third.version}): {third.value}")


def reducer(hub: statehub.Hub) -> None:
    """Approach 3: the lesson's task reducer, ADD / COMPLETE / FAIL."""
    print("\n=== Reducer ===")
    hub.register_reducer("global/tasks", statehub.reducers.tasks)
    a, b, c = (hub.agent(name) for name in AGENTS)
    for agent, action in [
        (a, {"type": "ADD", "task": "Research"}),
        (b, {"type": "ADD", "task": "Write"}),
        (c, {"type": "ADD", "task": "Review"}),
        (a, {"type": "COMPLETE"}),
        (b, {"type": "COMPLETE"}),
        (c, {"type": "FAIL"}),
    ]:
        agent.dispatch("global/tasks", action)
        print(f"✅ {agent.name}: dispatched {action['type']}")
    state = a.get("global/tasks")
    print(f"State: {state}")
    print(f"Tasks: {state['completed']}/{state['total']} completed, {state['failed']} failed")


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    with statehub.open(f"sqlite:///{args[0]}" if args else "memory://") as hub:
        centralized(hub)
        versioned(hub)
        reducer(hub)
        print(f"\nHistory: {len(hub.history())} changes, revision {hub.revision}")


if __name__ == "__main__":
    main()
