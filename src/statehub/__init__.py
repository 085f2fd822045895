"""statehub: shared, durable, concurrency-safe state for teams of software agents.

>>> import statehub
>>> with statehub.open("memory://") as hub:
...     coordinator = hub.agent("coordinator")
...     coordinator.put("global/task_status", "in_progress").version
1
"""

from statehub import reducers
from statehub.aio import (
    AsyncAgent,
    AsyncHub,
    AsyncLease,
    AsyncLocalMemory,
    AsyncTransaction,
    open_async,
)
from statehub.diff import Diff, KeyChange
from statehub.errors import (
    AccessDenied,
    BackendBusy,
    BackendError,
    BackendUnavailable,
    CompactedError,
    ConflictError,
    HubClosed,
    InvalidArgument,
    InvalidKey,
    InvalidValue,
    LockedError,
    PatchError,
    ReducerError,
    StaleFenceError,
    StatehubError,
    Unauthenticated,
    UnknownCheckpoint,
    UnknownReducer,
    ValueTooLarge,
)
from statehub.hub import Agent, Hub
from statehub.lease import Lease
from statehub.local import LocalMemory
from statehub.locks import LockState
from statehub.mailbox import Message
from statehub.model import Change, Checkpoint, Entry
from statehub.opening import import_file, open
from statehub.tasks import (
    AsyncTasks,
    IllegalTransition,
    StaleClaim,
    Task,
    TaskClaimed,
    TaskError,
    TaskExists,
    TaskNotFound,
    Tasks,
)
from statehub.transaction import Transaction

__all__ = [
    "AccessDenied",
    "Agent",
    "AsyncAgent",
    "AsyncHub",
    "AsyncLease",
    "AsyncLocalMemory",
    "AsyncTasks",
    "AsyncTransaction",
    "BackendBusy",
    "BackendError",
    "BackendUnavailable",
    "Change",
    "Checkpoint",
    "CompactedError",
    "ConflictError",
    "Diff",
    "Entry",
    "Hub",
    "HubClosed",
    "IllegalTransition",
    "InvalidArgument",
    "InvalidKey",
    "InvalidValue",
    "KeyChange",
    "Lease",
    "LocalMemory",
    "LockState",
    "LockedError",
    "Message",
    "PatchError",
    "ReducerError",
    "StaleClaim",
    "StaleFenceError",
    "StatehubError",
    "Task",
    "TaskClaimed",
    "TaskError",
    "TaskExists",
    "TaskNotFound",
    "Tasks",
    "Transaction",
    "Unauthenticated",
    "UnknownCheckpoint",
    "UnknownReducer",
    "ValueTooLarge",
    "__version__",
    "import_file",
    "open",
    "open_async",
    "reducers",
]

__version__ = "0.1.0"
