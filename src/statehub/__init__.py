"""statehub: shared, durable, concurrency-safe state for teams of software agents.

>>> import statehub
>>> with statehub.open("memory://") as hub:
...     coordinator = hub.agent("coordinator")
...     coordinator.put("global/task_status", "in_progress").version
1
"""

from statehub import reducers
from statehub.errors import (
    AccessDenied,
    BackendBusy,
    BackendError,
    ConflictError,
    HubClosed,
    InvalidArgument,
    InvalidKey,
    InvalidValue,
    PatchError,
    ReducerError,
    StatehubError,
    UnknownReducer,
    ValueTooLarge,
)
from statehub.hub import Agent, Hub, Transaction, open
from statehub.model import Change, Entry

__all__ = [
    "AccessDenied",
    "Agent",
    "BackendBusy",
    "BackendError",
    "Change",
    "ConflictError",
    "Entry",
    "Hub",
    "HubClosed",
    "InvalidArgument",
    "InvalidKey",
    "InvalidValue",
    "PatchError",
    "ReducerError",
    "StatehubError",
    "Transaction",
    "UnknownReducer",
    "ValueTooLarge",
    "__version__",
    "open",
    "reducers",
]

__version__ = "0.1.0"
