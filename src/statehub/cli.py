"""The ``statehub`` command line (``python -m statehub`` too)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click
from rich.console import Console

from statehub.demo import DEFAULT_URL, run_demo
from statehub.errors import StatehubError
from statehub.opening import open as statehub_open
from statehub.server.tokens import create_token, list_tokens, revoke_token

__all__ = ["main"]


@click.group()
@click.version_option(package_name="statehub")
def main() -> None:
    """statehub: shared, durable, concurrency-safe state for teams of agents."""


@main.command()
@click.option("--url", default=DEFAULT_URL, show_default=True, help="The hub to run in.")
def demo(url: str) -> None:
    """Run the lesson's TaskTracker: four agents in four processes on one hub.

    Example: statehub demo --url sqlite:///demo.db
    """
    try:
        run_demo(url, Console())
    except StatehubError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


SERVER_URL = "sqlite:///statehub.db"
"""The hub ``statehub serve`` and ``statehub token`` use without ``--url``."""

_url_option = click.option(
    "--url", default=SERVER_URL, show_default=True, help="The hub (a statehub URL)."
)


@main.command()
@_url_option
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to bind.")
@click.option("--port", default=8650, show_default=True, help="The port to listen on.")
def serve(url: str, host: str, port: int) -> None:
    """Serve the hub over HTTP; every request needs a token (statehub token create).

    Example: statehub serve --url sqlite:///team.db --port 8650
    """
    try:
        import uvicorn

        from statehub.server.app import create_app
    except ImportError:  # pragma: no cover - only without the extra
        click.echo("error: statehub serve needs: pip install 'statehub[server]'", err=True)
        sys.exit(1)
    try:
        with statehub_open(url) as hub:
            uvicorn.run(create_app(hub), host=host, port=port)
    except StatehubError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@main.group()
def token() -> None:
    """Create, list and revoke the bearer tokens of the HTTP server."""


@token.command("create")
@_url_option
@click.argument("agent")
def token_create(url: str, agent: str) -> None:
    """Create a token acting as AGENT and print it (shown this once only)."""
    try:
        with statehub_open(url) as hub:
            click.echo(create_token(hub, agent))
    except StatehubError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@token.command("list")
@_url_option
def token_list(url: str) -> None:
    """List the live tokens: id, agent, creation time (never secrets)."""
    try:
        with statehub_open(url) as hub:
            for info in list_tokens(hub):
                created = datetime.fromtimestamp(info.created_ts, UTC).isoformat(timespec="seconds")
                click.echo(f"{info.id}  {info.agent}  {created}")
    except StatehubError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@token.command("revoke")
@_url_option
@click.argument("token_id")
def token_revoke(url: str, token_id: str) -> None:
    """Revoke the token TOKEN_ID (as shown by statehub token list)."""
    try:
        with statehub_open(url) as hub:
            if not revoke_token(hub, token_id):
                click.echo(f"error: no token {token_id!r}", err=True)
                sys.exit(1)
            click.echo(f"revoked {token_id}")
    except StatehubError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
