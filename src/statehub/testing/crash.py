"""Crash-consistency harness: SIGKILL writer processes at random points, check after each.

:func:`run_crash_test` sets up a hub, then keeps ``writers`` writer processes
(:mod:`statehub.testing.crash_writer`) committing to it, each reporting every
acknowledged write over its stdout pipe before it starts the next. The parent kills
each writer with SIGKILL at a random point, chosen three ways:

* ``early``: at a random time after the process starts, often while it opens the hub;
* ``in-commit``: a moment after the writer says it is starting a big transaction
  (100 keys), so the kill often lands inside the commit;
* ``random``: at a random time into its run of commits.

After each kill it reads what the dead writer acknowledged, opens the hub afresh
(and on SQLite runs ``PRAGMA integrity_check``), and checks the log and the state
with :class:`~statehub.testing.crash_check.ConsistencyChecker`, while the other
writers go on committing; a spare writer, started ahead and standing by with the
hub open, takes the dead one's place. At the end it kills the rest and checks that
the replayed log equals the hub's state.

>>> report = run_crash_test("sqlite:///crash.db", kills=50)   # doctest: +SKIP
>>> report.kills, report.kills_in_commit                       # doctest: +SKIP
(50, 14)

From a shell, for a longer run (the URL must name a fresh, empty hub)::

    python -m statehub.testing.crash sqlite:///crash.db --kills 500
    python -m statehub.testing.crash "postgresql://postgres@127.0.0.1/test?hub=crash-1" --kills 500
"""

from __future__ import annotations

import argparse
import os
import random
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

import statehub
from statehub.testing.crash_check import ConsistencyChecker, Inconsistency, sqlite_integrity
from statehub.testing.crash_writer import initial_state
from statehub.url import parse_url

__all__ = ["CrashReport", "main", "run_crash_test"]

_MODES = ("early", "in-commit", "random")
_MODE_WEIGHTS = (1, 4, 5)
OPEN_TIMEOUT = 60.0
"""Seconds a writer may take to open the hub before the run fails (the store must open)."""
_SPARES = 2
"""Writers started ahead of need, standing by with the hub open."""
_FALLBACK_WAIT = 1.5
"""Seconds an ``in-commit`` kill waits for a big commit to start before killing anyway."""


@dataclass
class CrashReport:
    """What one crash run did and found (every check passed, or it would have raised)."""

    url: str
    kills: int = 0
    kills_by_mode: Counter[str] = field(default_factory=Counter)
    kills_in_commit: int = 0
    """Kills that landed between a big commit's start and its acknowledgement."""
    in_commit_landed: int = 0
    """Of those, commits found whole in the log afterwards (the rest left no trace)."""
    kills_before_ready: int = 0
    """Kills that landed before the writer had opened the hub."""
    writers_started: int = 0
    acks: int = 0
    acks_by_op: Counter[str] = field(default_factory=Counter)
    revisions: int = 0
    past_reads: int = 0
    integrity_checks: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        """One paragraph for people."""
        modes = ", ".join(f"{mode} {self.kills_by_mode[mode]}" for mode in _MODES)
        ops = ", ".join(f"{op} {n}" for op, n in sorted(self.acks_by_op.items()))
        return (
            f"{self.url}: {self.kills} SIGKILLs in {self.seconds:.1f} s ({modes}); "
            f"{self.kills_in_commit} inside a big commit ({self.in_commit_landed} of those "
            f"commits landed whole, the rest left no trace), {self.kills_before_ready} before "
            f"the hub was open; {self.writers_started} writers; {self.acks} acknowledged "
            f"writes checked ({ops}); {self.revisions} revisions replayed and checked; "
            f"{self.past_reads} past revisions read back; "
            f"{self.integrity_checks} SQLite integrity checks"
        )


@dataclass
class _Writer:
    """One writer process and what the parent has read from it."""

    name: str
    process: subprocess.Popen[bytes]
    stderr: IO[bytes]
    started: float
    mode: str = ""
    """How it is to be killed; empty while it stands by."""
    kill_at: float | None = None
    ready: bool = False
    pending: bytes = b""
    acks: list[dict[str, Any]] = field(default_factory=list)
    open_batch: str | None = None
    """The big batch begun and not yet acknowledged."""

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        """Take bytes read from the pipe; returns the whole messages among them."""
        self.pending += data
        *lines, self.pending = self.pending.split(b"\n")
        messages = [orjson.loads(line) for line in lines]
        for message in messages:
            if message["t"] == "ready":
                self.ready = True
            elif message["t"] == "begin":
                self.open_batch = message["batch"]
            else:
                self.open_batch = None
                self.acks.append(message)
        return messages

    def go(self) -> None:
        """Let a writer standing by start committing."""
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(b"go\n")
        stdin.flush()


class _Harness:
    def __init__(self, url: str, rng: random.Random, workdir: Path) -> None:
        self.url = url
        self.rng = rng
        self.workdir = workdir
        self.selector = selectors.DefaultSelector()
        self.checker = ConsistencyChecker()
        self.report = CrashReport(url=url)
        self.running: list[_Writer] = []
        self.standby: list[_Writer] = []
        self.in_commit_batches: list[str] = []
        self.big_seconds: list[float] = []
        self.ready_seconds: list[float] = []
        self.sqlite_path = _sqlite_path(url)

    def setup(self) -> None:
        with statehub.open(self.url) as hub:
            _require_empty(hub)
            with hub.agent("setup").transaction(label="setup") as tx:
                for key, value in initial_state().items():
                    tx.put(key, value)

    def spawn(self) -> _Writer:
        """Start a writer process; it opens the hub, says so, and waits for ``go``."""
        self.report.writers_started += 1
        name = f"w{self.report.writers_started}"
        stderr = (self.workdir / f"{name}.stderr").open("w+b")
        seed = str(self.rng.getrandbits(32))
        process = subprocess.Popen(
            [sys.executable, "-m", "statehub.testing.crash_writer", self.url, name, seed],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        assert process.stdout is not None
        os.set_blocking(process.stdout.fileno(), False)
        writer = _Writer(name, process, stderr, time.monotonic())
        self.selector.register(process.stdout, selectors.EVENT_READ, writer)
        return writer

    def stand_by(self) -> None:
        """Start a writer ahead of need, so a replacement is ready the moment one dies."""
        self.standby.append(self.spawn())

    def activate(self) -> None:
        """Put one more writer to work, with a kill point chosen at random."""
        mode = self.rng.choices(_MODES, _MODE_WEIGHTS)[0]
        if mode == "early" or not self.standby:
            # A fresh process, killed somewhere in its start (imports, opening the hub).
            writer = self.spawn()
            if mode == "early":
                writer.kill_at = writer.started + self.rng.uniform(0.0, self._ready_estimate())
        else:
            ready = [writer for writer in self.standby if writer.ready]
            writer = (ready or self.standby)[0]
            self.standby.remove(writer)
        writer.mode = mode
        if writer.ready:
            self._schedule(writer, time.monotonic())
        writer.go()
        self.running.append(writer)

    def _ready_estimate(self) -> float:
        recent = sorted(self.ready_seconds[-20:])
        return recent[len(recent) // 2] if recent else 0.3

    def _big_commit_estimate(self) -> float:
        recent = sorted(self.big_seconds[-50:])
        return recent[len(recent) // 2] if recent else 0.01

    def _schedule(self, writer: _Writer, now: float) -> None:
        """Choose when to kill a writer that is ready and at work (``early`` has its time)."""
        if writer.mode == "random":
            writer.kill_at = now + self.rng.uniform(0.0, 0.4)
        elif writer.mode == "in-commit":
            writer.kill_at = now + _FALLBACK_WAIT  # unless a big commit starts first

    def _on_messages(self, writer: _Writer, messages: list[dict[str, Any]]) -> None:
        now = time.monotonic()
        for message in messages:
            if message["t"] == "ready":
                self.ready_seconds.append(now - writer.started)
                if writer.kill_at is None:
                    self._schedule(writer, now)
            elif message["t"] == "begin" and writer.mode == "in-commit":
                writer.kill_at = now + self.rng.uniform(0.0, 1.2 * self._big_commit_estimate())
            elif message.get("op") == "big":
                self.big_seconds.append(message["seconds"])

    def poll(self, deadline: float) -> None:
        """Read the pipes until the next kill is due (or ``deadline``), then kill."""
        now = time.monotonic()
        due = [writer.kill_at for writer in self.running if writer.kill_at is not None]
        wait = max(0.0, min([*due, deadline]) - now)
        for key, _ in self.selector.select(min(wait, 0.1)):
            writer: _Writer = key.data
            data = os.read(key.fd, 65536)
            if not data:
                raise Inconsistency(f"writer {writer.name} died by itself: {_stderr(writer)}")
            self._on_messages(writer, writer.feed(data))
        now = time.monotonic()
        for writer in list(self.running):
            if writer.kill_at is not None and writer.kill_at <= now:
                self.kill(writer)
                self.check(writer)
        for writer in self.running:
            assert writer.kill_at is not None or not writer.ready, f"{writer.name}: no kill point"
        for writer in [*self.running, *self.standby]:
            if not writer.ready and now - writer.started > OPEN_TIMEOUT:
                raise Inconsistency(
                    f"writer {writer.name} has not opened the hub after {OPEN_TIMEOUT} s; "
                    f"where it is: {_stack(writer)}"
                )

    def _reap(self, writer: _Writer) -> None:
        os.kill(writer.process.pid, signal.SIGKILL)
        writer.process.wait()
        stdout, stdin = writer.process.stdout, writer.process.stdin
        assert stdout is not None
        assert stdin is not None
        self.selector.unregister(stdout)
        os.set_blocking(stdout.fileno(), True)
        writer.feed(stdout.read())
        stdout.close()
        stdin.close()
        writer.stderr.close()
        if writer.process.returncode != -signal.SIGKILL:
            raise Inconsistency(f"writer {writer.name} exited {writer.process.returncode}")

    def kill(self, writer: _Writer) -> None:
        """SIGKILL a working writer and read everything it acknowledged before dying."""
        self._reap(writer)
        self.running.remove(writer)
        report = self.report
        report.kills += 1
        report.kills_by_mode[writer.mode] += 1
        report.kills_before_ready += not writer.ready
        if writer.open_batch is not None:
            report.kills_in_commit += 1
            self.in_commit_batches.append(writer.open_batch)

    def check(self, writer: _Writer) -> None:
        """After a kill: the hub opens, is sound, and holds everything acknowledged."""
        if self.sqlite_path is not None:
            integrity = sqlite_integrity(self.sqlite_path)
            if integrity != "ok":
                raise Inconsistency(f"integrity_check after killing {writer.name}: {integrity}")
            self.report.integrity_checks += 1
        with statehub.open(self.url) as hub:
            self.checker.advance(hub)
            self.checker.check_head(hub)
            self.checker.check_acks(hub, writer.acks)
            self.checker.check_writer(hub, writer.name, writer.acks)
            self.checker.check_past(hub, self.rng, 1)
        self.report.acks += len(writer.acks)
        self.report.acks_by_op.update(ack["op"] for ack in writer.acks)

    def finish(self) -> None:
        """Kill the writers still running or standing by, and compare log and state."""
        for writer in list(self.running):
            self.kill(writer)
            self.check(writer)
        for writer in self.standby:
            self._reap(writer)
        self.standby.clear()
        with statehub.open(self.url) as hub:
            self.checker.advance(hub)
            self.checker.check_replay_matches(hub)
            self.checker.check_past(hub, self.rng, 10, scan=True)
        self.report.in_commit_landed = sum(
            batch in self.checker.batches for batch in self.in_commit_batches
        )
        self.report.revisions = self.checker.head
        self.report.past_reads = self.checker.past_reads

    def describe(self) -> str:
        """The writers at work, for a failure message."""
        now = time.monotonic()
        return "; ".join(
            f"{w.name} ({w.mode}, ready {w.ready}, {len(w.acks)} acks, "
            f"kill in {None if w.kill_at is None else round(w.kill_at - now, 2)} s): {_stack(w)}"
            for w in self.running
        )

    def abort(self) -> None:
        for writer in [*self.running, *self.standby]:
            if writer.process.poll() is None:
                writer.process.kill()
            writer.process.wait()
            for pipe in (writer.process.stdout, writer.process.stdin):
                if pipe is not None:
                    pipe.close()
            writer.stderr.close()
        self.selector.close()


def _sqlite_path(url: str) -> Path | None:
    parsed = parse_url(url)
    return Path(parsed.path) if parsed.scheme == "sqlite" else None


def _require_empty(hub: statehub.Hub) -> None:
    if hub.revision != 0:
        raise statehub.InvalidArgument(
            f"the crash test needs a fresh, empty hub; {hub.url!r} is at revision {hub.revision}"
        )


def _stack(writer: _Writer) -> str:
    """The writer's stack (it prints it on SIGUSR1), and whatever else it wrote to stderr."""
    os.kill(writer.process.pid, signal.SIGUSR1)
    time.sleep(1.0)  # no event to wait on: the dump goes to a file
    return _stderr(writer)


def _stderr(writer: _Writer) -> str:
    writer.stderr.seek(0)
    return writer.stderr.read().decode(errors="replace")[-2000:]


def run_crash_test(
    url: str,
    *,
    kills: int = 60,
    writers: int = 3,
    timeout: float = 120.0,
    seed: int | None = None,
) -> CrashReport:
    """SIGKILL ``kills`` writer processes on the fresh hub at ``url``, checking after each.

    Args:
        url: a fresh, empty hub (``sqlite:///path`` or ``postgresql://...?hub=name``).
        kills: how many writers to kill (the run ends after that many).
        writers: how many writers run at once.
        timeout: seconds after which the run fails if it has not killed ``kills``.
        seed: for the random kill points and workloads (default: a random one).

    Returns:
        What was done and checked.

    Raises:
        Inconsistency: a check failed (the message says which); also when a writer
            died by itself, or the run took longer than ``timeout``.
        InvalidArgument: ``kills`` or ``writers`` below 1, ``timeout`` not positive,
            or a hub that is not empty (nothing is written then).
    """
    if kills < 1 or writers < 1 or not timeout > 0:
        raise statehub.InvalidArgument(
            f"kills and writers must be at least 1 and timeout positive, "
            f"not kills={kills!r}, writers={writers!r}, timeout={timeout!r}"
        )
    rng = random.Random(seed)
    started = time.monotonic()
    deadline = started + timeout
    with tempfile.TemporaryDirectory(prefix="statehub-crash-") as workdir:
        harness = _Harness(url, rng, Path(workdir))
        try:
            harness.setup()
            while harness.report.kills < kills:
                to_go = kills - harness.report.kills
                while len(harness.running) < min(writers, to_go):
                    harness.activate()
                while len(harness.standby) < min(_SPARES, to_go - len(harness.running)):
                    harness.stand_by()
                if time.monotonic() > deadline:
                    raise Inconsistency(
                        f"only {harness.report.kills} of {kills} kills in {timeout} s; "
                        f"running: {harness.describe()}"
                    )
                harness.poll(deadline)
            harness.finish()
        finally:
            harness.abort()
    harness.report.seconds = time.monotonic() - started
    return harness.report


def main(argv: list[str] | None = None) -> int:
    """The command line: ``URL [--kills N] [--writers N] [--timeout S] [--seed N]``."""
    parser = argparse.ArgumentParser(description="SIGKILL statehub writers; check after each.")
    parser.add_argument("url", help="a fresh, empty hub")
    parser.add_argument("--kills", type=int, default=60)
    parser.add_argument("--writers", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--seed", type=int)
    args = parser.parse_args(argv)
    report = run_crash_test(
        args.url, kills=args.kills, writers=args.writers, timeout=args.timeout, seed=args.seed
    )
    print(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
