"""Operators' routes, for admin tokens only (403 otherwise).

The whole hub's history and diff, compaction, export, and the list of tokens.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel

from statehub.server import routes_time
from statehub.server.auth import AdminDep
from statehub.server.errors import ERROR_RESPONSES
from statehub.server.tokens import list_tokens
from statehub.server.wire import ChangesModel, DiffModel, Strict, json_response, revision_of

__all__ = ["router"]

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=ERROR_RESPONSES)


@router.get("/history", response_model=ChangesModel)
def hub_history(who: AdminDep, query: routes_time.HistoryDep) -> Response:
    """The whole hub's audit log (every agent's keys, statehub's own rows included)."""
    return routes_time.history_response(dataclasses.replace(who, hub_wide=True), query)


@router.get("/diff", response_model=DiffModel)
def hub_diff(who: AdminDep, a: str, b: str = "head", prefix: str = "") -> Response:
    """What changed between ``a`` and ``b`` in the whole hub."""
    return routes_time.diff(dataclasses.replace(who, hub_wide=True), a, b, prefix)


class CompactBody(Strict):
    """Drop history before a revision (or checkpoint), or older than an age."""

    before: int | str | None = None
    older_than: float | None = None


class Compacted(BaseModel):
    """How many change rows were dropped, and the oldest revision now readable."""

    dropped: int
    oldest: int


@router.post("/compact", response_model=Compacted)
def compact(body: CompactBody, who: AdminDep) -> Response:
    """Compact the hub's history (never what a live checkpoint needs)."""
    before = revision_of(body.before) if isinstance(body.before, str) else body.before
    dropped = who.hub.compact(before, older_than=body.older_than)
    return json_response({"dropped": dropped, "oldest": who.hub.oldest_revision})


_EXPORT = {200: {"content": {"application/json": {"schema": {"type": "object"}}}}}


@router.get("/export", responses=_EXPORT)  # type: ignore[arg-type]
def export(who: AdminDep, history: bool = False) -> Response:
    """The hub as an export document (see ``statehub.exchange``); ``history`` adds the log."""
    with tempfile.TemporaryDirectory(prefix="statehub-export-") as folder:
        path = Path(folder) / "export.json"
        who.hub.export(path, history=history)
        return Response(path.read_bytes(), media_type="application/json")


class TokenModel(BaseModel):
    """A token as listed: never its secret nor its hash."""

    id: str
    agent: str
    created_ts: float
    admin: bool


class Tokens(BaseModel):
    """Every live token."""

    tokens: list[TokenModel]


@router.get("/tokens", response_model=Tokens)
def tokens(who: AdminDep) -> Response:
    """Every live token (id, agent, creation time, admin), no secrets."""
    listed: list[dict[str, Any]] = [dataclasses.asdict(info) for info in list_tokens(who.hub)]
    return json_response({"tokens": listed})
