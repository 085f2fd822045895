"""The request body limit, enforced for every route before a byte is parsed.

A declared ``Content-Length`` over the limit is answered 413 at once; a body sent
without one (chunked) is counted as it arrives and refused as soon as it passes the
limit. Values have their own limit, the hub's ``max_value_bytes`` (``ValueTooLarge``,
also 413).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from statehub.server.errors import ApiError, error_response

__all__ = ["STORAGE_PROTOCOL", "BodyLimit", "BodyTooLarge"]


class BodyTooLarge(ApiError):
    """The request body is over the server's limit (413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, "BodyTooLarge", f"the body is over {limit} bytes", limit=limit)


STORAGE_PROTOCOL = "/v1/backend/"
"""The remote client's routes: they carry values up to the hub's own limit, and
enforce it themselves (see :mod:`statehub.server.backend_api`)."""


class BodyLimit:
    """ASGI middleware: refuse request bodies over ``limit`` bytes with 413.

    Not on the storage protocol's routes (:data:`STORAGE_PROTOCOL`).
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or answer 413."""
        if scope["type"] != "http" or scope.get("path", "").startswith(STORAGE_PROTOCOL):
            await self.app(scope, receive, send)
            return
        limit = self.limit
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                error = BodyTooLarge(limit)
                response = error_response(413, error.type_name, error.message, error.facts)
                await response(scope, receive, send)
                return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)
