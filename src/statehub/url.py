"""Hub URLs: which backend, where, and its options (pure parsing, no I/O).

::

    memory://                         a private in-process hub
    sqlite:///team.db                 a file, relative to the working directory
    sqlite:////var/lib/team.db        an absolute path (four slashes)
    postgresql://user:pw@host:5432/db a PostgreSQL database (extra ``statehub[postgres]``)
    team.db  or  ./state/team.db      a bare path means SQLite too
    http://127.0.0.1:8650?hub=team    a hub on a statehub server (extra ``statehub[server]``)

Query options (any backend): ``hub=<name>`` picks one of many hubs sharing the
storage (default ``default``), ``max_value_bytes=<n>`` sets the value limit,
``busy_timeout=<seconds>`` bounds the wait for the write lock (default 30; for a
server, the wait for each answer). A server URL without ``?hub=`` names the hub the
server was started on; its token is never part of the URL (``token=`` of
:func:`statehub.open`, or ``STATEHUB_TOKEN``).
SQLite only: ``sync=normal`` (default) or ``sync=full``. PostgreSQL: every other
option goes to libpq unchanged (``sslmode=require``, ``connect_timeout=5``, ...).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from statehub.errors import InvalidArgument

__all__ = ["DEFAULT_HUB", "DEFAULT_URL", "HubURL", "mask_password", "parse_url"]

DEFAULT_URL = "sqlite:///statehub.db"
"""Used when :func:`statehub.open` gets no URL and ``STATEHUB_URL`` is not set."""

DEFAULT_HUB = "default"
"""The hub name when the URL has no ``?hub=``."""

_HUB_NAME_RE = re.compile(r"[A-Za-z0-9_.:@+=,-]{1,128}")
_COMMON_OPTIONS = frozenset({"hub", "max_value_bytes", "busy_timeout"})
_SCHEME_OPTIONS: dict[str, frozenset[str] | None] = {
    "memory": frozenset(),
    "sqlite": frozenset({"sync"}),
    "postgresql": None,  # every other option is libpq's (sslmode, connect_timeout, ...)
    "http": frozenset(),
    "https": frozenset(),
}
_ALIASES = {"postgres": "postgresql"}


@dataclass(frozen=True, slots=True)
class HubURL:
    """A parsed hub URL.

    Attributes:
        scheme: ``memory``, ``sqlite``, ``postgresql``, ``http`` or ``https``.
        path: the SQLite file path, the libpq connection string, the server's base
            URL, or ``""`` for memory.
        hub: the hub's name within its storage (``""``: a server's own hub).
        options: the remaining query options, as strings.
        text: the URL as given, password masked (safe to print).
    """

    scheme: str
    path: str
    hub: str
    options: dict[str, str] = field(default_factory=dict)
    text: str = ""


def mask_password(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def parse_url(url: str | os.PathLike[str]) -> HubURL:
    """Parse a hub URL (or a bare file path, which means SQLite).

    Raises:
        InvalidArgument: an unknown scheme or option, or a bad hub name.

    >>> parse_url("sqlite:///team.db?hub=run-42").path
    'team.db'
    """
    text = os.fspath(url)
    if "://" not in text:
        return HubURL("sqlite", text, DEFAULT_HUB, {}, text)
    parts = urlsplit(text)
    scheme = _ALIASES.get(parts.scheme.lower(), parts.scheme.lower())
    if scheme not in _SCHEME_OPTIONS:
        known = ", ".join(f"{name}://" for name in _SCHEME_OPTIONS)
        raise InvalidArgument(f"unknown hub URL scheme in {mask_password(text)!r} (known: {known})")
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    allowed = _SCHEME_OPTIONS[scheme]
    unknown = set() if allowed is None else set(options) - _COMMON_OPTIONS - allowed
    if unknown:
        raise InvalidArgument(f"unknown option(s) {sorted(unknown)} in {mask_password(text)!r}")
    remote = scheme in ("http", "https")
    hub = options.pop("hub", "" if remote else DEFAULT_HUB)
    if not _HUB_NAME_RE.fullmatch(hub) and not (remote and hub == ""):
        raise InvalidArgument(f"bad hub name {hub!r}: 1 to 128 of A-Z a-z 0-9 _ - . : @ + = ,")
    path = ""
    if remote:
        if not parts.netloc:
            raise InvalidArgument(f"{text!r} names no server (http://host:port)")
        path = urlunsplit(parts._replace(query="", fragment=""))
    if scheme == "sqlite":
        if parts.netloc:
            raise InvalidArgument(
                f"{text!r}: a SQLite URL has three slashes before a relative path "
                "(sqlite:///team.db) and four before an absolute one (sqlite:////tmp/team.db)"
            )
        path = parts.path[1:]
        if not path or path == ":memory:":
            raise InvalidArgument(f"{text!r} names no file (use memory:// for a hub in memory)")
    if scheme == "postgresql":
        # The connection string for libpq: the URL without statehub's own options.
        libpq = {name: value for name, value in options.items() if name not in _COMMON_OPTIONS}
        query = urlencode(libpq, quote_via=quote)  # libpq reads "+" as a plus, not a space
        path = urlunsplit(parts._replace(scheme="postgresql", query=query))
    return HubURL(scheme, path, hub, options, mask_password(text))
