"""The ``statehub`` command group: every command, gathered from its module."""

from __future__ import annotations

import click

from statehub.cli import checkpoints, coordination, diffs, exchange, history, keys, server, tokens
from statehub.cli.options import StatehubGroup, global_options

__all__ = ["main"]


@click.group(cls=StatehubGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="statehub")
@global_options
def main() -> None:
    """statehub: shared, durable, concurrency-safe state for teams of agents.

    Every command takes --url (env STATEHUB_URL), --agent (env STATEHUB_AGENT),
    --json and --debug, before or after its name. Exit codes: 0 ok, 1 error
    (a key not found included), 2 usage, 3 conflict. Reference: docs/cli.md.

    Example: statehub --url sqlite:///team.db history --since "10m ago"
    """


for _command in (
    keys.get,
    keys.put,
    keys.merge,
    keys.delete,
    keys.scan,
    history.history,
    history.watch,
    diffs.diff,
    checkpoints.checkpoint,
    checkpoints.rollback,
    exchange.export,
    exchange.import_,
    exchange.compact,
    coordination.locks,
    coordination.tasks,
    coordination.inbox,
    tokens.token,
    server.serve,
    server.demo,
):
    main.add_command(_command)
