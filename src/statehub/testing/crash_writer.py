"""The writer process of the crash harness: commits in a loop and reports every ack.

Run as ``python -m statehub.testing.crash_writer URL NAME SEED``. It opens the hub at
``URL`` as agent ``NAME``, says ``ready``, waits for a line on its stdin (the
parent's go), and commits forever, choosing at random among

* ``put``: ``global/put/<name>`` set to its own put counter (0, 1, 2, ...);
* ``merge``: ``{<name>: n}`` merged into ``global/merged`` (its merge counter);
* ``dispatch``: n appended to ``global/log/<name>`` (its dispatch counter);
* ``move``: a transaction that moves an amount between two of the
  :data:`ACCOUNTS` keys (conditional on both, retried on conflict), so the sum of
  the accounts is :data:`TOTAL` at every revision unless a transaction is half
  applied;
* ``big``: one transaction that writes the same batch id to all :data:`BIG_KEYS`
  keys, long enough that a kill often lands inside it.

After each commit returns, and before the next one starts, it writes one JSON line
to its stdout (a pipe to the parent) naming the revision and every key's new
version: an acknowledged write. Before a ``big`` commit it writes a ``begin`` line, so
the parent can kill it while the commit is in flight. The parent kills it with
SIGKILL; it never exits by itself unless something fails.
"""

from __future__ import annotations

import faulthandler
import os
import random
import signal
import sys
import time
from typing import Any

import orjson

import statehub

__all__ = [
    "ACCOUNTS",
    "BIG_KEYS",
    "INITIAL_BALANCE",
    "TOTAL",
    "account_key",
    "big_key",
    "initial_state",
    "main",
    "run_writer",
]

ACCOUNTS = 8
"""How many account keys the ``move`` transactions shuffle an amount between."""
INITIAL_BALANCE = 1000
TOTAL = ACCOUNTS * INITIAL_BALANCE
"""The sum of the accounts at every revision."""
BIG_KEYS = 100
"""How many keys one ``big`` transaction writes."""
BIG_PAD = "x" * 100
"""Padding in each big value, so that a big commit writes some kilobytes."""
MOVE_RETRIES = 50

_WEIGHTS = {"put": 3, "merge": 3, "dispatch": 3, "move": 6, "big": 1}


def account_key(index: int) -> str:
    """The key of account ``index``."""
    return f"global/acct/{index}"


def big_key(index: int) -> str:
    """The key of big-transaction slot ``index``."""
    return f"global/big/{index:03d}"


def big_value(batch: str) -> dict[str, Any]:
    """The value every big key holds after the ``big`` commit of ``batch``."""
    return {"batch": batch, "pad": BIG_PAD}


def initial_state() -> dict[str, Any]:
    """The keys the parent writes in one transaction before any writer starts."""
    state: dict[str, Any] = {account_key(i): INITIAL_BALANCE for i in range(ACCOUNTS)}
    state.update({big_key(i): big_value("init") for i in range(BIG_KEYS)})
    return state


def _report(message: dict[str, Any]) -> None:
    # One write(2) of one line, well under PIPE_BUF: once it returns, the parent can
    # read it even if this process is killed the next instant.
    os.write(1, orjson.dumps(message) + b"\n")


class _Writer:
    """One writer's counters and operations."""

    def __init__(self, agent: statehub.Agent, rng: random.Random) -> None:
        self.agent = agent
        self.name = agent.name
        self.rng = rng
        self.counters = dict.fromkeys(_WEIGHTS, 0)

    def _next(self, kind: str) -> int:
        seq = self.counters[kind]
        self.counters[kind] = seq + 1
        return seq

    def put(self) -> dict[str, Any]:
        seq = self._next("put")
        entry = self.agent.put(f"global/put/{self.name}", seq)
        return {"seq": seq, "rev": entry.modified_rev, "keys": {entry.key: entry.version}}

    def merge(self) -> dict[str, Any]:
        seq = self._next("merge")
        entry = self.agent.merge("global/merged", {self.name: seq})
        return {"seq": seq, "rev": entry.modified_rev, "keys": {entry.key: entry.version}}

    def dispatch(self) -> dict[str, Any]:
        seq = self._next("dispatch")
        entry = self.agent.dispatch(f"global/log/{self.name}", seq, reducer="append")
        return {"seq": seq, "rev": entry.modified_rev, "keys": {entry.key: entry.version}}

    def move(self) -> dict[str, Any]:
        source, target = self.rng.sample(range(ACCOUNTS), 2)
        amount = self.rng.randint(1, 50)
        conflicts = 0
        while True:
            try:
                with self.agent.transaction(label="move") as tx:
                    tx.put(account_key(source), tx.get(account_key(source)) - amount)
                    tx.put(account_key(target), tx.get(account_key(target)) + amount)
            except statehub.ConflictError:
                conflicts += 1
                if conflicts >= MOVE_RETRIES:
                    raise
                time.sleep(self.rng.uniform(0, 0.002))
                continue
            assert tx.revision is not None
            keys = {key: entry.version for key, entry in tx.entries.items() if entry is not None}
            return {"rev": tx.revision, "keys": keys, "conflicts": conflicts}

    def big(self) -> dict[str, Any]:
        seq = self._next("big")
        batch = f"{self.name}-{seq}"
        _report({"t": "begin", "batch": batch})
        started = time.perf_counter()
        with self.agent.transaction(label="big") as tx:
            for index in range(BIG_KEYS):
                tx.put(big_key(index), big_value(batch))
        assert tx.revision is not None
        keys = {key: entry.version for key, entry in tx.entries.items() if entry is not None}
        return {
            "seq": seq,
            "batch": batch,
            "rev": tx.revision,
            "keys": keys,
            "seconds": time.perf_counter() - started,
        }


def run_writer(url: str, name: str, seed: int) -> None:
    """Open the hub at ``url`` as agent ``name`` and commit until killed, reporting each ack."""
    rng = random.Random(seed)
    with statehub.open(url) as hub:
        writer = _Writer(hub.agent(name), rng)
        kinds = list(_WEIGHTS)
        weights = list(_WEIGHTS.values())
        _report({"t": "ready"})
        sys.stdin.readline()  # the parent's "go" (a spare waits here with the hub open)
        while True:
            kind = rng.choices(kinds, weights)[0]
            ack = getattr(writer, kind)()
            _report({"t": "ack", "op": kind, **ack})


def main(argv: list[str]) -> int:
    """The command line: ``URL NAME SEED``."""
    url, name, seed = argv
    # SIGUSR1 prints every thread's stack to stderr: how the parent shows where a
    # writer is stuck before it gives up on it.
    faulthandler.register(signal.SIGUSR1)
    run_writer(url, name, int(seed))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
