"""The documentation runs: README code blocks and every docstring example."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
import types
from pathlib import Path

import pytest

import statehub
from tests.conftest import remote_url, shared_server

ROOT = Path(__file__).resolve().parent.parent


def _readme_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    return [block for block in blocks if "import statehub" in block]


def _modules() -> list[str]:
    return sorted(
        info.name
        for info in pkgutil.walk_packages(statehub.__path__, prefix="statehub.")
        if not info.name.startswith("statehub.testing") and info.name != "statehub.__main__"
    )


README_OUTPUT = [
    ["draft", "global/doc"],
    ["blocked: locked by coordinator", "~ global/doc", "{'title': 'Draft'}", "seen:"],
    ["['5 key trends'] researcher"],
    ["async seen: global/findings"],
]
"""Lines each README example must print, in order of the examples."""

README_SERVER = ('"http://127.0.0.1:8650?hub=team"', 'token="shub_..."')
"""What a README example says of a server: the test puts the session's server there."""


def _on_the_test_server(block: str) -> str:
    """``block``, talking to the session's server as a researcher, if it talks to one."""
    url, token = README_SERVER
    if url not in block:
        return block
    server = shared_server()
    return block.replace(url, repr(remote_url())).replace(
        token, f"token={server.token('researcher')!r}"
    )


def test_every_readme_example_is_checked() -> None:
    assert len(_readme_blocks()) == len(README_OUTPUT)


@pytest.mark.parametrize(
    ("block", "expected"), list(zip(_readme_blocks(), README_OUTPUT, strict=False))
)
def test_readme_example_runs(
    block: str,
    expected: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(_on_the_test_server(block), "README.md", "exec"), {})
    out = capsys.readouterr().out
    for text in expected:
        assert text in out


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples_pass(name: str) -> None:
    module = importlib.import_module(name)
    failures, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert failures == 0


def test_every_public_name_has_a_docstring() -> None:
    missing = [
        name for name in statehub.__all__ if not getattr(getattr(statehub, name), "__doc__", None)
    ]
    assert missing == []


def test_all_is_sorted_and_lists_every_public_name() -> None:
    assert list(statehub.__all__) == sorted(statehub.__all__)
    public = {
        name
        for name, value in vars(statehub).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public - {"annotations"} == set(statehub.__all__) - {"__version__", "reducers"}
