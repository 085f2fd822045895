"""Model-based tests: every backend, driven side by side with a reference model.

A Hypothesis ``RuleBasedStateMachine`` makes random sequences of puts,
compare-and-sets, merges, reducer dispatches, updates, deletes, puts with a TTL
(long, or already run out), checkpoints, rollbacks and compactions, by two agents,
on a real hub and on :class:`statehub.testing.model.ReferenceHub`. After every step
it compares what each agent sees (``scan``, ``entries``), the audit log (the hub's
and each agent's: revisions, keys, ops, agents, versions, and that each change's
JSON Patch turns the value before into the value after), time travel (``get`` and
``scan`` with ``at=``), diffs (``hub.diff`` from the oldest readable revision and
from every checkpoint) and checkpoints. Hypothesis shrinks any difference to a
short sequence of steps.

TTL without sleeping: a key's TTL is either an hour (it never runs out during a
test, but the entry must carry it, and ``put`` without ``ttl`` must clear it) or
a microsecond, in which case the same step checks that the key reads as absent at
once and then writes it again, so its logged ``expire`` change lands at a revision
known in advance (the next commit, the one that finds it).
"""

from __future__ import annotations

import copy
import shutil
import tempfile
import time
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

import statehub
from statehub.errors import StatehubError
from statehub.patch import apply_patch
from statehub.testing.model import ModelChange, ReferenceHub, same
from tests.conftest import postgres_url

T = TypeVar("T")

AGENTS = st.sampled_from(["a1", "a2"])
PRIVATE = "PRIVATE"
"""Stands for the acting agent's own private key, ``agent/<name>/notes``."""
KEYS = st.sampled_from(["global/k0", "global/k1", "global/k2/deep", "task/t1/x", PRIVATE])
PREFIXES = st.sampled_from(["", "global/", "global/k1", "task/", "agent/"])
CHECKPOINT_NAMES = st.sampled_from(["c1", "c2", "c3"])

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.sampled_from([0.5, -2.25, 1e100]),
    st.text("ab", max_size=3),
)
FIELDS = st.sampled_from(["a", "b", "c"])
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(FIELDS, inner, max_size=3)
    ),
    max_leaves=6,
)
PATCHES = st.one_of(st.dictionaries(FIELDS, st.one_of(st.none(), JSON), max_size=3), JSON)
ACTIONS = st.one_of(
    st.tuples(st.just("append"), SCALARS),
    st.tuples(st.just("extend"), st.lists(SCALARS, max_size=2)),
    st.tuples(st.sampled_from(["add", "max", "min"]), st.integers(-3, 3)),
    st.tuples(st.just("union"), st.lists(st.integers(0, 3), max_size=3)),
    st.tuples(st.just("merge"), st.dictionaries(FIELDS, st.one_of(st.none(), SCALARS), max_size=2)),
    st.tuples(st.just("replace"), JSON),
)
LONG_TTL = 3600.0
SHORT_TTL = 1e-6
"""Runs out at once: the key is expired by the time anyone reads it."""
CLOCK_MARGIN = 0.005
"""Seconds by which a database's clock, as the client estimates it, may run ahead."""


def append_token(value: Any, token: str) -> list[Any]:
    """The function ``update`` applies."""
    return [*(value if isinstance(value, list) else []), token]


class HubVersusModel(RuleBasedStateMachine):
    """A real hub and the reference model, compared after every step."""

    open_hub: ClassVar[Callable[[str], statehub.Hub]]
    """Opens a fresh, empty hub; given a private temporary directory."""

    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.mkdtemp(prefix="statehub-model-")
        self.hub = type(self).open_hub(self.tmp)
        self.model = ReferenceHub()
        self.tokens = 0

    def teardown(self) -> None:
        self.hub.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- helpers ---------------------------------------------------------------------

    def _key(self, agent: str, key: str) -> str:
        return f"agent/{agent}/notes" if key == PRIVATE else key

    def _both(self, real: Callable[[], T], model: Callable[[], Any]) -> tuple[T | None, Any]:
        """Run the model, then the hub: both succeed, or both raise the same error."""
        try:
            expected = model()
        except StatehubError as exc:
            with pytest.raises(type(exc)):
                real()
            return None, None
        return real(), expected

    def _written(self, entry: statehub.Entry | None, revision: int | None) -> None:
        """A write's result names the revision the model gave it."""
        if revision is None:
            assert entry is None or self.hub.revision == self.model.head
        else:
            assert entry is not None
            assert entry.modified_rev == revision

    # -- writes ----------------------------------------------------------------------

    @rule(agent=AGENTS, key=KEYS, value=JSON, long_ttl=st.booleans())
    def put(self, agent: str, key: str, value: Any, long_ttl: bool) -> None:
        key, ttl = self._key(agent, key), LONG_TTL if long_ttl else None
        entry, revision = self._both(
            lambda: self.hub.agent(agent).put(key, value, ttl=ttl),
            lambda: self.model.put(agent, key, value, ttl=ttl),
        )
        self._written(entry, revision)

    @rule(agent=AGENTS, key=KEYS, value=JSON, expect=st.one_of(st.none(), st.integers(0, 3)))
    def compare_and_set(self, agent: str, key: str, value: Any, expect: int | None) -> None:
        key = self._key(agent, key)
        if expect is None:  # the version it has: this one succeeds
            found = self.model.entry(agent, key)
            expect = 0 if found is None else found.version
        entry, revision = self._both(
            lambda: self.hub.agent(agent).put(key, value, expect_version=expect),
            lambda: self.model.put(agent, key, value, expect_version=expect),
        )
        self._written(entry, revision)

    @rule(agent=AGENTS, key=KEYS, patch=PATCHES, expect=st.one_of(st.none(), st.integers(0, 2)))
    def merge(self, agent: str, key: str, patch: Any, expect: int | None) -> None:
        key = self._key(agent, key)
        entry, revision = self._both(
            lambda: self.hub.agent(agent).merge(key, copy.deepcopy(patch), expect_version=expect),
            lambda: self.model.merge(agent, key, patch, expect_version=expect),
        )
        self._written(entry, revision)

    @rule(agent=AGENTS, key=KEYS, action=ACTIONS)
    def dispatch(self, agent: str, key: str, action: tuple[str, Any]) -> None:
        key, (reducer, argument) = self._key(agent, key), action
        entry, revision = self._both(
            lambda: self.hub.agent(agent).dispatch(key, copy.deepcopy(argument), reducer=reducer),
            lambda: self.model.dispatch(agent, key, reducer, argument),
        )
        self._written(entry, revision)

    @rule(agent=AGENTS, key=KEYS)
    def update(self, agent: str, key: str) -> None:
        key, self.tokens = self._key(agent, key), self.tokens + 1
        token = f"t{self.tokens}"
        entry, revision = self._both(
            lambda: self.hub.agent(agent).update(key, lambda v: append_token(v, token)),
            lambda: self.model.update(agent, key, lambda v: append_token(v, token)),
        )
        self._written(entry, revision)

    @rule(agent=AGENTS, key=KEYS)
    def delete(self, agent: str, key: str) -> None:
        key = self._key(agent, key)
        deleted, revision = self._both(
            lambda: self.hub.agent(agent).delete(key), lambda: self.model.delete(agent, key)
        )
        assert (deleted is None) == (revision is None)

    @rule(
        agent=AGENTS,
        key=KEYS,
        value=JSON,
        then=st.sampled_from(["put", "merge", "dispatch", "delete"]),
    )
    def put_that_expires_at_once(self, agent: str, key: str, value: Any, then: str) -> None:
        key, real = self._key(agent, key), self.hub.agent(agent)
        entry = real.put(key, value, ttl=SHORT_TTL)
        assert entry.modified_rev == self.model.put(agent, key, value, ttl=SHORT_TTL)
        assert entry.expires_ts is not None
        # PostgreSQL stamps the expiry with the database's clock, which this process
        # knows only to within the error of its offset measurement (a fraction of a
        # round trip): wait out the expiry instant plus that margin, not a guess.
        time.sleep(max(0.0, entry.expires_ts + CLOCK_MARGIN - time.time()))
        self.model.expire_now(key)
        assert real.get(key, "absent") == "absent"
        assert real.entry(key) is None
        assert key not in real.scan()
        # The next commit that touches the key logs its expiry first: at a known revision.
        if then == "put":
            self._written(real.put(key, [then]), self.model.put(agent, key, [then]))
        elif then == "merge":
            self._written(real.merge(key, {"m": 1}), self.model.merge(agent, key, {"m": 1}))
        elif then == "dispatch":
            done = real.dispatch(key, 1, reducer="append")
            self._written(done, self.model.dispatch(agent, key, "append", 1))
        else:
            assert real.delete(key) is None
            assert self.model.delete(agent, key) is None

    @rule(
        agent=AGENTS,
        ops=st.lists(
            st.tuples(st.sampled_from(["put", "merge", "dispatch", "delete"]), KEYS, SCALARS),
            min_size=1,
            max_size=3,
            unique_by=lambda op: op[1],
        ),
        expect=st.one_of(st.none(), st.integers(0, 2)),
    )
    def transaction(self, agent: str, ops: list[tuple[str, str, Any]], expect: int | None) -> None:
        # Merges patch one field, so the argument of every kind can be a scalar.
        ops = [
            (kind, self._key(agent, key), {"f": argument} if kind == "merge" else argument)
            for kind, key, argument in ops
        ]
        if ops[0][0] == "dispatch":
            expect = None  # dispatch takes no expect_version
        expected_versions = {} if expect is None else {ops[0][1]: expect}
        committed = {key: self.model.entry(agent, key) for _, key, _ in ops}
        before = {
            key: "absent" if e is None else copy.deepcopy(e.value) for key, e in committed.items()
        }

        def real() -> int | None:
            with self.hub.agent(agent).transaction() as tx:
                for index, (kind, key, argument) in enumerate(ops):
                    version = expect if index == 0 else None
                    # tx.get reads committed state (not this transaction's writes).
                    assert same(tx.get(key, "absent"), before[key])
                    if kind == "put":
                        tx.put(key, argument, expect_version=version)
                    elif kind == "merge":
                        tx.merge(key, argument, expect_version=version)
                    elif kind == "dispatch":
                        tx.dispatch(key, argument, reducer="append")
                    else:
                        tx.delete(key, expect_version=version)
            return tx.revision

        revision, expected = self._both(
            real, lambda: self.model.transaction(agent, ops, expected_versions)
        )
        assert revision == expected

    # -- checkpoints, rollback, compaction --------------------------------------------

    @rule(agent=AGENTS, name=CHECKPOINT_NAMES)
    def checkpoint(self, agent: str, name: str) -> None:
        made, revision = self._both(
            lambda: self.hub.agent(agent).checkpoint(name),
            lambda: self.model.checkpoint(agent, name),
        )
        assert made is None or made.revision == revision

    @rule(agent=AGENTS, name=CHECKPOINT_NAMES)
    def delete_checkpoint(self, agent: str, name: str) -> None:
        assert self.hub.agent(agent).delete_checkpoint(name) == self.model.delete_checkpoint(
            agent, name
        )

    @rule(agent=AGENTS, data=st.data(), prefix=PREFIXES)
    def rollback(self, agent: str, data: st.DataObject, prefix: str) -> None:
        to = data.draw(self._revisions_or_checkpoints(), label="to")
        if prefix == "agent/":
            prefix = f"agent/{agent}/"
        revision, expected = self._both(
            lambda: self.hub.agent(agent).rollback(to, prefix=prefix),
            lambda: self.model.rollback(agent, to, prefix),
        )
        assert revision == expected

    @precondition(lambda self: self.model.head > 1)
    @rule(data=st.data())
    def compact(self, data: st.DataObject) -> None:
        before = data.draw(self._revisions_or_checkpoints(), label="before")
        self._both(lambda: self.hub.compact(before=before), lambda: self.model.compact(before))

    @rule(agent=AGENTS, key=KEYS, data=st.data())
    def read_the_past(self, agent: str, key: str, data: st.DataObject) -> None:
        key, at = self._key(agent, key), data.draw(self._revisions_or_checkpoints(), label="at")
        value, found = self._both(
            lambda: self.hub.agent(agent).get(key, "absent", at=at),
            lambda: self.model.value_at(key, self.model.resolve(at)),
        )
        if found is not None:
            present, expected = found
            assert same(value, expected if present else "absent")

    def _revisions_or_checkpoints(self) -> st.SearchStrategy[int | str]:
        names = [*sorted(self.model.checkpoints()), "c3", "head"]
        return st.one_of(st.integers(0, self.model.head), st.sampled_from(names))

    # -- comparisons after every step -------------------------------------------------

    @invariant()
    def heads_and_checkpoints_agree(self) -> None:
        assert self.hub.revision == self.model.head
        assert self.hub.oldest_revision == self.model.oldest
        found = {checkpoint.name: checkpoint.revision for checkpoint in self.hub.checkpoints()}
        assert found == self.model.checkpoints()

    @invariant()
    def every_agent_sees_the_models_state(self) -> None:
        for name in ("a1", "a2"):
            agent = self.hub.agent(name)
            expected = self.model.scan(name)
            scanned = agent.scan()
            assert scanned.keys() == expected.keys()
            assert all(same(scanned[key], expected[key]) for key in expected)
            for entry in agent.entries():
                model = self.model.entry(name, entry.key)
                assert model is not None
                assert (entry.version, entry.created_rev, entry.modified_rev) == (
                    model.version,
                    model.created_rev,
                    model.modified_rev,
                )
                assert entry.updated_by == model.updated_by
                assert (entry.expires_ts is not None) == model.expires

    @invariant()
    def history_matches_the_models_log(self) -> None:
        views: list[tuple[str | None, list[statehub.Change]]] = [
            (None, self.hub.history()),
            *((name, self.hub.agent(name).history()) for name in ("a1", "a2")),
        ]
        for name, changes in views:
            expected = self.model.history(name)
            assert [_row(change) for change in changes] == [_model_row(c) for c in expected]
        for change, model in zip(views[0][1], self.model.history(None), strict=True):
            if model.present and not model.key.startswith("_"):
                before = self.model.value_at(model.key, model.revision - 1)
                after = apply_patch(copy.deepcopy(before[1]), change.patch)
                assert same(after, model.value), (change, before)

    @invariant()
    def the_past_reads_as_the_model_says(self) -> None:
        head, oldest = self.model.head, self.model.oldest
        keys = {change.key for change in self.model.log if not change.key.startswith("_")}
        for revision in sorted({oldest, (oldest + head) // 2, max(head - 1, oldest)}):
            for name in ("a1", "a2"):
                agent = self.hub.agent(name)
                snapshot = agent.scan(at=revision)
                expected = self.model.snapshot_at(revision, name)
                assert snapshot.keys() == expected.keys(), revision
                assert all(same(snapshot[k], expected[k]) for k in expected)
            reader = self.hub.agent("a1")
            for key in sorted(k for k in keys if self.model.visible("a1", k)):
                present, value = self.model.value_at(key, revision)
                assert same(reader.get(key, "absent", at=revision), value if present else "absent")

    @invariant()
    def diffs_match_the_model(self) -> None:
        starts: list[int | str] = [self.model.oldest, *sorted(self.model.checkpoints())]
        for start in starts:
            diff = self.hub.diff(start, "head")
            added, removed, changed = self.model.diff(start, "head", None)
            assert diff.added.keys() == added.keys()
            assert all(same(diff.added[k], added[k]) for k in added)
            assert diff.removed.keys() == removed.keys()
            assert all(same(diff.removed[k], removed[k]) for k in removed)
            assert diff.changed.keys() == changed.keys()
            for key, (old, new) in changed.items():
                found = diff.changed[key]
                assert same(found.old, old)
                assert same(found.new, new)
                assert same(apply_patch(copy.deepcopy(old), found.patch), new)


def _row(change: statehub.Change) -> tuple[int, str, str, str, int, int]:
    return (
        change.revision,
        change.key,
        change.op,
        change.agent,
        change.prev_version,
        change.version,
    )


def _model_row(change: ModelChange) -> tuple[int, str, str, str, int, int]:
    return (
        change.revision,
        change.key,
        change.op,
        change.agent,
        change.prev_version,
        change.version,
    )


def _machine(name: str, open_hub: Callable[[str], statehub.Hub]) -> type[HubVersusModel]:
    return type(
        f"{name.title()}VersusModel", (HubVersusModel,), {"open_hub": staticmethod(open_hub)}
    )


MACHINES: dict[str, tuple[type[HubVersusModel], settings]] = {
    "memory": (
        _machine("memory", lambda tmp: statehub.open("memory://")),
        settings(max_examples=80, stateful_step_count=30),
    ),
    "sqlite": (
        _machine("sqlite", lambda tmp: statehub.open(f"sqlite:///{tmp}/hub.db")),
        settings(max_examples=25, stateful_step_count=25),
    ),
    "postgres": (
        _machine("postgres", lambda tmp: statehub.open(postgres_url())),
        settings(max_examples=10, stateful_step_count=25),
    ),
}


@pytest.mark.parametrize("backend", sorted(MACHINES))
def test_backend_behaves_like_the_reference_model(backend: str) -> None:
    machine, bounds = MACHINES[backend]
    run_state_machine_as_test(
        machine,
        settings=settings(
            bounds,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        ),
    )


# --------------------------------------------------------------------------- what the model found


# Found by the model: update() cleared a TTL on its optimistic path (a put) but kept
# it on its in-commit path (a dispatch); it keeps it on both now.
def test_update_treats_a_ttl_the_same_on_both_of_its_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    with statehub.open("memory://") as hub:
        agent = hub.agent("a1")
        agent.put("global/optimistic", 1, ttl=LONG_TTL)
        agent.update("global/optimistic", lambda value: value + 1)
        agent.put("global/in-commit", 1, ttl=LONG_TTL)
        monkeypatch.setattr("statehub.hub.OPTIMISTIC_UPDATES", 0)  # as after 8 conflicts
        agent.update("global/in-commit", lambda value: value + 1)
        optimistic, in_commit = agent.entry("global/optimistic"), agent.entry("global/in-commit")
        assert optimistic is not None
        assert in_commit is not None
        assert (optimistic.value, in_commit.value) == (2, 2)
        assert (optimistic.expires_ts is None) == (in_commit.expires_ts is None)
