"""The ``statehub`` command line (also ``python -m statehub``).

One module per group of commands: :mod:`~statehub.cli.keys` (get, put, merge,
delete, scan), :mod:`~statehub.cli.history` (history, watch),
:mod:`~statehub.cli.diffs` (diff), :mod:`~statehub.cli.checkpoints` (checkpoint,
rollback), :mod:`~statehub.cli.exchange` (export, import, compact),
:mod:`~statehub.cli.coordination` (locks, tasks, inbox), :mod:`~statehub.cli.tokens`
(token), :mod:`~statehub.cli.server` (serve, demo). :mod:`~statehub.cli.options`
holds the global options, exit codes and error reporting; :mod:`~statehub.cli.output`
how things print; ``docs/cli.md`` is the reference.
"""

from statehub.cli.app import main

__all__ = ["main"]
