"""Task state, made real with statehub: create, claim, progress, complete, fail, retry.

The lesson keeps "task state" (progress, intermediate results, the assigned agent)
next to global and agent-local state, and tracks tasks with a reducer (``ADD``,
``COMPLETE``, ``FAIL``). Here a coordinator creates three tasks at ``task/<id>``;
two workers take them with ``next()`` (an atomic claim under a lease: two agents
claiming at once never both win), report progress and intermediate results, and
complete or fail them. A third worker stops answering while it holds a claim: once
its lease runs out, another worker takes the task over, and the stalled worker's
late write is refused by its fence. The lesson's ``tasks`` reducer keeps the
counters, in each transition's own commit; the history of a task is the hub's
history of its key.

Run:  python examples/task_claiming.py [FILE]    (default: an in-memory hub)
"""

from __future__ import annotations

import sys
import time

import statehub
from statehub.tasks import STATUSES, StaleClaim, Task, TaskClaimed, Tasks

COUNTERS = "global/task_counts"
"""Where the lesson's task reducer keeps its counters."""

TITLES = ["Research AI trends", "Write the report", "Review the draft"]


def claimed(worker: Tasks, task: Task | None, how: str) -> Task:
    """Print who claimed what, and return the task."""
    assert task is not None
    print(
        f"  {worker.agent.name} claimed {task.title!r} {how} "
        f"(fence {task.fence}, attempt {task.attempts})"
    )
    return task


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    with statehub.open(args[0] if args else "memory://") as hub:
        coordinator, researcher, writer, editor = (
            Tasks(hub.agent(name), counters=COUNTERS)
            for name in ("coordinator", "researcher", "writer", "editor")
        )

        print("Task claiming:\n")
        for title in TITLES:
            task = coordinator.create(title, payload={"title": title})
            print(f"  coordinator created {task.title!r} ({task.status})")

        research = claimed(researcher, researcher.next(lease=60), "with next()")
        report = claimed(writer, writer.next(lease=60), "with next()")
        try:
            writer.claim(research.id)
        except TaskClaimed as exc:
            print(f"  writer cannot claim {research.title!r}: claimed by {exc.holder}")

        half = researcher.progress(research, 0.5, result={"partial": ["agents", "state"]})
        print(f"  researcher progress {half.progress:.0%}: {half.result}")
        done = researcher.complete(research, result={"trends": 5})
        print(f"  researcher completed {done.title!r}: {done.result}")
        failed = writer.fail(report, error="source unavailable")
        print(f"  writer failed {failed.title!r}: {failed.error}")

        stalled = editor.next(lease=0.2)
        assert stalled is not None
        print(f"  editor claimed {stalled.title!r} for 0.2 s, then stopped answering")
        assert stalled.lease_expires_ts is not None
        time.sleep(max(0.0, stalled.lease_expires_ts - time.time()) + 0.05)
        review = claimed(researcher, researcher.next(lease=60), "after the lease ran out")
        try:
            editor.complete(stalled, result={"approved": False})
        except StaleClaim as exc:
            print(
                f"  editor's late complete refused (StaleClaim): fence {exc.fence} "
                f"is not the current claim's ({exc.current})"
            )
        done = researcher.complete(review, result={"approved": True})
        print(f"  researcher completed {done.title!r}: {done.result}")

        print("\nTasks by status:")
        for status in STATUSES:
            print(f"  {status}: {[task.title for task in coordinator.list(status)]}")

        retried = coordinator.retry(report)
        print(f"\ncoordinator retried {retried.title!r}: {retried.status}")
        again = claimed(writer, writer.next(lease=60), "with next()")
        done = writer.complete(again, result={"words": 2500})
        print(f"  writer completed {done.title!r}: {done.result}")

        counts = hub.agent("coordinator").get(COUNTERS)
        print(
            f"\nCounters (the lesson's tasks reducer): total {counts['total']}, "
            f"completed {counts['completed']}, failed {counts['failed']}"
        )

        print(f"\nHistory of {report.title!r}:")
        for change in hub.history(key=report.key):
            print(f"  rev {change.revision}: {change.agent} {change.label}")


if __name__ == "__main__":
    main()
