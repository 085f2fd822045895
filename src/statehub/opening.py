"""Opening a hub from its URL, and loading an export file into one."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import orjson

from statehub.arguments import check_int
from statehub.backends.base import Backend
from statehub.backends.memory import MemoryBackend
from statehub.backends.sqlite import SqliteBackend
from statehub.codec import DEFAULT_MAX_VALUE_BYTES
from statehub.errors import InvalidArgument
from statehub.exchange import Progress, parse_export
from statehub.hub import Hub
from statehub.keys import validate_agent_name
from statehub.txn import PUT, Op, Txn
from statehub.url import DEFAULT_URL, HubURL, parse_url

__all__ = ["import_file", "open"]


def import_file(
    path: str | os.PathLike[str],
    into: str | os.PathLike[str] | Hub | None = None,
    *,
    as_agent: str = "importer",
    progress: Progress | None = None,
) -> int:
    """Load an export file into an empty hub; returns the hub's revision afterwards.

    The whole file is checked before anything is written; a corrupt or hand-edited
    file raises :class:`InvalidArgument` naming the offending entry. An export with
    history is loaded row for row (same state, revisions, history, checkpoints);
    one without is written as one commit by ``as_agent``.

    Args:
        path: the export file.
        into: a hub URL (``STATEHUB_URL`` or the default when omitted) or an open hub.
        as_agent: who the commit of a state-only import is attributed to.
        progress: told ``(rows checked, rows in all)`` as the file is checked.
    """
    try:
        document = orjson.loads(Path(path).read_bytes())
    except orjson.JSONDecodeError as exc:
        raise InvalidArgument(f"{os.fspath(path)!r} is not JSON: {exc}") from exc
    parsed = parse_export(document, progress)
    hub = into if isinstance(into, Hub) else open(into)
    try:
        if parsed.history:
            hub.backend.load_export(parsed)
        else:
            if hub.revision:
                raise InvalidArgument("can only import into an empty hub")
            # An import restores every agent's keys, so it is not subject to their privacy.
            ops = tuple(Op(PUT, row.key, row.data, logged_as="import") for row in parsed.entries)
            label = f"import {os.fspath(path)}"
            txn = Txn(validate_agent_name(as_agent), ops, label=label)
            hub.backend.commit(txn, hub.max_value_bytes)
        return hub.revision
    finally:
        if hub is not into:
            hub.close()


def _backend_for(url: HubURL, busy_timeout: float, token: str | None) -> tuple[Backend, str]:
    """The backend of ``url``, and the hub's name (a server says which it serves)."""
    if url.scheme in ("http", "https"):
        from statehub.backends.remote import RemoteBackend  # the optional extra

        secret = token if token is not None else os.environ.get("STATEHUB_TOKEN")
        if not secret:
            raise InvalidArgument(
                f"{url.text!r} is a statehub server: give token= or set STATEHUB_TOKEN"
            )
        remote = RemoteBackend(url.path, url.hub or None, secret, timeout=busy_timeout)
        return remote, remote.hub_name
    if url.scheme == "memory":
        return MemoryBackend(), url.hub
    if url.scheme == "postgresql":
        from statehub.backends.postgres import PostgresBackend  # the optional extra

        backend = PostgresBackend(url.path, url.hub, shown_as=url.text, busy_timeout=busy_timeout)
        return backend, url.hub
    sync = url.options.get("sync", "normal")
    return SqliteBackend(url.path, url.hub, sync=sync, busy_timeout=busy_timeout), url.hub


def _number_option(url: HubURL, name: str, given: float | None, default: float) -> float:
    if given is not None:
        return given
    text = url.options.get(name)
    if text is None:
        return default
    try:
        return float(text)
    except ValueError:
        raise InvalidArgument(f"option {name}={text!r} in {url.text!r} is not a number") from None


def open(
    url: str | os.PathLike[str] | None = None,
    *,
    max_value_bytes: int | None = None,
    busy_timeout: float | None = None,
    token: str | None = None,
) -> Hub:
    """Open a hub: ``memory://``, ``sqlite:///team.db``, ``http://host:8650?hub=team``...

    See :mod:`statehub.url` for every kind of URL and its options.

    Args:
        url: the hub URL; ``STATEHUB_URL`` when omitted, else ``sqlite:///statehub.db``.
        max_value_bytes: the largest encoded value accepted (default 16 MiB).
        busy_timeout: seconds to wait for the write lock before ``BackendBusy``
            (default 30); for a server, for each of its answers.
        token: for a statehub server, the bearer token (default: ``STATEHUB_TOKEN``).

    >>> import statehub
    >>> with statehub.open("memory://") as hub:
    ...     hub.revision
    0
    """
    parsed = parse_url(url if url is not None else os.environ.get("STATEHUB_URL", DEFAULT_URL))
    limit = int(_number_option(parsed, "max_value_bytes", max_value_bytes, DEFAULT_MAX_VALUE_BYTES))
    check_int("max_value_bytes", limit, minimum=1)
    timeout = _number_option(parsed, "busy_timeout", busy_timeout, 30.0)
    if timeout < 0:
        raise InvalidArgument(f"busy_timeout must be >= 0, not {timeout}")
    backend, name = _backend_for(parsed, timeout, token)
    return Hub(backend, replace(parsed, hub=name), max_value_bytes=limit)
