"""Pattern 1, the centralized state store, made real with statehub.

Mirrors the lesson's "Shared State Patterns / Pattern 1: Centralized State Store"
(``CentralizedStateStore``). One hub is the single source of truth for every agent:
any agent reads any shared key at any time, and every write lands in the hub's
audit log (the lesson's ``_access_log``).

The lesson guards its task plan with ``lock``/``unlock``. statehub's leased locks
arrive in a later release; what exists now is *ownership*: ``put(..., owner=True)``
makes the writer the key's owner, and statehub refuses every other agent's write
to it with :class:`statehub.AccessDenied` (nothing is written, nothing is logged).

Run:  python examples/centralized_store.py [FILE]    (default: an in-memory hub)
"""

from __future__ import annotations

import sys

import statehub


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    with statehub.open(args[0] if args else "memory://") as store:
        coordinator = store.agent("coordinator")
        researcher = store.agent("researcher")
        print("Centralized state store (one hub for all agents):\n")

        # Coordinator owns the task plan: only it may write the key from now on
        plan = coordinator.put("global/task_plan", ["step1", "step2", "step3"], owner=True)
        print(
            f"  ✅ coordinator wrote 'task_plan': {plan.value} "
            f"(v{plan.version}, owner: {plan.owner})"
        )

        # Researcher tries to modify the task plan: blocked
        try:
            researcher.put("global/task_plan", ["modified"])
        except statehub.AccessDenied as exc:
            print(f"  ⚠ {exc.agent}: Key 'task_plan' refused (AccessDenied): {exc.reason}")

        # ...but reading is open to every agent, and the plan is untouched
        print(f"  Researcher reads 'task_plan': {researcher.get('global/task_plan')}")

        # Researcher can write to its own keys freely
        researcher.put("global/research_output", "findings here")
        print(f"  ✅ Research output: {coordinator.get('global/research_output')}")

        print("\nAudit log (the refused write is not in it):")
        for change in store.history():
            print(f"  rev {change.revision}: {change.agent} {change.op} {change.key}")


if __name__ == "__main__":
    main()
