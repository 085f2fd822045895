"""``statehub demo``: the lesson's TaskTracker for real, four agents in four processes.

A coordinator, a researcher, a writer and a reviewer run as separate OS processes on
one hub (an embedded SQLite file by default) and work through three tasks. Along the
way they show every pattern of the lesson: a lock blocking a second agent, an
optimistic conflict and its retry, reducer-based task counters, a merge of report
fields from three agents, message passing with per-agent views, and a checkpoint with
a rollback after a failed step. The parent process watches the hub and narrates each
step as it is committed, then prints the history, the diff between the checkpoint and
the end, and how to explore the file further.

The agents wait for one another through the hub itself (``watch``), never by sleeping.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

import statehub
from statehub.errors import ConflictError, LockedError

__all__ = ["AGENTS", "DEFAULT_URL", "run_demo"]

DEFAULT_URL = "sqlite:///statehub-demo.db"
"""Where the demo runs unless told otherwise (the file is made afresh each run)."""

AGENTS = ("coordinator", "researcher", "writer", "reviewer")
"""The team, one process each."""

STORY = "global/demo/story"
"""Each agent appends what it just did here; the parent narrates it."""

TASKS = {
    "research": "Research AI trends",
    "write": "Write the report",
    "review": "Review the report",
}
TIMEOUT = 30.0
"""The longest any agent waits for another before the demo fails."""

_COLOURS = {"coordinator": "cyan", "researcher": "green", "writer": "magenta", "reviewer": "yellow"}


def _wait_until(hub: statehub.Hub, condition: Callable[[], bool]) -> None:
    """Block until ``condition()`` holds, re-checking at each commit to the hub."""
    since = hub.revision
    if condition():
        return
    deadline = time.monotonic() + TIMEOUT
    for _ in hub.watch("", since=since, timeout=TIMEOUT):
        if condition():
            return
        if time.monotonic() > deadline:
            break
    raise TimeoutError("the demo's agents stopped making progress")


def _say(agent: statehub.Agent, text: str) -> None:
    agent.dispatch(STORY, {"agent": agent.name, "text": text}, reducer="append")


def _flag(hub: statehub.Hub, name: str) -> Callable[[], bool]:
    reader = hub.agent("demo")
    return lambda: reader.get(f"global/demo/flags/{name}") is not None


def _set_flag(agent: statehub.Agent, name: str) -> None:
    agent.put(f"global/demo/flags/{name}", True)


def _task_id(hub: statehub.Hub, name: str) -> str:
    ids = hub.agent("demo").get("global/demo/task_ids") or {}
    task_id: str = ids[name]
    return task_id


# -- the four agents -------------------------------------------------------------------


def _coordinator(hub: statehub.Hub) -> None:
    me = hub.agent("coordinator")
    with me.lock("global/task_plan", ttl=10) as lease:
        me.put("global/task_plan", ["research", "write", "review"], fence=lease.fence)
        _say(me, f"locked the task plan (fence {lease.fence}) and wrote it")
        _set_flag(me, "plan-locked")
        _wait_until(hub, _flag(hub, "researcher-blocked"))
        _say(me, "releases the task plan lock")
    ids = {}
    for name, title in TASKS.items():
        task = me.tasks.create(title, payload={"step": name})
        ids[name] = task.id
        me.dispatch("global/task_counts", {"type": "ADD", "task": title}, reducer="tasks")
    me.put("global/demo/task_ids", ids)
    _say(me, f"created {len(ids)} tasks; the tasks reducer counts them")
    me.send("researcher", {"task": "Research AI"})
    me.send_update("writer", "task", "Write report")
    _say(me, "sent the researcher its task, and the writer a state update")
    _wait_until(hub, lambda: all(_flag(hub, f"{role}-finished")() for role in AGENTS[1:]))
    checkpoint = me.checkpoint("before-publish")
    _say(me, f"all tasks are done: checkpoint 'before-publish' at revision {checkpoint.revision}")
    me.merge("global/report", {"status": "ERROR: publish failed", "published": False})
    _say(me, "publishing failed half-way and left the report broken")
    revision = me.rollback("before-publish", prefix="global/report")
    _say(me, f"rolled the report back to 'before-publish' (revision {revision})")


def _researcher(hub: statehub.Hub) -> None:
    me = hub.agent("researcher")
    _wait_until(hub, _flag(hub, "plan-locked"))
    try:
        me.put("global/task_plan", ["research only"])
    except LockedError as exc:
        _say(me, f"tried to change the task plan: blocked, locked by {exc.holder}")
    _set_flag(me, "researcher-blocked")
    with me.lock("global/task_plan", ttl=10, wait=TIMEOUT) as lease:
        plan = me.get("global/task_plan")
        _say(me, f"got the lock once it was released (fence {lease.fence}); plan is {plan}")
    for message in me.receive(wait=TIMEOUT):
        _say(me, f"received {message.body} from {message.sender}")
        me.ack(message)
    _wait_until(hub, lambda: me.get("global/demo/task_ids") is not None)
    task = me.tasks.claim(_task_id(hub, "research"), lease=30)
    me.tasks.progress(task, 0.5, result={"partial": "3 trends so far"})
    me.tasks.complete(task, result={"trends": 5})
    me.dispatch("global/task_counts", {"type": "COMPLETE"}, reducer="tasks")
    _say(me, f"completed '{task.title}' (progress 0.5 reported on the way)")
    me.send_update("writer", "findings", "5 key trends")
    me.merge("global/report", {"title": "AI Trends 2025", "research": "Complete"})
    _say(me, "merged its fields into the report")
    _set_flag(me, "researcher-finished")


def _edit_with_conflict(hub: statehub.Hub, me: statehub.Agent, other: str, first: bool) -> None:
    """Both agents read the doc at version 0; the first writes; the second conflicts."""
    seen = me.entry("global/doc")
    version = 0 if seen is None else seen.version
    _set_flag(me, f"{me.name}-read-doc")
    _wait_until(hub, _flag(hub, f"{other}-read-doc"))
    if not first:
        _wait_until(hub, _flag(hub, f"{other}-wrote-doc"))
    try:
        me.put("global/doc", f"{me.name}'s edit", expect_version=version)
        _say(me, f"wrote the doc at version {version + 1}")
    except ConflictError as exc:
        _say(me, f"conflict on the doc: expected v{exc.expected}, found v{exc.actual}; retrying")
        entry = me.update("global/doc", lambda doc: f"{doc} + {me.name}'s edit")
        _say(me, f"retried and wrote the doc at version {entry.version}")
    _set_flag(me, f"{me.name}-wrote-doc")


def _writer(hub: statehub.Hub) -> None:
    me = hub.agent("writer")
    _edit_with_conflict(hub, me, "reviewer", first=True)
    _wait_until(hub, lambda: me.get("global/demo/task_ids") is not None)
    task = me.tasks.claim(_task_id(hub, "write"), lease=30)
    while "findings" not in me.view():
        me.receive(wait=TIMEOUT)
    _say(me, f"its own view of state, from the updates it received: {me.view()}")
    me.tasks.complete(task, result={"words": 2500})
    me.dispatch("global/task_counts", {"type": "COMPLETE"}, reducer="tasks")
    me.merge("global/report", {"draft": "Written", "word_count": 2500})
    _say(me, f"completed '{task.title}' and merged its fields into the report")
    _set_flag(me, "writer-finished")


def _reviewer(hub: statehub.Hub) -> None:
    me = hub.agent("reviewer")
    _edit_with_conflict(hub, me, "writer", first=False)
    _wait_until(hub, lambda: me.get("global/demo/task_ids") is not None)
    task = me.tasks.claim(_task_id(hub, "review"), lease=30)
    me.tasks.fail(task, error="one claim has no source")
    me.dispatch("global/task_counts", {"type": "FAIL"}, reducer="tasks")
    me.merge("global/report", {"reviewed": True, "score": 0.92})
    _say(me, f"failed '{task.title}' (one claim has no source) and merged its review")
    _set_flag(me, "reviewer-finished")


_ROLES: dict[str, Callable[[statehub.Hub], None]] = {
    "coordinator": _coordinator,
    "researcher": _researcher,
    "writer": _writer,
    "reviewer": _reviewer,
}


def _agent_process(role: str, url: str) -> None:
    with statehub.open(url) as hub:
        _ROLES[role](hub)
        hub.agent(role).put(f"global/demo/done/{role}", True)


# -- the parent: narrate, then summarise ---------------------------------------------


@dataclass(frozen=True)
class DemoOutcome:
    """What the demo left in the hub, for callers and tests."""

    url: str
    revision: int
    task_counts: dict[str, Any]
    report: dict[str, Any]


def _fresh_url(url: str) -> str:
    """The default file is made afresh; any other hub must be empty."""
    if url == DEFAULT_URL:
        for suffix in ("", "-wal", "-shm"):
            Path(f"statehub-demo.db{suffix}").unlink(missing_ok=True)
    with statehub.open(url) as hub:
        if hub.revision:
            raise statehub.InvalidArgument(
                f"{hub.url!r} is not empty: give the demo a new file or ?hub=<new name>"
            )
    return url


def _narrate(console: Console, hub: statehub.Hub, processes: list[BaseProcess]) -> None:
    """Print each story line as it is committed, until every agent is done."""
    reader = hub.agent("demo")
    position = 0
    deadline = time.monotonic() + TIMEOUT
    while not all(reader.get(f"global/demo/done/{role}") for role in AGENTS):
        for change in hub.watch("global/demo/", since=position, timeout=0.5):
            position = change.revision
            deadline = time.monotonic() + TIMEOUT
            if change.key == STORY and isinstance(change.cause, dict):
                line = change.cause["action"]
                colour = _COLOURS.get(line["agent"], "white")
                who = f"[{colour}]{line['agent']:>11}[/]"
                console.print(f"[dim]r{change.revision:>3}[/] {who} {line['text']}")
        stopped = [p.name for p in processes if p.exitcode not in (None, 0)]
        if stopped or time.monotonic() > deadline:
            raise RuntimeError(f"the demo's agents stopped making progress ({stopped})")


def _summary(console: Console, hub: statehub.Hub) -> None:
    table = Table(title="History: who changed what, when, at which version")
    for column in ("rev", "time", "agent", "op", "key", "version"):
        table.add_column(column, no_wrap=column == "key")
    for change in hub.history():
        if change.key.startswith(("global/demo/", "_")):
            continue
        table.add_row(
            str(change.revision),
            change.time.strftime("%H:%M:%S.%f")[:-3],
            change.agent,
            change.op,
            change.key,
            f"{change.prev_version} → {change.version}",
        )
    console.print(table)
    failed_step = hub.history(key="global/report")[-1].revision - 1
    for title, end in (("the failed publish", failed_step), ("the end", "head")):
        diff = hub.diff("before-publish", end, prefix="global/report")
        console.print(f"[bold]Diff from checkpoint 'before-publish' to {title}:[/]")
        for line in diff.render() or ["(none: the rollback restored the checkpoint)"]:
            console.print(f"  {line}")


def run_demo(url: str = DEFAULT_URL, console: Console | None = None) -> DemoOutcome:
    """Run the demo on ``url``; return what it left in the hub.

    Raises:
        InvalidArgument: ``url`` names a hub that is not empty (the default file is
            recreated instead).
    """
    console = console or Console()
    url = _fresh_url(url)
    started = time.monotonic()
    console.print(f"[bold]statehub demo[/]: four agents, four processes, one hub at {url}\n")
    context = multiprocessing.get_context("spawn")
    processes: list[BaseProcess] = [
        context.Process(target=_agent_process, args=(role, url), name=role) for role in AGENTS
    ]
    with statehub.open(url) as hub:
        for process in processes:
            process.start()
        try:
            _narrate(console, hub, processes)
        finally:
            for process in processes:
                process.join(TIMEOUT)
        failed = [p.name for p in processes if p.exitcode != 0]
        if failed:
            raise RuntimeError(f"agent processes failed: {failed}")
        console.print()
        _summary(console, hub)
        reader = hub.agent("demo")
        outcome = DemoOutcome(
            url, hub.revision, reader.get("global/task_counts"), reader.get("global/report")
        )
    counts = outcome.task_counts
    console.print(
        f"\nTasks: {counts['completed']}/{counts['total']} completed, {counts['failed']} failed"
        f" · report: {outcome.report}"
        f"\nDone in {time.monotonic() - started:.1f} s, {outcome.revision} revisions."
        f"\nExplore it: python -c \"import statehub; h = statehub.open('{url}'); "
        "print(h.history(key='global/report'))\""
    )
    return outcome
