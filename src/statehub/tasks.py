"""Task state: ``task/<id>`` records with a status machine, claimed under leases.

>>> import statehub
>>> hub = statehub.open("memory://")
>>> coordinator, researcher = hub.agent("coordinator"), hub.agent("researcher")
>>> task = coordinator.tasks.create("Research AI trends", payload={"topic": "AI"})
>>> task.status, task.key == f"task/{task.id}"
('pending', True)
>>> task = researcher.tasks.claim(task.id, lease=60)
>>> task.status, task.assignee, task.attempts
('claimed', 'researcher', 1)
>>> researcher.tasks.progress(task.id, 0.5, result={"partial": ["trend 1"]}).progress
0.5
>>> researcher.tasks.complete(task.id, result={"trends": 5}).status
'completed'
>>> [done.title for done in coordinator.tasks.list(status="completed")]
['Research AI trends']

The status machine: each arrow is one commit, but for a lease running out, which
writes nothing (the task just reads as pending from then on); ``progress`` and
``renew`` keep a task claimed. Anything else raises and writes nothing::

    create ──▶ pending ──claim, next──▶ claimed ──complete──▶ completed
                ▲    ▲                   │    │
                │    └─ release, lease ──┘    └──fail──▶ failed
                │        runs out                          │
                └───────────────── retry ◀─────────────────┘

| action | from | to | who |
| --- | --- | --- | --- |
| ``create`` | (absent) | pending | any agent |
| ``claim``, ``next`` | pending, or claimed with an expired lease | claimed | any agent |
| ``progress``, ``renew`` | claimed | claimed (lease extended) | the holder |
| ``complete`` / ``fail`` | claimed | completed / failed | the holder |
| ``release`` | claimed | pending | the holder |
| ``retry`` | failed | pending | any agent |

Decisions:

- **The record** is one JSON object at ``task/<id>``: ``id``, ``title``,
  ``payload``, ``status``, ``assignee``, ``fence``, ``lease``,
  ``lease_expires_ts``, ``attempts``, ``progress``, ``result``, ``error``,
  ``created_by``, ``created_ts``. Keys under ``task/<id>/...`` stay free for the
  task's own state; they are never mistaken for tasks. The history of a task's
  transitions is the hub's history of its key: each change is labelled with the
  action (``create``, ``claim``, ``progress``, ...) and attributed to the agent.
- **One commit per transition, compared on the record's version.** A transition
  reads the record, checks that the action is legal (else :class:`IllegalTransition`
  and nothing is written) and commits the new record with ``expect_version`` set to
  the version it read. If anything changed in between, the commit fails, the
  record is read again and the check is made again, so two agents claiming at once
  cannot both win: the loser gets :class:`TaskClaimed`, naming the winner.
- **Leases live in the record.** A claim stores its lease length and
  ``lease_expires_ts``; nothing is written when a lease runs out. A claimed task
  whose lease has run out *reads* as pending (``Task.status``, ``list``, ``next``)
  and may be claimed again. Until another agent does, its holder may still report
  progress and finish it (as with :mod:`statehub.locks`: nothing was lost). Every
  ``progress`` and ``renew`` by the holder extends the lease by its length: a
  progress report is a heartbeat. Expiry is judged by the acting process's clock
  (``time.time()``), as a key's TTL is when read: agents on several machines need
  clocks in step to well within a lease (as NTP keeps them).
- **Fencing.** Each claim gets a fence: the version of the task record the claim
  commit writes (known before the commit, so it is part of the compared record,
  and strictly larger for every later claim of the task). ``Task.fence`` carries
  it; pass the ``Task`` itself (or ``fence=``) to ``progress``, ``renew``,
  ``complete``, ``fail`` and ``release`` and a holder whose claim was taken over
  (say a process paused past its lease, or a restarted process of the same agent
  name) is refused with :class:`StaleClaim`, a :class:`~statehub.StaleFenceError`,
  and writes nothing. Given a bare id, the check is that the caller is the holder.
  We chose the version over :mod:`statehub.locks` (a lease row on the task key)
  because a lock would take a second commit per claim (not atomic with the status
  change), would need its own reads to tell expired claims, and would lock out
  every other writer of the task key.
- **Ids** are 16 characters, time-ordered and valid key segments: 10 characters of
  milliseconds since the epoch and 6 random ones, in lowercase Crockford base 32
  (``01jdz3k4m5n6p7q8``). Within one process they strictly increase; across
  processes they are ordered to the millisecond. ``next`` claims the first pending
  task in id order, which is creation order for generated ids. An id of your own
  (``create(..., task_id=...)``) makes creation idempotent: a second create with it
  raises :class:`TaskExists`.
- **Counters** are the lesson's ``tasks`` reducer (:func:`statehub.reducers.tasks`):
  ``Tasks(agent, counters="global/task_counts")`` dispatches ``ADD`` on create,
  ``COMPLETE`` on complete and ``FAIL`` on fail to that key, in the transition's own
  commit, so the counts never drift from the records. ``agent.tasks`` keeps none.
- **Reads**: ``list`` and ``next`` read every record under ``task/`` in one scan
  (keys under ``task/<id>/`` included), which suits the thousands of tasks of a team
  run; no index key is kept, so there is nothing that could disagree with the records.
- **asyncio:** :class:`AsyncTasks` is the awaited twin, each call on a worker thread
  (as :mod:`statehub.aio` does for the rest of the API).
"""

from __future__ import annotations

import asyncio
import builtins
import functools
import math
import secrets
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Concatenate, Final, Literal, ParamSpec, TypeVar, get_args

from statehub.errors import (
    ConflictError,
    InvalidArgument,
    InvalidKey,
    StaleFenceError,
    StatehubError,
)
from statehub.keys import validate_key
from statehub.retry import backoff

if TYPE_CHECKING:
    from statehub.aio import AsyncAgent
    from statehub.hub import Agent
    from statehub.model import Entry

__all__ = [
    "CLAIMED",
    "COMPLETED",
    "DEFAULT_LEASE",
    "FAILED",
    "PENDING",
    "STATUSES",
    "TASK_SCOPE",
    "AsyncTasks",
    "IllegalTransition",
    "StaleClaim",
    "Status",
    "Task",
    "TaskClaimed",
    "TaskError",
    "TaskExists",
    "TaskNotFound",
    "TaskRef",
    "Tasks",
    "new_task_id",
    "task_key",
]

Status = Literal["pending", "claimed", "completed", "failed"]
"""A task's status."""

PENDING: Final = "pending"
"""Waiting to be claimed (also: claimed, but the claim's lease has run out)."""

CLAIMED: Final = "claimed"
"""Held by one agent under a lease."""

COMPLETED: Final = "completed"
"""Finished with a result (final)."""

FAILED: Final = "failed"
"""Finished with an error (``retry`` makes it pending again)."""

STATUSES: tuple[Status, ...] = get_args(Status)
"""Every status, in the order of the status machine."""

TASK_SCOPE: Final = "task/"
"""The scope task records live in: the record of task ``<id>`` is ``task/<id>``."""

DEFAULT_LEASE = 60.0
"""Seconds a claim lasts unless renewed (by ``progress`` or ``renew``)."""

_RETRIES = 100
"""Attempts a transition makes while the record keeps changing under it."""

_UNSET: Any = object()

_FIELDS = frozenset(
    {
        "id",
        "title",
        "payload",
        "status",
        "assignee",
        "fence",
        "lease",
        "lease_expires_ts",
        "attempts",
        "progress",
        "result",
        "error",
        "created_by",
        "created_ts",
    }
)


# =========================================================================== errors


class TaskError(StatehubError):
    """The base of the errors of task operations.

    Attributes:
        task_id: the task's id.
    """

    def __init__(self, task_id: str, message: str) -> None:
        self.task_id = task_id
        StatehubError.__init__(self, message)


class TaskNotFound(TaskError, LookupError):
    """No task has that id (or its key holds something that is not a task record)."""

    def __init__(self, task_id: str, detail: str = "") -> None:
        message = f"no task {task_id!r}"
        TaskError.__init__(self, task_id, f"{message} ({detail})" if detail else message)


class TaskExists(TaskError):
    """``create`` with an id that a task (or another value) already has; nothing written."""

    def __init__(self, task_id: str) -> None:
        TaskError.__init__(self, task_id, f"task {task_id!r} exists already")


class IllegalTransition(TaskError):
    """The action is not allowed from the task's status, or not by this agent.

    Nothing was written.

    Attributes:
        task_id: the task's id.
        action: what was asked (``claim``, ``complete``, ...).
        status: the task's status when asked (an expired claim reads as pending).
        holder: the agent holding (or last holding) the task's claim, or ``None``.
        agent: the agent that asked.
    """

    def __init__(
        self,
        task_id: str,
        action: str,
        status: str,
        holder: str | None,
        agent: str,
        reason: str | None = None,
    ) -> None:
        self.action = action
        self.status = status
        self.holder = holder
        self.agent = agent
        why = reason or f"its status is {status!r}"
        TaskError.__init__(self, task_id, f"{agent!r} cannot {action} task {task_id!r}: {why}")


class TaskClaimed(IllegalTransition):
    """A claim of a task another claim holds (its lease has not run out); nothing written.

    Attributes:
        holder: the agent holding the claim.
        expires_ts: when its lease runs out unless renewed, seconds since the epoch.
        expires_at: the same, as an aware UTC datetime.
    """

    holder: str

    def __init__(self, task_id: str, holder: str, expires_ts: float, agent: str) -> None:
        self.expires_ts = expires_ts
        self.expires_at = datetime.fromtimestamp(expires_ts, UTC)
        until = self.expires_at.isoformat(timespec="milliseconds")
        IllegalTransition.__init__(
            self, task_id, "claim", CLAIMED, holder, agent, f"claimed by {holder!r} until {until}"
        )


class StaleClaim(TaskError, StaleFenceError):
    """A holder's write carried the fence of a claim that is no longer the task's.

    Its lease ran out and another claim took the task over, or it was released: the
    caller must not act as the holder. Nothing was written. Also a
    :class:`~statehub.StaleFenceError`.

    Attributes:
        task_id: the task's id.
        key: the task's key.
        fence: the fence the caller carried.
        current: the fence of the task's latest claim.
        holder: the agent holding that claim (``None`` if the task is not claimed).
    """

    def __init__(self, task_id: str, fence: int, current: int, holder: str | None) -> None:
        self.key = task_key(task_id)
        self.fence = fence
        self.current = current
        self.holder = holder
        held = f"held by {holder!r}" if holder is not None else "no longer held"
        TaskError.__init__(
            self,
            task_id,
            f"stale claim on task {task_id!r}: fence {fence} is not its current claim "
            f"(fence {current}, {held})",
        )


# =========================================================================== ids and keys

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
"""Crockford's base 32, lowercase: ascending in ASCII, so ids sort as numbers."""

_TIME_CHARS = 10
_RANDOM_CHARS = 6
_RANDOM_LIMIT = 1 << (5 * _RANDOM_CHARS)


def _base32(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, digit = divmod(number, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


class _IdClock:
    """Hands out (milliseconds, random) pairs that strictly increase in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = (0, 0)

    def next(self) -> tuple[int, int]:
        with self._lock:
            millis = time.time_ns() // 1_000_000
            last_millis, last_random = self._last
            if millis > last_millis:
                pair = (millis, secrets.randbits(5 * _RANDOM_CHARS))
            elif last_random + 1 < _RANDOM_LIMIT:
                pair = (last_millis, last_random + 1)
            else:
                pair = (last_millis + 1, secrets.randbits(5 * _RANDOM_CHARS - 1))
            self._last = pair
            return pair


_ID_CLOCK = _IdClock()


def new_task_id() -> str:
    """A fresh task id: 16 characters, time-ordered, a valid key segment.

    >>> first, second = new_task_id(), new_task_id()
    >>> len(first), first < second
    (16, True)
    """
    millis, random_part = _ID_CLOCK.next()
    return _base32(millis, _TIME_CHARS) + _base32(random_part, _RANDOM_CHARS)


def task_key(task_id: str) -> str:
    """The key of task ``task_id``'s record.

    Raises:
        InvalidKey: ``task_id`` is not one key segment.

    >>> task_key("01jdz3k4m5n6p7q8")
    'task/01jdz3k4m5n6p7q8'
    """
    if not isinstance(task_id, str):
        raise InvalidKey(task_id, f"a task id must be a str, not {type(task_id).__name__}")
    if "/" in task_id:
        raise InvalidKey(task_id, "a task id is one key segment (no '/')")
    return validate_key(TASK_SCOPE + task_id)


# =========================================================================== the record


def _check_lease(lease: object, name: str = "lease") -> float:
    if not isinstance(lease, int | float) or isinstance(lease, bool) or not 0 < lease < 10**9:
        raise InvalidArgument(f"{name} must be a positive number of seconds, not {lease!r}")
    return float(lease)


def _check_fence(fence: object) -> int | None:
    if fence is None:
        return None
    if not isinstance(fence, int) or isinstance(fence, bool) or fence < 1:
        raise InvalidArgument(f"fence must be an int >= 1, not {fence!r}")
    return fence


def _parse(task_id: str, value: Any) -> dict[str, Any] | None:
    """The record, if ``value`` is a task record of ``task_id``; else ``None``."""
    if not isinstance(value, dict) or not value.keys() >= _FIELDS:
        return None
    if value["id"] != task_id or value["status"] not in STATUSES:
        return None
    return value


def _status(record: dict[str, Any], now: float) -> Status:
    """The status as read at ``now``: a claim whose lease has run out reads as pending."""
    status: Status = record["status"]
    if status == CLAIMED and record["lease_expires_ts"] <= now:
        return PENDING
    return status


@dataclass(frozen=True, slots=True)
class Task:
    """A task as read at one moment (immutable; the store's record is ``task/<id>``).

    Attributes:
        id: the task's id (its key is ``task/<id>``).
        title: what the task is, for people.
        payload: the task's input (any JSON value).
        status: ``pending``, ``claimed``, ``completed`` or ``failed``; a claim whose
            lease has run out reads as ``pending``.
        assignee: the agent holding the claim; on a pending task, the holder of a
            claim whose lease ran out (it may still finish the task until another
            agent claims it), else ``None``.
        fence: the fence of the task's latest claim (0 before the first): pass this
            ``Task`` (or ``fence=``) to the holder's calls to be refused, rather than
            overwrite, once the claim is taken over.
        lease: the latest claim's lease, in seconds (``None`` before the first claim).
        lease_expires_ts: when that lease runs out unless renewed, seconds since the
            epoch (``None`` before the first claim).
        attempts: how many times the task has been claimed.
        progress: the fraction done, 0.0 to 1.0, as last reported.
        result: the latest intermediate result, or the final one once completed.
        error: why the task failed (``None`` unless failed).
        created_by: the agent that created the task.
        created_ts: when, seconds since the epoch.
        version: the record's version (+1 per transition).
        modified_rev: the revision of the record's latest transition.
        updated_by: the agent that made it.
        updated_ts: when, seconds since the epoch.
    """

    id: str
    title: str
    payload: Any
    status: Status
    assignee: str | None
    fence: int
    lease: float | None
    lease_expires_ts: float | None
    attempts: int
    progress: float
    result: Any
    error: str | None
    created_by: str
    created_ts: float
    version: int
    modified_rev: int
    updated_by: str
    updated_ts: float

    @classmethod
    def from_entry(cls, entry: Entry, now: float | None = None) -> Task:
        """The task stored in ``entry`` (a ``task/<id>`` entry), its status as of ``now``.

        Raises:
            TaskNotFound: the entry does not hold a task record.
        """
        task_id = entry.key.removeprefix(TASK_SCOPE)
        record = _parse(task_id, entry.value)
        if record is None:
            raise TaskNotFound(task_id, f"{entry.key!r} does not hold a task record")
        return cls._make(entry, record, time.time() if now is None else now)

    @classmethod
    def _make(cls, entry: Entry, record: dict[str, Any], now: float) -> Task:
        return cls(
            id=record["id"],
            title=record["title"],
            payload=record["payload"],
            status=_status(record, now),
            assignee=record["assignee"],
            fence=record["fence"],
            lease=record["lease"],
            lease_expires_ts=record["lease_expires_ts"],
            attempts=record["attempts"],
            progress=record["progress"],
            result=record["result"],
            error=record["error"],
            created_by=record["created_by"],
            created_ts=record["created_ts"],
            version=entry.version,
            modified_rev=entry.modified_rev,
            updated_by=entry.updated_by,
            updated_ts=entry.updated_ts,
        )

    @property
    def key(self) -> str:
        """The key of the task's record: ``task/<id>``."""
        return TASK_SCOPE + self.id

    @property
    def lease_expires_at(self) -> datetime | None:
        """When the latest claim's lease runs out, as an aware UTC datetime."""
        ts = self.lease_expires_ts
        return None if ts is None else datetime.fromtimestamp(ts, UTC)

    @property
    def created_at(self) -> datetime:
        """When the task was created, as an aware UTC datetime."""
        return datetime.fromtimestamp(self.created_ts, UTC)

    @property
    def updated_at(self) -> datetime:
        """When the task's latest transition was committed, as an aware UTC datetime."""
        return datetime.fromtimestamp(self.updated_ts, UTC)


TaskRef = str | Task
"""A task argument: its id, or a :class:`Task` (which also carries its claim's fence)."""

_Change = Callable[[dict[str, Any], int, float], dict[str, Any]]
"""Checks a transition on (record, version, now) and returns the new record, or raises."""


def _ref(task: object, fence: object) -> tuple[str, int | None]:
    """The id of ``task`` and the fence to check: ``fence``, else a claimed Task's own."""
    checked = _check_fence(fence)
    if isinstance(task, Task):
        if checked is None and task.fence > 0 and task.assignee is not None:
            checked = task.fence
        return task.id, checked
    if not isinstance(task, str):
        raise InvalidArgument(f"a task is given by its id or a Task, not {type(task).__name__}")
    task_key(task)
    return task, checked


# =========================================================================== the API


class Tasks:
    """The task operations of one agent: ``agent.tasks``.

    Every method that changes a task is one commit on ``task/<id>``, compared on
    the version it read (see the module's documentation for the status machine).
    Task arguments are ids, or :class:`Task` objects, which also carry the fence of
    the claim they came from.

    Args:
        agent: the agent acting (every transition is attributed to it).
        counters: a key to keep the lesson's task counters at (the built-in ``tasks``
            reducer: ``ADD`` on create, ``COMPLETE``, ``FAIL``), updated in each
            transition's own commit; ``None`` keeps none.

    >>> import statehub
    >>> from statehub.tasks import Tasks
    >>> agent = statehub.open("memory://").agent("coordinator")
    >>> tasks = Tasks(agent, counters="global/task_counts")
    >>> _ = tasks.create("Research"); _ = tasks.create("Write")
    >>> tasks.complete(tasks.next(lease=30).id, result="done").title
    'Research'
    >>> counts = agent.get("global/task_counts")
    >>> counts["total"], counts["completed"], counts["failed"]
    (2, 1, 0)
    """

    def __init__(self, agent: Agent, *, counters: str | None = None) -> None:
        self.agent = agent
        self.counters = None if counters is None else validate_key(counters)

    def __repr__(self) -> str:
        return f"<statehub.Tasks of {self.agent.name!r}>"

    # -- reads -------------------------------------------------------------------

    def get(self, task: TaskRef) -> Task | None:
        """The task as it is now, or ``None`` if there is none with that id.

        Raises:
            TaskNotFound: the key holds something that is not a task record.
        """
        task_id, _ = _ref(task, None)
        entry = self.agent.entry(task_key(task_id))
        return None if entry is None else Task.from_entry(entry)

    def _scan(self) -> builtins.list[tuple[Entry, dict[str, Any]]]:
        """Every task record, in id order (keys under ``task/<id>/`` are not records)."""
        found = []
        for entry in self.agent.entries(TASK_SCOPE):
            task_id = entry.key.removeprefix(TASK_SCOPE)
            if "/" in task_id:
                continue
            record = _parse(task_id, entry.value)
            if record is not None:
                found.append((entry, record))
        return found

    def list(
        self, status: Status | None = None, *, assignee: str | None = None
    ) -> builtins.list[Task]:
        """The tasks, in id order (creation order, for generated ids).

        Args:
            status: only tasks with this status; ``"pending"`` includes claims whose
                lease has run out, ``"claimed"`` excludes them.
            assignee: only tasks whose ``assignee`` is this agent.

        Raises:
            InvalidArgument: ``status`` is not a status.

        >>> import statehub
        >>> coordinator = statehub.open("memory://").agent("coordinator")
        >>> _ = coordinator.tasks.create("Research"); _ = coordinator.tasks.create("Write")
        >>> [task.title for task in coordinator.tasks.list(status="pending")]
        ['Research', 'Write']
        """
        if status is not None and status not in STATUSES:
            raise InvalidArgument(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
        now = time.time()
        tasks = (Task._make(entry, record, now) for entry, record in self._scan())
        return [
            task
            for task in tasks
            if (status is None or task.status == status)
            and (assignee is None or task.assignee == assignee)
        ]

    # -- transitions -------------------------------------------------------------

    def _commit(
        self,
        task_id: str,
        record: dict[str, Any],
        version: int,
        action: str,
        counter: dict[str, Any] | None,
    ) -> Task:
        key = task_key(task_id)
        with self.agent.transaction() as tx:
            tx.put(key, record, expect_version=version, label=action)
            if counter is not None and self.counters is not None:
                tx.dispatch(self.counters, counter, reducer="tasks")
        entry = tx.entries[key]
        assert entry is not None
        return Task._make(entry, entry.value, time.time())  # the stored copy, not the caller's

    def _transition(
        self,
        task_id: str,
        action: str,
        change: _Change,
        counter: dict[str, Any] | None = None,
        entry: Entry | None = None,
    ) -> Task:
        """Read, check with ``change``, commit on the version read; again on a conflict."""
        conflict: ConflictError | None = None
        for _ in backoff(base=0.0005, cap=0.01, attempts=_RETRIES):
            if entry is None:
                entry = self.agent.entry(task_key(task_id))
            if entry is None:
                raise TaskNotFound(task_id)
            record = _parse(task_id, entry.value)
            if record is None:
                raise TaskNotFound(task_id, f"{entry.key!r} does not hold a task record")
            new = change(dict(record), entry.version, time.time())
            try:
                return self._commit(task_id, new, entry.version, action, counter)
            except ConflictError as exc:
                conflict, entry = exc, None
        assert conflict is not None
        raise ConflictError(
            conflict.key, conflict.expected, conflict.actual, f"gave up after {_RETRIES} attempts"
        )

    def _hold(
        self, task_id: str, action: str, record: dict[str, Any], now: float, fence: int | None
    ) -> None:
        """Raise unless this agent holds the task's claim (with ``fence``, if given)."""
        me, holder = self.agent.name, record["assignee"]
        if fence is not None and fence != record["fence"]:
            current_holder = holder if record["status"] == CLAIMED else None
            raise StaleClaim(task_id, fence, record["fence"], current_holder)
        if record["status"] != CLAIMED:
            raise IllegalTransition(task_id, action, _status(record, now), holder, me)
        if holder != me:
            raise IllegalTransition(
                task_id,
                action,
                _status(record, now),
                holder,
                me,
                f"it is claimed by {holder!r}, not by {me!r}",
            )

    def create(self, title: str, payload: Any = None, *, task_id: str | None = None) -> Task:
        """Create a pending task at ``task/<id>``.

        Args:
            title: what the task is, for people (a non-empty str).
            payload: the task's input (any JSON value).
            task_id: an id of your own (one key segment); a fresh time-ordered one
                when omitted.

        Returns:
            The new task (status ``pending``).

        Raises:
            TaskExists: ``task_id`` is taken; nothing was written.
            InvalidKey, InvalidValue, InvalidArgument: bad input; nothing was written.

        >>> import statehub
        >>> coordinator = statehub.open("memory://").agent("coordinator")
        >>> task = coordinator.tasks.create("Research AI trends", payload={"topic": "AI"})
        >>> task.status, task.payload, task.created_by
        ('pending', {'topic': 'AI'}, 'coordinator')
        """
        if not isinstance(title, str) or not title:
            raise InvalidArgument(f"title must be a non-empty str, not {title!r}")
        if task_id is not None:
            task_key(task_id)
        for _ in range(_RETRIES):
            new_id = new_task_id() if task_id is None else task_id
            record = {
                "id": new_id,
                "title": title,
                "payload": payload,
                "status": PENDING,
                "assignee": None,
                "fence": 0,
                "lease": None,
                "lease_expires_ts": None,
                "attempts": 0,
                "progress": 0.0,
                "result": None,
                "error": None,
                "created_by": self.agent.name,
                "created_ts": time.time(),
            }
            counter = {"type": "ADD", "task": {"id": new_id, "title": title}}
            try:
                return self._commit(new_id, record, 0, "create", counter)
            except ConflictError:
                if task_id is not None:
                    raise TaskExists(task_id) from None
        raise TaskExists(new_id)  # pragma: no cover - 100 collisions of random ids

    def claim(self, task: TaskRef, *, lease: float = DEFAULT_LEASE) -> Task:
        """Claim a pending task (or one whose claim's lease has run out), atomically.

        Args:
            task: the task's id (or a :class:`Task`).
            lease: seconds the claim lasts unless renewed (``progress`` and ``renew``
                renew it); after that any agent may claim the task again.

        Returns:
            The task, claimed by this agent, with a new ``fence`` and one more attempt.

        Raises:
            TaskClaimed: another claim holds the task (also when it is this agent's);
                of agents claiming at once, exactly one wins and the others get this.
            IllegalTransition: the task is completed or failed.
            TaskNotFound: there is no such task.

        >>> import statehub
        >>> hub = statehub.open("memory://")
        >>> task = hub.agent("coordinator").tasks.create("Research")
        >>> claimed = hub.agent("researcher").tasks.claim(task.id, lease=60)
        >>> claimed.status, claimed.assignee, claimed.fence
        ('claimed', 'researcher', 2)
        >>> hub.agent("writer").tasks.claim(task.id)
        Traceback (most recent call last):
        ...
        statehub.tasks.TaskClaimed: 'writer' cannot claim task ...: claimed by 'researcher' ...
        """
        task_id, _ = _ref(task, None)
        return self._claim(task_id, _check_lease(lease), None)

    def _claim(self, task_id: str, lease: float, entry: Entry | None) -> Task:
        me = self.agent.name

        def change(record: dict[str, Any], version: int, now: float) -> dict[str, Any]:
            status = _status(record, now)
            if status == CLAIMED:
                raise TaskClaimed(task_id, record["assignee"], record["lease_expires_ts"], me)
            if status != PENDING:
                raise IllegalTransition(task_id, "claim", status, record["assignee"], me)
            record.update(
                status=CLAIMED,
                assignee=me,
                fence=version + 1,
                lease=lease,
                lease_expires_ts=now + lease,
                attempts=record["attempts"] + 1,
                error=None,
            )
            return record

        return self._transition(task_id, "claim", change, entry=entry)

    def next(self, *, lease: float = DEFAULT_LEASE) -> Task | None:
        """Claim the oldest pending task (the first in id order), or return ``None``.

        Pending includes claims whose lease has run out. Losing a race for a task
        moves on to the next one, so agents draining a queue at once each get a
        different task, and each task is claimed once.

        Args:
            lease: seconds the claim lasts unless renewed (see :meth:`claim`).

        Returns:
            The task claimed, or ``None`` if no task is pending.

        >>> import statehub
        >>> hub = statehub.open("memory://")
        >>> _ = hub.agent("coordinator").tasks.create("Research")
        >>> hub.agent("researcher").tasks.next(lease=60).title
        'Research'
        >>> print(hub.agent("writer").tasks.next())
        None
        """
        seconds = _check_lease(lease)
        while True:
            now = time.time()
            pending = [entry for entry, record in self._scan() if _status(record, now) == PENDING]
            if not pending:
                return None
            for entry in pending:
                try:
                    return self._claim(entry.key.removeprefix(TASK_SCOPE), seconds, entry)
                except (IllegalTransition, TaskNotFound):
                    continue  # taken (or gone) since the scan: try the next one

    def progress(
        self,
        task: TaskRef,
        fraction: float,
        *,
        result: Any = _UNSET,
        fence: int | None = None,
    ) -> Task:
        """Report how far the holder has got, with an intermediate result; renews the lease.

        Args:
            task: the task's id, or the claimed :class:`Task` (its fence is checked).
            fraction: the fraction done, 0.0 to 1.0.
            result: the intermediate result (any JSON value); kept as is when omitted.
            fence: the claim's fence, checked as :meth:`complete` does.

        Raises:
            StaleClaim: the fence is not the task's current claim's.
            IllegalTransition: the task is not claimed, or not by this agent.
            TaskNotFound: there is no such task.
        """
        task_id, checked = _ref(task, fence)
        if (
            not isinstance(fraction, int | float)
            or isinstance(fraction, bool)
            or not math.isfinite(fraction)
            or not 0 <= fraction <= 1
        ):
            raise InvalidArgument(f"progress must be a number from 0 to 1, not {fraction!r}")

        def change(record: dict[str, Any], version: int, now: float) -> dict[str, Any]:
            self._hold(task_id, "progress", record, now, checked)
            record.update(progress=float(fraction), lease_expires_ts=now + record["lease"])
            if result is not _UNSET:
                record["result"] = result
            return record

        return self._transition(task_id, "progress", change)

    def renew(self, task: TaskRef, *, lease: float | None = None, fence: int | None = None) -> Task:
        """Extend the holder's lease to ``lease`` seconds from now (default: its length).

        Raises:
            StaleClaim: the fence is not the task's current claim's.
            IllegalTransition: the task is not claimed, or not by this agent.
            TaskNotFound: there is no such task.
        """
        task_id, checked = _ref(task, fence)
        seconds = None if lease is None else _check_lease(lease)

        def change(record: dict[str, Any], version: int, now: float) -> dict[str, Any]:
            self._hold(task_id, "renew", record, now, checked)
            length = record["lease"] if seconds is None else seconds
            record.update(lease=length, lease_expires_ts=now + length)
            return record

        return self._transition(task_id, "renew", change)

    def complete(self, task: TaskRef, result: Any = None, *, fence: int | None = None) -> Task:
        """Finish the task with ``result``: claimed → completed (by its holder only).

        A holder whose lease has run out may still complete the task, unless another
        agent has claimed it since.

        Args:
            task: the task's id, or the claimed :class:`Task` (its fence is checked).
            result: the final result (any JSON value).
            fence: the claim's fence (``Task.fence``): refused with :class:`StaleClaim`
                unless it is the task's current claim and this agent holds it.

        Raises:
            StaleClaim: the fence is not the task's current claim's.
            IllegalTransition: the task is not claimed (e.g. completed, failed), or
                not by this agent.
            TaskNotFound: there is no such task.

        >>> import statehub
        >>> researcher = statehub.open("memory://").agent("researcher")
        >>> task = researcher.tasks.claim(researcher.tasks.create("Research").id)
        >>> done = researcher.tasks.complete(task, result={"trends": 5})
        >>> done.status, done.result, done.progress
        ('completed', {'trends': 5}, 1.0)
        """
        task_id, checked = _ref(task, fence)

        def change(record: dict[str, Any], version: int, now: float) -> dict[str, Any]:
            self._hold(task_id, "complete", record, now, checked)
            record.update(status=COMPLETED, progress=1.0, result=result)
            return record

        return self._transition(task_id, "complete", change, {"type": "COMPLETE"})

    def fail(self, task: TaskRef, error: str, *, fence: int | None = None) -> Task:
        """Finish the task as failed, saying why: claimed → failed (by its holder only).

        Args:
            task: the task's id, or the claimed :class:`Task` (its fence is checked).
            error: why it failed, for people.
            fence: the claim's fence, checked as :meth:`complete` does.

        Raises:
            StaleClaim: the fence is not the task's current claim's.
            IllegalTransition: the task is not claimed, or not by this agent.
            TaskNotFound: there is no such task.
        """
        task_id, checked = _ref(task, fence)
        if not isinstance(error, str):
            raise InvalidArgument(f"error must be a str, not {type(error).__name__}")

        def change(record: dict[str, Any], version: int, now: float) -> dict[str, Any]:
            self._hold(task_id, "fail", record, now, checked)
            record.update(status=FAILED, error=error)
            return record

        return self._transition(task_id, "fail", change, {"type": "FAIL"})

    def release(self, task: TaskRef, *, fence: int | None = None) -> Task:
        """Give a claimed task back: claimed → pending (by its holder only).

        Progress and intermediate result stay, for the next claimer.

        Raises:
            StaleClaim: the fence is not the task's current claim's.
            IllegalTransition: the task is not claimed, or not by this agent.
            TaskNotFound: there is no such task.
        """
        task_id, checked = _ref(task, fence)

        def change(record: dict[str, Any], version: int, now: float) -> dict[str, Any]:
            self._hold(task_id, "release", record, now, checked)
            record.update(status=PENDING, assignee=None)
            return record

        return self._transition(task_id, "release", change)

    def retry(self, task: TaskRef) -> Task:
        """Make a failed task pending again (any agent may), to be claimed anew.

        Raises:
            IllegalTransition: the task is not failed.
            TaskNotFound: there is no such task.
        """
        task_id, _ = _ref(task, None)
        me = self.agent.name

        def change(record: dict[str, Any], version: int, now: float) -> dict[str, Any]:
            if record["status"] != FAILED:
                raise IllegalTransition(
                    task_id, "retry", _status(record, now), record["assignee"], me
                )
            record.update(status=PENDING, assignee=None, error=None)
            return record

        return self._transition(task_id, "retry", change)


# =========================================================================== asyncio

_P = ParamSpec("_P")
_T = TypeVar("_T")


def _threaded(
    method: Callable[Concatenate[Tasks, _P], _T],
) -> Callable[Concatenate[AsyncTasks, _P], Coroutine[Any, Any, _T]]:
    """An async twin of a :class:`Tasks` method: runs it on a worker thread."""

    async def run(self: AsyncTasks, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        return await asyncio.to_thread(getattr(self._sync, method.__name__), *args, **kwargs)

    functools.update_wrapper(run, method)
    return run


class AsyncTasks:
    """The async twin of :class:`Tasks`: the same methods, awaited.

    Args:
        agent: the :class:`~statehub.AsyncAgent` acting, or the sync :class:`Tasks`
            to run (``AsyncTasks(agent.tasks)``).
        counters: as for :class:`Tasks` (with an agent only).

    >>> import asyncio, statehub
    >>> from statehub.tasks import AsyncTasks
    >>> async def main() -> str:
    ...     async with statehub.open_async("memory://") as hub:
    ...         tasks = AsyncTasks(hub.agent("researcher"))
    ...         task = await tasks.create("Research")
    ...         task = await tasks.claim(task.id, lease=60)
    ...         return (await tasks.complete(task, result="done")).status
    >>> asyncio.run(main())
    'completed'
    """

    def __init__(self, agent: AsyncAgent | Tasks, *, counters: str | None = None) -> None:
        if isinstance(agent, Tasks):
            if counters is not None:
                raise InvalidArgument("counters= goes with an agent, not with a Tasks")
            self._sync = agent
        else:
            self._sync = Tasks(agent._sync, counters=counters)

    @property
    def counters(self) -> str | None:
        """The key the task counters are kept at, or ``None``."""
        return self._sync.counters

    def __repr__(self) -> str:
        return f"<statehub.AsyncTasks of {self._sync.agent.name!r}>"

    get = _threaded(Tasks.get)
    list = _threaded(Tasks.list)
    create = _threaded(Tasks.create)
    claim = _threaded(Tasks.claim)
    next = _threaded(Tasks.next)
    progress = _threaded(Tasks.progress)
    renew = _threaded(Tasks.renew)
    complete = _threaded(Tasks.complete)
    fail = _threaded(Tasks.fail)
    release = _threaded(Tasks.release)
    retry = _threaded(Tasks.retry)
