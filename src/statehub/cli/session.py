"""What a command works with: its settings, where it prints, and the hub it opened."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from statehub.cli.options import Settings, settings
from statehub.cli.output import Output
from statehub.hub import Agent, Hub
from statehub.keys import owner_of, validate_key
from statehub.opening import open as statehub_open

__all__ = ["Session", "session"]


@dataclass(frozen=True, slots=True)
class Session:
    """One command's hub, output and settings.

    Attributes:
        hub: the hub, opened with :func:`statehub.open` (so any URL works, remote too).
        out: where the command prints.
        settings: the global options, resolved.
    """

    hub: Hub
    out: Output
    settings: Settings

    @property
    def writer(self) -> Agent:
        """The agent writes act as (``--agent``)."""
        return self.hub.agent(self.settings.agent)

    def reader(self, key: str) -> Agent:
        """An agent that may read ``key``: its owner for ``agent/<name>/...``, else the writer.

        The command line is the operator's view: it reads every agent's keys.
        """
        owner = owner_of(validate_key(key))
        return self.writer if owner is None else self.hub.agent(owner)


@contextmanager
def session() -> Iterator[Session]:
    """Open the hub the running command names, and close it afterwards."""
    current = settings()
    out = Output(current.json)
    with statehub_open(current.url) as hub:
        yield Session(hub, out, current)
