"""Keys: read, write, merge, delete, entries, scans, reducer dispatch, transactions.

Versions travel as ``ETag``; ``If-Match: "<n>"`` makes a write conditional (412 on a
conflict, naming the current version) and ``If-None-Match: *`` makes it create-only.
A write under a lock carries the lease's fence in the ``Statehub-Fence`` header.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from statehub.documents import entry_json
from statehub.errors import InvalidArgument
from statehub.server.auth import CallerDep
from statehub.server.errors import ERROR_RESPONSES, ApiError
from statehub.server.wire import (
    JSON_BODY,
    BodyDep,
    EntryModel,
    Strict,
    json_response,
    parse_at,
)
from statehub.transaction import Transaction

__all__ = ["FENCE_HEADER", "MERGE_PATCH", "router"]

MERGE_PATCH = "application/merge-patch+json"
"""The content type ``PATCH`` requires (RFC 7396)."""

FENCE_HEADER = "Statehub-Fence"
"""The header a write carries its lease's fencing token in."""

router = APIRouter(prefix="/v1", tags=["keys"], responses=ERROR_RESPONSES)

IfMatch = Annotated[str | None, Header(alias="If-Match", description='"<version>"')]
IfNoneMatch = Annotated[str | None, Header(alias="If-None-Match", description="* (create only)")]
Fence = Annotated[
    int | None, Header(alias=FENCE_HEADER, description="the fence of this agent's lease")
]
At = Annotated[str | None, Query(description="a revision, a checkpoint name, or head")]
Ttl = Annotated[float | None, Query(description="seconds until the key expires")]
Label = Annotated[str | None, Query(description="a tag recorded in the history")]
_ABSENT: Any = object()


def precondition(if_match: str | None, if_none_match: str | None) -> int | None:
    """The ``expect_version`` of ``If-Match: "<n>"`` or ``If-None-Match: *``."""
    if if_match is not None and if_none_match is not None:
        raise InvalidArgument("give If-Match or If-None-Match, not both")
    if if_none_match is not None:
        if if_none_match.strip() != "*":
            raise InvalidArgument('If-None-Match only accepts "*" (create only)')
        return 0
    if if_match is None:
        return None
    text = if_match.strip().removeprefix("W/").strip('"')
    if not text.isdigit() or not 1 <= int(text) < 2**63:
        raise InvalidArgument(f'If-Match takes one version, as "<n>" (n >= 1), not {if_match!r}')
    return int(text)


def _etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}


def _not_found(key: str) -> ApiError:
    return ApiError(404, "NotFound", f"no key {key!r}", key=key)


_VALUE = {
    200: {"content": {"application/json": {"schema": {}}}, "description": "the value"},
    304: {"description": "the value is still at the version If-None-Match names"},
}


@router.get("/keys/{key:path}", responses=_VALUE)  # type: ignore[arg-type]
def get_key(
    key: str,
    who: CallerDep,
    at: At = None,
    if_none_match: Annotated[
        str | None, Header(alias="If-None-Match", description='"<version>": 304 if unchanged')
    ] = None,
) -> Response:
    """The key's value (the JSON as written), its version as the ETag; ``at`` reads the past.

    With ``If-None-Match: "<version>"`` (the ETag of an earlier read), 304 and no body
    while the key is still at that version.
    """
    reader = who.reader(key)
    revision = parse_at(at)
    if revision is not None:
        value = reader.get(key, _ABSENT, at=revision)
        if value is _ABSENT:
            raise _not_found(key)
        return json_response(value)
    entry = reader.entry(key)
    if entry is None:
        raise _not_found(key)
    etag = _etag(entry.version)
    if if_none_match is not None and etag["ETag"] in _etags(if_none_match):
        return Response(status_code=304, headers=etag)
    return Response(entry.data, media_type="application/json", headers=etag)


def _etags(header: str) -> set[str]:
    """The entity tags of an ``If-None-Match`` header (weak ones compared as strong)."""
    return {tag.strip().removeprefix("W/") for tag in header.split(",")}


@router.put(
    "/keys/{key:path}",
    response_model=EntryModel,
    status_code=200,
    responses={201: {"model": EntryModel, "description": "created"}},
    openapi_extra=JSON_BODY,
)
def put_key(
    key: str,
    who: CallerDep,
    value: BodyDep,
    if_match: IfMatch = None,
    if_none_match: IfNoneMatch = None,
    fence: Fence = None,
    ttl: Ttl = None,
    owner: Annotated[bool | None, Query(description="take (true) or give up ownership")] = None,
    label: Label = None,
) -> Response:
    """Write the JSON body to the key: 201 if created, 200 if replaced."""
    expect = precondition(if_match, if_none_match)
    entry = who.agent.put(
        key, value, expect_version=expect, owner=owner, ttl=ttl, fence=fence, label=label
    )
    return json_response(
        entry_json(entry), 201 if entry.version == 1 else 200, _etag(entry.version)
    )


@router.patch(
    "/keys/{key:path}",
    response_model=EntryModel,
    openapi_extra={
        "requestBody": {"required": True, "content": {MERGE_PATCH: {"schema": {}}}},
    },
)
def patch_key(
    key: str,
    who: CallerDep,
    patch: BodyDep,
    content_type: Annotated[str | None, Header(include_in_schema=False)] = None,
    if_match: IfMatch = None,
    if_none_match: IfNoneMatch = None,
    fence: Fence = None,
    ttl: Ttl = None,
    label: Label = None,
) -> Response:
    """Merge the body into the key's value (RFC 7396 JSON Merge Patch)."""
    if (content_type or "").split(";")[0].strip() != MERGE_PATCH:
        raise ApiError(415, "UnsupportedMediaType", f"PATCH takes {MERGE_PATCH}")
    expect = precondition(if_match, if_none_match)
    entry = who.agent.merge(key, patch, expect_version=expect, ttl=ttl, fence=fence, label=label)
    return json_response(entry_json(entry), headers=_etag(entry.version))


class Deleted(BaseModel):
    """The entry a delete removed."""

    deleted: EntryModel


@router.delete("/keys/{key:path}", response_model=Deleted)
def delete_key(
    key: str,
    who: CallerDep,
    if_match: IfMatch = None,
    fence: Fence = None,
    label: Label = None,
) -> Response:
    """Delete the key (404 if it does not exist); ``If-Match`` makes it conditional."""
    expect = precondition(if_match, None)
    entry = who.agent.delete(key, expect_version=expect, fence=fence, label=label)
    if entry is None:
        raise _not_found(key)
    return json_response({"deleted": entry_json(entry)})


@router.get("/entries/{key:path}", response_model=EntryModel)
def get_entry(key: str, who: CallerDep) -> Response:
    """The key's entry: value and metadata (version, revisions, writer, owner, expiry)."""
    entry = who.reader(key).entry(key)
    if entry is None:
        raise _not_found(key)
    return json_response(entry_json(entry), headers=_etag(entry.version))


class Entries(BaseModel):
    """Entries, in key order."""

    entries: list[EntryModel]


@router.get("/entries", response_model=Entries)
def list_entries(who: CallerDep, prefix: str = "") -> Response:
    """Every current entry under ``prefix`` this caller may see, in key order."""
    return json_response({"entries": [entry_json(entry) for entry in who.entries(prefix)]})


class Snapshot(BaseModel):
    """``{key: value}``."""

    entries: dict[str, Any]


@router.get("/scan", response_model=Snapshot)
def scan(who: CallerDep, prefix: str = "", at: At = None) -> Response:
    """Every key under ``prefix`` this caller may see: ``{"entries": {key: value}}``."""
    return json_response({"entries": who.scan(prefix, parse_at(at))})


class DispatchBody(Strict):
    """A reducer action."""

    action: Any = Field(description="the action (any JSON)")
    reducer: str | None = Field(default=None, description="a built-in's name; none: the key's own")
    ttl: float | None = None
    label: str | None = None


@router.post("/dispatch/{key:path}", response_model=EntryModel)
def dispatch(key: str, body: DispatchBody, who: CallerDep, fence: Fence = None) -> Response:
    """Apply a reducer to the key inside the commit (built-in by name, or the hub's own)."""
    entry = who.agent.dispatch(
        key, body.action, reducer=body.reducer, ttl=body.ttl, fence=fence, label=body.label
    )
    return json_response(entry_json(entry), headers=_etag(entry.version))


class _Op(Strict):
    key: str
    fence: int | None = None
    label: str | None = None


class PutOp(_Op):
    """Write ``value`` (see ``PUT /v1/keys``)."""

    op: Literal["put"]
    value: Any
    expect_version: int | None = None
    owner: bool | None = None
    ttl: float | None = None


class MergeOp(_Op):
    """Merge ``patch`` (RFC 7396)."""

    op: Literal["merge"]
    patch: Any
    expect_version: int | None = None
    ttl: float | None = None


class DispatchOp(_Op):
    """Apply a reducer."""

    op: Literal["dispatch"]
    action: Any
    reducer: str | None = None
    ttl: float | None = None


class DeleteOp(_Op):
    """Delete the key."""

    op: Literal["delete"]
    expect_version: int | None = None


class TransactionBody(Strict):
    """Several writes committed together, all or nothing, as one revision."""

    ops: list[Annotated[PutOp | MergeOp | DispatchOp | DeleteOp, Field(discriminator="op")]]
    label: str | None = None


class TransactionResult(BaseModel):
    """The commit's revision (``null`` if nothing changed) and the entries it left."""

    revision: int | None
    entries: dict[str, EntryModel | None]


def _buffer(tx: Transaction, op: PutOp | MergeOp | DispatchOp | DeleteOp) -> None:
    if isinstance(op, PutOp):
        tx.put(
            op.key,
            op.value,
            expect_version=op.expect_version,
            owner=op.owner,
            ttl=op.ttl,
            fence=op.fence,
            label=op.label,
        )
    elif isinstance(op, MergeOp):
        tx.merge(
            op.key,
            op.patch,
            expect_version=op.expect_version,
            ttl=op.ttl,
            fence=op.fence,
            label=op.label,
        )
    elif isinstance(op, DispatchOp):
        tx.dispatch(
            op.key, op.action, reducer=op.reducer, ttl=op.ttl, fence=op.fence, label=op.label
        )
    else:
        tx.delete(op.key, expect_version=op.expect_version, fence=op.fence, label=op.label)


@router.post("/transaction", response_model=TransactionResult)
def transaction(body: TransactionBody, who: CallerDep) -> Response:
    """Commit the ops together (a version conflict on any: 409, nothing written)."""
    tx = who.agent.transaction(label=body.label)
    for op in body.ops:
        _buffer(tx, op)
    revision = tx.commit()
    entries = {key: None if e is None else entry_json(e) for key, e in tx.entries.items()}
    return json_response({"revision": revision, "entries": entries})
