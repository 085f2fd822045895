"""The hubs one server serves: its home hub, and others of the same storage by name.

``statehub serve --url sqlite:///team.db`` serves the hub of that URL (its *home*
hub, which also holds the server's tokens) and, on request, any other hub of the
same storage: a client's ``?hub=run-42`` opens ``sqlite:///team.db?hub=run-42``.
Tokens are the server's: one token works for every hub it serves.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode

from statehub.errors import InvalidArgument
from statehub.hub import Hub
from statehub.opening import open as open_hub
from statehub.server.notifier import HeadNotifier

__all__ = ["HubOpener", "HubRegistry", "opener_for"]

HubOpener = Callable[[str], Hub]
"""Opens the hub of a given name in the server's storage."""


def opener_for(url: str) -> HubOpener:
    """A :data:`HubOpener` for the storage of ``url`` (its ``hub=`` replaced by the name)."""
    base, _, query = url.partition("?")
    options = [(name, value) for name, value in parse_qsl(query) if name != "hub"]

    def opener(name: str) -> Hub:
        return open_hub(f"{base}?{urlencode([*options, ('hub', name)])}")

    return opener


class HubRegistry:
    """Hubs by name, opened on first use and kept open; one :class:`HeadNotifier` each."""

    def __init__(self, home: Hub, opener: HubOpener | None = None) -> None:
        self.home = home
        self._opener = opener
        self._hubs: dict[str, Hub] = {home.name: home}
        self._notifiers: dict[str, HeadNotifier] = {}
        self._lock = threading.Lock()

    def get(self, name: str | None) -> Hub:
        """The hub called ``name`` (the home hub for ``None`` or ``""``)."""
        if not name:
            return self.home
        with self._lock:
            hub = self._hubs.get(name)
            if hub is None:
                if self._opener is None:
                    raise InvalidArgument(
                        f"this server serves hub {self.home.name!r} only, not {name!r}"
                    )
                hub = self._hubs[name] = self._opener(name)
            return hub

    def notifier(self, hub: Hub) -> HeadNotifier:
        """The head notifier of ``hub`` (one of this registry's)."""
        with self._lock:
            notifier = self._notifiers.get(hub.name)
            if notifier is None:
                notifier = self._notifiers[hub.name] = HeadNotifier(hub.backend)
            return notifier

    def close(self) -> None:
        """Stop the notifiers and close every hub opened here (not the home hub)."""
        with self._lock:
            for notifier in self._notifiers.values():
                notifier.close()
            for hub in self._hubs.values():
                if hub is not self.home:
                    hub.close()
            self._hubs = {self.home.name: self.home}
            self._notifiers = {}
