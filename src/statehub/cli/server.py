"""``serve`` and ``demo``: the HTTP server, and the lesson's TaskTracker run for real."""

from __future__ import annotations

import click
from rich.console import Console

from statehub.cli.options import CommandError, command, settings
from statehub.demo import DEFAULT_URL as DEMO_URL
from statehub.demo import run_demo

__all__ = ["demo", "serve"]


@command()
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to bind.")
@click.option("--port", default=8650, show_default=True, help="The port to listen on.")
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
    help="How much the server logs (info: one line per request, never its token).",
)
def serve(host: str, port: int, log_level: str) -> None:
    """Serve the hub (and the other hubs of its storage) over HTTP, until Ctrl-C.

    Every request needs a token: statehub token create AGENT --url URL.

    Example: statehub serve --url sqlite:///team.db --port 8650
    """
    try:
        from statehub.server.serving import serve as run_server
    except ImportError:  # pragma: no cover - only without the extra
        raise CommandError("statehub serve needs: pip install 'statehub[server]'") from None
    run_server(settings().url, host, port, log_level=log_level)


@command()
def demo() -> None:
    """Run the lesson's TaskTracker: four agents in four processes on one hub.

    Without --url or STATEHUB_URL it uses ./statehub-demo.db, made afresh each
    time; any other hub must be empty.

    Example: statehub demo --url sqlite:///demo.db
    """
    current = settings()
    run_demo(current.url if current.url_given else DEMO_URL, Console())
