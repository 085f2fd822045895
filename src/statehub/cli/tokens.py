"""``token create|list|revoke``: the bearer tokens of the HTTP server."""

from __future__ import annotations

import click

from statehub.cli.documents import iso
from statehub.cli.options import CommandError, group, subcommand
from statehub.cli.output import when
from statehub.cli.session import session
from statehub.server.tokens import create_token, list_tokens, revoke_token

__all__ = ["token"]


@group()
def token() -> None:
    """Create, list and revoke the bearer tokens of the HTTP server.

    Example: statehub token create writer --url sqlite:///team.db
    """


@subcommand(token, "create")
@click.argument("name", metavar="AGENT")
@click.option("--admin", is_flag=True, help="An operator's token: sees and may do everything.")
def token_create(name: str, admin: bool) -> None:
    """Create a token acting as AGENT and print it (shown this once only).

    Example: statehub token create writer
    """
    with session() as s:
        made = create_token(s.hub, name, admin=admin)
        if s.settings.json:
            s.out.data({"token": made, "agent": name, "admin": admin})
        else:
            click.echo(made)


@subcommand(token, "list")
def token_list() -> None:
    """List the live tokens: id, agent, admin, creation time (never secrets).

    Example: statehub token list --json
    """
    with session() as s:
        found = list_tokens(s.hub)
        if s.settings.json:
            documents = [
                {"id": t.id, "agent": t.agent, "admin": t.admin, "created_at": iso(t.created_ts)}
                for t in found
            ]
            s.out.data(documents)
            return
        rows = [
            (t.id, s.out.agent(t.agent), "yes" if t.admin else "", when(t.created_ts))
            for t in found
        ]
        s.out.table(("id", "agent", "admin", "created"), rows)


@subcommand(token, "revoke")
@click.argument("token_id", metavar="ID")
def token_revoke(token_id: str) -> None:
    """Revoke the token ID (as shown by statehub token list): it stops working at once.

    Example: statehub token revoke 0123456789abcdef
    """
    with session() as s:
        if not revoke_token(s.hub, token_id):
            raise CommandError(f"no token {token_id!r}")
        if s.settings.json:
            s.out.data({"revoked": token_id})
        else:
            s.out.text(f"revoked {token_id}")
