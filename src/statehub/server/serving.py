"""Running the server: what ``statehub serve`` does (needs the ``server`` extra)."""

from __future__ import annotations

import uvicorn

from statehub.opening import open as open_hub
from statehub.server.app import create_app
from statehub.server.hubs import opener_for

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "serve"]

DEFAULT_HOST = "127.0.0.1"
"""The address ``statehub serve`` binds unless told otherwise (loopback only)."""

DEFAULT_PORT = 8650
"""The port ``statehub serve`` listens on unless told otherwise."""


def serve(
    url: str, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, log_level: str = "info"
) -> None:
    """Serve the hub of ``url``, and the other hubs of its storage, until interrupted.

    Tokens live in the hub of ``url`` (``statehub token create --url ...``).
    """
    with open_hub(url) as hub:
        app = create_app(hub, opener=opener_for(url))
        try:
            # Open watch streams (a viewer tab) would hold a graceful shutdown forever.
            uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=5)
        finally:
            app.state.hubs.close()
