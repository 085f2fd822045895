"""The storage protocol the Python remote client speaks (``/v1/backend/...``).

Work in progress by the lead: the routes are added here; :func:`create_app` mounts
:data:`router`.
"""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter(prefix="/v1/backend", include_in_schema=False)
