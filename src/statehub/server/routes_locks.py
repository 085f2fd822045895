"""Locks: leases with fencing tokens (take, renew, release, list).

A write under a lock carries the lease's fence in the ``Statehub-Fence`` header (or
``fence`` in a transaction op); a write by any other agent gets 423 naming the holder
and the expiry, one carrying a lost lease's fence 409 (``StaleFenceError``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import Response
from pydantic import BaseModel, Field

from statehub.documents import lease_json, lock_json
from statehub.keys import is_visible
from statehub.lease import Lease
from statehub.server.auth import Caller, CallerDep
from statehub.server.errors import ERROR_RESPONSES
from statehub.server.routes_keys import FENCE_HEADER
from statehub.server.routes_time import check_wait
from statehub.server.wire import LeaseModel, Strict, json_response
from statehub.writes import checked_key

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["locks"], responses=ERROR_RESPONSES)


class LockBody(Strict):
    """How long the lease lasts, and how long to wait for it."""

    ttl: float = Field(default=30.0, description="seconds until the lease ends unless renewed")
    wait: float | None = Field(default=None, description="seconds to wait while another holds it")


@router.post("/locks/{key:path}", response_model=LeaseModel, status_code=201)
def lock(key: str, who: CallerDep, body: LockBody | None = None) -> Response:
    """Take a lease on the key (423 with holder and expiry if another agent holds it)."""
    body = body or LockBody()
    lease = who.agent.lock(key, body.ttl, wait=check_wait("wait", body.wait))
    return json_response(lease_json(key, who.agent.name, lease.fence, lease.expires_ts), 201)


def _lease(who: Caller, key: str, fence: int) -> Lease:
    return Lease(who.agent, checked_key(who.agent.name, key), fence, 0.0)


class RenewBody(Strict):
    """The lease to renew (by its fence) and its new time to live."""

    fence: int
    ttl: float = 30.0


@router.patch("/locks/{key:path}", response_model=LeaseModel)
def renew(key: str, body: RenewBody, who: CallerDep) -> Response:
    """Extend the lease to ``ttl`` seconds from now (409 if it was lost)."""
    lease = _lease(who, key, body.fence).renew(body.ttl)
    return json_response(lease_json(key, who.agent.name, lease.fence, lease.expires_ts))


class Released(BaseModel):
    """Whether the lease was still held (``false``: it had been lost already)."""

    released: bool


@router.delete("/locks/{key:path}", response_model=Released)
def unlock(key: str, who: CallerDep, fence: Annotated[int, Header(alias=FENCE_HEADER)]) -> Response:
    """Release the lease whose fence the ``Statehub-Fence`` header carries."""
    return json_response({"released": _lease(who, key, fence).release()})


class Locks(BaseModel):
    """The locks held, on keys this caller may see."""

    locks: list[LeaseModel]


@router.get("/locks", response_model=Locks)
def list_locks(who: CallerDep) -> Response:
    """Every lock still held on a key this caller may see."""
    name = who.agent.name
    held = [lock for lock in who.hub.locks() if who.hub_wide or is_visible(name, lock.key)]
    return json_response({"locks": [lock_json(lock) for lock in held]})
