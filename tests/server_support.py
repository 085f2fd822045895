"""Helpers of the server's tests: tokens as headers, error bodies, a live server process."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from statehub.testing.server import ServerProcess

__all__ = ["LiveServer", "bearer", "error_of"]


def bearer(token: str) -> dict[str, str]:
    """The ``Authorization`` header of a bearer token."""
    return {"Authorization": f"Bearer {token}"}


def error_of(response: Any) -> dict[str, Any]:
    """The ``error`` member of an error response, checked for the documented shape."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["type"], str)
    assert isinstance(body["error"]["message"], str)
    assert "Traceback" not in response.text
    error: dict[str, Any] = body["error"]
    return error


_SERVE = """
import sys, uvicorn, statehub
from statehub.server.app import create_app
options = dict(zip(sys.argv[1::2], sys.argv[2::2]))
with statehub.open(options["--url"]) as hub:
    uvicorn.run(create_app(hub, watch_step=0.2), host="127.0.0.1", port=int(options["--port"]),
                log_level=options["--log-level"], access_log=True)
"""


class LiveServer(ServerProcess):
    """``uvicorn`` serving ``create_app`` over ``url`` in a subprocess, on a free port.

    A :class:`~statehub.testing.server.ServerProcess` whose program sends a watch
    stream's heartbeat every 0.2 s; its output (uvicorn's access log included)
    goes to ``log``.
    """

    log: Path

    def __init__(self, url: str, log: Path) -> None:
        super().__init__(url, log=log, log_level="info", program=[sys.executable, "-c", _SERVE])
