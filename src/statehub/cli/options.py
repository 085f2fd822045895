"""The options every command takes, the exit codes, and how errors are reported.

Every command (and group) accepts ``--url``, ``--agent``, ``--json`` and ``--debug``,
before or after its name: ``statehub --json history`` and ``statehub history --json``
are the same. A value given after the command wins over one given before it, which
wins over the environment (``STATEHUB_URL``, ``STATEHUB_AGENT``), which wins over the
defaults.

Exit codes: :data:`OK` 0, :data:`ERROR` 1 (anything that failed, a key not found
included), :data:`USAGE` 2 (the command line itself is wrong), :data:`CONFLICT` 3
(a :class:`~statehub.errors.ConflictError`: a write lost an optimistic race).
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import click

from statehub.errors import ConflictError, StatehubError
from statehub.url import DEFAULT_URL

__all__ = [
    "CONFLICT",
    "DEFAULT_AGENT",
    "ERROR",
    "OK",
    "USAGE",
    "CommandError",
    "Settings",
    "StatehubCommand",
    "StatehubGroup",
    "command",
    "global_options",
    "group",
    "settings",
    "subcommand",
]

OK = 0
"""Exit code: the command did what it was asked."""

ERROR = 1
"""Exit code: the command failed (bad input refused by the hub, a key not found, ...)."""

USAGE = 2
"""Exit code: the command line is wrong (unknown option, missing argument, bad value)."""

CONFLICT = 3
"""Exit code: a write lost an optimistic race (``ConflictError``); nothing was written."""

DEFAULT_AGENT = "cli"
"""The agent writes are attributed to without ``--agent`` or ``STATEHUB_AGENT``."""

_META = "statehub.cli.options"
_F = TypeVar("_F", bound=Callable[..., Any])
_C = TypeVar("_C", bound=click.Command)
_GLOBAL_NAMES = frozenset({"url", "agent", "json", "debug"})


class CommandError(Exception):
    """A failure a command reports itself: one line on stderr, then ``exit_code``."""

    def __init__(self, message: str, exit_code: int = ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True, slots=True)
class Settings:
    """The global options of one invocation, resolved.

    Attributes:
        url: the hub URL (``--url``, ``STATEHUB_URL``, else ``sqlite:///statehub.db``).
        agent: the agent writes act as (``--agent``, ``STATEHUB_AGENT``, else ``cli``).
        url_given: whether the URL came from ``--url`` or the environment.
        json: print JSON for scripts instead of text.
        debug: let errors raise with their traceback.
    """

    url: str
    agent: str
    url_given: bool
    json: bool
    debug: bool


def _remember(name: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is not None and value is not False:
            # ctx.meta is shared by a context and its children: the value given
            # closest to the command, which is parsed last, wins.
            ctx.meta.setdefault(_META, {})[name] = value
        return value

    return callback


_AGENT_OPTION = click.option(
    "--agent",
    metavar="NAME",
    expose_value=False,
    callback=_remember("agent"),
    help=f"The agent writes are attributed to [env STATEHUB_AGENT; default {DEFAULT_AGENT}].",
)

_GLOBAL_OPTIONS = (
    click.option(
        "--url",
        metavar="URL",
        expose_value=False,
        callback=_remember("url"),
        help=f"The hub [env STATEHUB_URL; default {DEFAULT_URL}].",
    ),
    _AGENT_OPTION,
    click.option(
        "--json",
        is_flag=True,
        expose_value=False,
        callback=_remember("json"),
        help="Print JSON (stable, documented in docs/cli.md).",
    ),
    click.option(
        "--debug",
        is_flag=True,
        expose_value=False,
        callback=_remember("debug"),
        help="Show the traceback of an error.",
    ),
)


def global_options(function: _F, *, agent: bool = True) -> _F:
    """Add ``--url``, ``--agent``, ``--json`` and ``--debug`` to a command.

    Args:
        function: the command's function.
        agent: ``False`` leaves ``--agent`` out, for a read command that uses the name
            for a filter of its own (``history --agent``).
    """
    for option in reversed(_GLOBAL_OPTIONS):
        if agent or option is not _AGENT_OPTION:
            function = option(function)
    return function


def settings(ctx: click.Context | None = None) -> Settings:
    """The global options of the running command, resolved (see the module docstring)."""
    ctx = ctx or click.get_current_context()
    given: dict[str, Any] = ctx.meta.get(_META, {})
    url = given.get("url") or os.environ.get("STATEHUB_URL")
    return Settings(
        url=url or DEFAULT_URL,
        agent=given.get("agent") or os.environ.get("STATEHUB_AGENT") or DEFAULT_AGENT,
        url_given=bool(url),
        json=bool(given.get("json")),
        debug=bool(given.get("debug")),
    )


def _fail(ctx: click.Context, exc: Exception, code: int) -> NoReturn:
    if settings(ctx).debug:  # the traceback first; the exit code stays the documented one
        traceback.print_exception(exc, file=sys.stderr)
    if isinstance(exc, StatehubError | CommandError):
        message = str(exc)
    else:
        message = f"{type(exc).__name__}: {exc}"
    click.echo(f"error: {' '.join(message.split())}", err=True)
    ctx.exit(code)


class StatehubCommand(click.Command):
    """A command whose errors print as one line (a traceback with ``--debug``)."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; turn an error into one line on stderr and an exit code."""
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort, BrokenPipeError):
            raise
        except CommandError as exc:
            _fail(ctx, exc, exc.exit_code)
        except ConflictError as exc:
            _fail(ctx, exc, CONFLICT)
        except Exception as exc:
            _fail(ctx, exc, ERROR)


class StatehubGroup(click.Group):
    """A group of commands; as the top level, it prints usage errors in one line too."""

    command_class = StatehubCommand

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command line: exit with one of the documented codes."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            result = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "statehub"
            click.echo(f"error: {exc.format_message()} (see: {where} --help)", err=True)
            sys.exit(USAGE)
        except click.ClickException as exc:
            click.echo(f"error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("error: aborted", err=True)
            sys.exit(ERROR)
        except BrokenPipeError:
            # The reader went away (| head): say nothing, and keep Python's final
            # flush of stdout from failing again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(ERROR)
        sys.exit(result if isinstance(result, int) else OK)


def command(
    name: str | None = None, *, agent_option: bool = True, **attrs: Any
) -> Callable[[Callable[..., Any]], click.Command]:
    """Decorate a function as a statehub command with the global options.

    Args:
        name: the command's name (the function's, without it).
        agent_option: ``False`` leaves the global ``--agent`` out (see :func:`global_options`).
        attrs: passed on to :func:`click.command`.
    """

    def decorate(function: Callable[..., Any]) -> click.Command:
        with_options = global_options(function, agent=agent_option)
        return _globals_last(click.command(name, cls=StatehubCommand, **attrs)(with_options))

    return decorate


def _globals_last(made: _C) -> _C:
    """Move the global options after the command's own in its help."""
    own = [p for p in made.params if p.expose_value or p.name not in _GLOBAL_NAMES]
    made.params = own + [p for p in made.params if p not in own]
    return made


def subcommand(
    parent: click.Group, name: str, **attrs: Any
) -> Callable[[Callable[..., Any]], click.Command]:
    """Decorate a function as command ``name`` of ``parent``, with the global options."""

    def decorate(function: Callable[..., Any]) -> click.Command:
        made = command(name, **attrs)(function)
        parent.add_command(made)
        return made

    return decorate


def group(name: str | None = None, **attrs: Any) -> Callable[[Callable[..., Any]], click.Group]:
    """Decorate a function as a statehub group of commands with the global options."""

    def decorate(function: Callable[..., Any]) -> click.Group:
        made = click.group(name, cls=StatehubGroup, **attrs)(global_options(function))
        return _globals_last(made)

    return decorate
