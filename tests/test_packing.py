"""Packed log payloads: the codec alone, and SQLite's log read back through every path."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

import statehub
from statehub.backends.sqlite import SCHEMA_VERSION
from statehub.packing import PACK_FROM, pack, unpack

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=60,
)


@given(json_values)
def test_unpack_returns_what_was_packed(value: Any) -> None:
    data = orjson.dumps(value)
    stored = pack(data)
    assert unpack(stored) == data
    assert stored is not None
    assert len(stored) <= len(data)


def test_small_payloads_stay_plain() -> None:
    small = b'"' + b"a" * (PACK_FROM - 3) + b'"'
    assert pack(small) == small
    assert pack(None) is None
    assert unpack(None) is None


def test_a_compressible_payload_is_packed_behind_a_nul_byte() -> None:
    data = orjson.dumps({"messages": ["hello agent"] * 100})
    stored = pack(data)
    assert stored is not None
    assert stored[0] == 0
    assert len(stored) < len(data) // 4


def _document(i: int) -> dict[str, Any]:
    return {"title": "report", "sections": [f"section {n} of draft {i}" for n in range(40)]}


def _stored_log(path: Path) -> list[tuple[bytes | None, bytes | None, bytes | None]]:
    with sqlite3.connect(path) as connection:
        return connection.execute(
            "SELECT patch, value, cause FROM changes ORDER BY revision"
        ).fetchall()


def test_sqlite_log_is_packed_and_reads_back_through_every_path(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    with statehub.open(f"sqlite:///{path}") as hub:
        writer = hub.agent("writer")
        revisions = [writer.put("global/doc", _document(0)).modified_rev]
        for i in range(1, 6):
            revisions.append(writer.put("global/doc", _document(i)).modified_rev)
        revisions.append(writer.merge("global/doc", {"notes": "n" * 400}).modified_rev)
        revisions.append(writer.dispatch("global/log", "m" * 400, reducer="append").modified_rev)
        writer.checkpoint("before-delete")
        writer.delete("global/doc")
        history = hub.history()
        expected = [_document(i) for i in range(6)]

        stored = _stored_log(path)
        assert any(blob is not None and blob[0] == 0 for row in stored for blob in row)
        assert hub.history() == history
        for revision, document in zip(revisions, expected, strict=False):
            assert writer.get("global/doc", at=revision) == document
        assert writer.get("global/doc", at=revisions[6])["notes"] == "n" * 400
        assert next(c.cause for c in history if c.key == "global/log") is not None

        exported = tmp_path / "export.json"
        hub.export(exported, history=True)
        raw = orjson.loads(exported.read_bytes())
        assert "\\u0000" not in exported.read_text()  # the file holds JSON, never packed bytes
        assert raw["changes"]

        hub.compact(before=revisions[-1])
        assert writer.get("global/doc", at="before-delete")["notes"] == "n" * 400

    copy = tmp_path / "copy.db"
    statehub.import_file(exported, f"sqlite:///{copy}")
    with statehub.open(f"sqlite:///{copy}") as imported:
        assert imported.history() == history
        assert imported.agent("reader").get("global/doc", at=revisions[3]) == expected[3]
    assert _stored_log(copy) == stored


def test_a_file_from_before_packing_is_upgraded_and_still_read(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with statehub.open(f"sqlite:///{path}") as hub:
        hub.agent("a").put("global/doc", _document(1))
    with sqlite3.connect(path) as connection:
        # Rewrite the log as an older statehub left it: plain JSON, schema version 2.
        for rowid_key, value in connection.execute("SELECT key, value FROM changes").fetchall():
            connection.execute(
                "UPDATE changes SET value = ? WHERE key = ?", (unpack(value), rowid_key)
            )
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    with statehub.open(f"sqlite:///{path}") as hub:
        assert hub.history()[0].patch[0]["value"] == _document(1)
        hub.agent("a").put("global/doc", _document(2))
        assert hub.agent("a").get("global/doc", at=1) == _document(1)
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_an_older_statehub_would_refuse_a_packed_file(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    with statehub.open(f"sqlite:///{path}") as hub:
        hub.agent("a").put("global/doc", _document(1))
    with sqlite3.connect(path) as connection:
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(statehub.BackendError, match="newer than this statehub"):
        statehub.open(f"sqlite:///{path}")
