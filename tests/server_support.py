"""Helpers of the server's tests: tokens as headers, error bodies, a live server process."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

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
with statehub.open(sys.argv[1]) as hub:
    uvicorn.run(create_app(hub, watch_step=0.2), host="127.0.0.1", port=int(sys.argv[2]),
                log_level="info", access_log=True)
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class LiveServer:
    """``uvicorn`` serving ``create_app`` over ``url`` in a subprocess, on a free port.

    Its output (uvicorn's access log included) goes to ``log``.
    """

    def __init__(self, url: str, log: Path) -> None:
        self.url = url
        self.log = log
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> LiveServer:
        with self.log.open("wb") as out:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _SERVE, self.url, str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self._process.poll() is None, self.log.read_text()
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.05)  # polling a port that is not open yet: nothing to await
        raise AssertionError(f"the server did not start: {self.log.read_text()}")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._process is not None
        self._process.terminate()
        self._process.wait(timeout=10)
