"""Tools for testing statehub and its backends.

- :mod:`statehub.testing.conformance` (with :mod:`~statehub.testing.lifecycle`,
  :mod:`~statehub.testing.tasks_suite`, :mod:`~statehub.testing.messaging_suite`): the
  behaviours every backend must show; a backend is done when it passes them (see
  that module for how to run them).
- :mod:`statehub.testing.linearizability`: a Wing-Gong/Lowe checker of concurrent
  histories; :mod:`statehub.testing.model`: a reference model of a hub, for
  model-based tests.
- :mod:`statehub.testing.crash` (``python -m statehub.testing.crash URL``): SIGKILL
  writer processes and check what survives.
- :mod:`statehub.testing.server`: a real ``statehub serve`` process;
  :mod:`statehub.testing.blocking`: the asyncio API behind the sync API's names;
  :mod:`statehub.testing.processes`: spawned processes that start together and
  report once each.
"""

__all__: list[str] = []
