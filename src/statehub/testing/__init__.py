"""Tools for testing statehub and its backends.

:mod:`statehub.testing.conformance` is the suite of behaviours every backend must
show; a backend is done when it passes it (see that module for how to run it).
"""

__all__: list[str] = []
