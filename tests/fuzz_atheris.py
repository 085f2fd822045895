"""Coverage-guided fuzzing of statehub's input parsers with atheris (optional, not in CI).

The properties are those of ``tests/test_fuzz.py`` (which CI runs with Hypothesis);
here libFuzzer mutates raw bytes, guided by coverage, for as long as you let it::

    .venv/bin/pip install atheris
    .venv/bin/python tests/fuzz_atheris.py keys -atheris_runs=200000
    .venv/bin/python tests/fuzz_atheris.py all -max_total_time=60

Targets: ``keys`` (validate_key / validate_prefix against the grammar), ``merge``
(statehub.merge against RFC 7396's pseudo-code), ``patch`` (make_patch then
apply_patch, and apply_patch of arbitrary operations), ``import`` (an export document
built from the bytes, imported into a memory hub: ``InvalidArgument`` or success,
and nothing written on error), ``all`` (each input goes to every target). A crash
stops the run and prints the input; libFuzzer saves it as ``crash-<hash>``.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson

import statehub
from statehub.errors import InvalidArgument, InvalidKey, PatchError
from statehub.keys import validate_key, validate_prefix
from statehub.merge import merge_patch
from statehub.patch import apply_patch, make_patch, strictly_equal
from statehub.testing.model import reference_merge_patch
from tests.test_fuzz import grammar_accepts

EXPORT_TEMPLATE: dict[str, Any] = {
    "format": "statehub-export",
    "version": 1,
    "hub": "default",
    "revision": 2,
    "oldest": 0,
    "exported_at": 0.0,
    "history": True,
    "entries": [
        {
            "key": "global/doc",
            "value": {"title": "Final"},
            "version": 2,
            "created_rev": 1,
            "modified_rev": 2,
            "updated_by": "writer",
            "updated_ts": 0.0,
            "expires_ts": None,
            "owner": None,
        }
    ],
    "changes": [
        {"revision": 1, "key": "global/doc", "op": "put", "agent": "writer", "ts": 0.0,
         "label": None, "prev_version": 0, "version": 1, "patch": None,
         "value": {"title": "Draft"}, "cause": None},
        {"revision": 2, "key": "global/doc", "op": "merge", "agent": "writer", "ts": 0.0,
         "label": None, "prev_version": 1, "version": 2,
         "patch": [{"op": "replace", "path": "/title", "value": "Final"}], "value": None,
         "cause": {"patch": {"title": "Final"}}},
    ],
}  # fmt: skip
"""A valid export with history, for the ``import`` target to splice fuzzed JSON into."""


class _Bytes:
    """Reads a JSON value out of fuzzer bytes, so every input is a JSON value.

    (atheris's own FuzzedDataProvider would do; this keeps the script importable,
    and so type-checked, where atheris is not installed.)
    """

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def byte(self) -> int:
        if self.at >= len(self.data):
            return 0
        self.at += 1
        return self.data[self.at - 1]

    def text(self) -> str:
        size = self.byte() % 8
        chunk = self.data[self.at : self.at + size]
        self.at += size
        return chunk.decode("utf-8", "replace")

    def value(self, depth: int = 0) -> Any:
        kind = self.byte() % (9 if depth < 4 else 6)
        if kind == 0:
            return None
        if kind == 1:
            return self.byte() % 2 == 1
        if kind == 2:
            return int.from_bytes(bytes(self.byte() for _ in range(8)), "little", signed=True)
        if kind == 3:
            return (self.byte() - 128) / (self.byte() + 1)
        if kind in (4, 5):
            return self.text()
        if kind in (6, 7):
            return {self.text(): self.value(depth + 1) for _ in range(self.byte() % 4)}
        return [self.value(depth + 1) for _ in range(self.byte() % 4)]


def _json(data: bytes) -> Any:
    """The bytes as a JSON value (every input makes one)."""
    return _Bytes(data).value()


def fuzz_keys(data: bytes) -> None:
    """Only ``InvalidKey``, and exactly the grammar's keys accepted."""
    text = data.decode("utf-8", "replace")
    for reserved in (False, True):
        try:
            accepted = validate_key(text, reserved=reserved) == text
        except InvalidKey:
            accepted = False
        assert accepted == grammar_accepts(text, reserved=reserved), (text, reserved)
    try:
        validate_prefix(text)
    except InvalidKey:
        return
    *inner, last = text.split("/")
    assert all(grammar_accepts("global/" + segment) for segment in inner), text
    assert last not in (".", ".."), text


def fuzz_merge(data: bytes) -> None:
    """statehub.merge agrees with RFC 7396's pseudo-code and changes neither argument."""
    document = _json(data)
    target, patch = (
        (document[0], document[1])
        if isinstance(document, list) and len(document) == 2
        else ({}, document)
    )
    before = copy.deepcopy((target, patch))
    merged = merge_patch(target, patch)
    assert strictly_equal(merged, reference_merge_patch(*before))
    assert strictly_equal([target, patch], list(before))


def fuzz_patch(data: bytes) -> None:
    """make_patch then apply_patch gives the target; garbage raises only PatchError."""
    document = _json(data)
    old, new = (
        (document[0], document[1])
        if isinstance(document, list) and len(document) == 2
        else (None, document)
    )
    assert strictly_equal(apply_patch(copy.deepcopy(old), make_patch(old, new)), new)
    with contextlib.suppress(PatchError):
        apply_patch(copy.deepcopy(old), copy.deepcopy(new))


def fuzz_import(data: bytes) -> None:
    """An export with fuzzed JSON spliced in imports, or raises InvalidArgument, writing nothing."""
    document = copy.deepcopy(EXPORT_TEMPLATE)
    fuzzed = _json(data)
    if isinstance(fuzzed, dict):
        document.update(fuzzed)
        if isinstance(fuzzed.get("entry"), dict):
            document["entries"][0].update(fuzzed["entry"])
        if isinstance(fuzzed.get("change"), dict):
            document["changes"][-1].update(fuzzed["change"])
    else:
        document["entries"] = fuzzed
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.json"
        path.write_bytes(orjson.dumps(document))
        with statehub.open("memory://") as hub:
            try:
                statehub.import_file(path, into=hub)
            except InvalidArgument:
                assert hub.revision == 0
                assert hub.history() == []


TARGETS: dict[str, Callable[[bytes], None]] = {
    "keys": fuzz_keys,
    "merge": fuzz_merge,
    "patch": fuzz_patch,
    "import": fuzz_import,
}


def main(argv: list[str]) -> None:
    """Run one target (or ``all``) under atheris; the rest of ``argv`` goes to libFuzzer."""
    if len(argv) < 2 or argv[1] not in (*TARGETS, "all"):
        sys.exit(f"usage: {argv[0]} {{{','.join(TARGETS)},all}} [libFuzzer options]")
    try:
        atheris = importlib.import_module("atheris")
    except ImportError:
        sys.exit("atheris is not installed: .venv/bin/pip install atheris")
    name = argv[1]
    chosen = list(TARGETS.values()) if name == "all" else [TARGETS[name]]

    def one_input(data: bytes) -> None:
        for target in chosen:
            target(data)

    atheris.instrument_all()  # coverage of everything imported: statehub included
    atheris.Setup([argv[0], *argv[2:]], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
