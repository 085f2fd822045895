"""Strategy 2, version-based optimistic locking, made real with statehub.

Mirrors the lesson's "State Synchronization / Strategy 2: Version-Based (Optimistic
Locking)" (``VersionedState``). Every statehub entry has a version (1 on create, +1
per change; an absent key is version 0). ``put(..., expect_version=N)`` writes only
if the key is still at version N, else raises :class:`statehub.ConflictError`
carrying the version expected and the version found. The check happens inside the
commit, so it holds across threads, processes and machines.

The second half does the same with ``update(key, fn)``, which re-reads and retries
by itself until its write lands on the version it read.

Run:  python examples/versioned_state.py [FILE]    (default: an in-memory hub)
"""

from __future__ import annotations

import sys

import statehub

KEY = "global/document"


def read(agent: statehub.Agent) -> tuple[str | None, int]:
    """The document's value and version, as the lesson's ``read`` (absent: version 0)."""
    entry = agent.entry(KEY)
    return (None, 0) if entry is None else (entry.value, entry.version)


def write(agent: statehub.Agent, value: str, expected_version: int) -> bool:
    """Write only if the document is still at ``expected_version`` (optimistic lock)."""
    try:
        entry = agent.put(KEY, value, expect_version=expected_version)
    except statehub.ConflictError as exc:
        print(
            f"  ❌ {agent.name}: Version conflict on 'document'! "
            f"Expected v{exc.expected}, current is v{exc.actual}"
        )
        return False
    print(f"  ✅ {agent.name}: Wrote 'document' = {entry.value} (v{entry.version})")
    return True


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    with statehub.open(args[0] if args else "memory://") as hub:
        agent_a, agent_b = hub.agent("agent_a"), hub.agent("agent_b")
        print("Version-based conflict resolution:\n")

        _, ver_a = read(agent_a)  # Agent A reads, gets version 0
        print(f"  agent_a reads 'document': v{ver_a}")
        _, ver_b = read(agent_b)  # Agent B also reads, gets version 0
        print(f"  agent_b reads 'document': v{ver_b}")

        write(agent_a, "Agent A's edit", ver_a)  # succeeds: v1
        write(agent_b, "Agent B's edit", ver_b)  # fails: the document is at v1 now

        _, ver_b = read(agent_b)  # Agent B re-reads and retries
        write(agent_b, "Agent B's edit (retry)", ver_b)

        print("\nThe same with update(): statehub re-reads and retries by itself:\n")
        attempts: list[int] = []

        def add_note(document: str) -> str:
            _, version = read(agent_b)
            attempts.append(version)
            print(f"  agent_b: attempt {len(attempts)} read v{version}: {document!r}")
            if len(attempts) == 1:  # agent_a writes between agent_b's read and write
                entry = agent_a.put(KEY, "Agent A's second edit")
                print(f"  ✅ agent_a: Wrote 'document' = {entry.value} (v{entry.version})")
            return f"{document} + B's note"

        entry = agent_b.update(KEY, add_note)
        replaced = entry.replaced
        assert replaced is not None
        print(
            f"  ✅ agent_b: update wrote 'document' = {entry.value} (v{entry.version}) "
            f"after {len(attempts)} attempts, on top of {replaced.updated_by}'s "
            f"v{replaced.version}"
        )


if __name__ == "__main__":
    main()
