"""The command line: keys, global options, output forms, exit codes, help and docs.

The other command groups are in ``test_cli_history.py`` and ``test_cli_admin.py``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import orjson
import pytest
from click.testing import CliRunner, Result

import statehub
from statehub.cli import main
from tests.conftest import postgres_url

DOCS = Path(__file__).parent.parent / "docs" / "cli.md"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
TERMINAL: dict[str, str | None] = {"FORCE_COLOR": "1", "COLUMNS": "120"}
"""The environment that makes rich treat the CliRunner's stdout as a terminal."""
PIPED: dict[str, str | None] = {"FORCE_COLOR": None, "TTY_COMPATIBLE": None, "COLUMNS": "120"}


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hub.db'}"


def run(url: str, *args: str, code: int = 0, env: dict[str, str | None] | None = None) -> Result:
    """Invoke the CLI on ``url`` and check its exit code."""
    runner = CliRunner()
    result = runner.invoke(main, [*args, "--url", url], env={**PIPED, **(env or {})})
    assert result.exit_code == code, (result.output, result.exception)
    return result


def data(result: Result) -> Any:
    return orjson.loads(result.stdout)


def commands(group: click.Group = main, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command and group under ``group``, as its words after ``statehub``."""
    for name, command in sorted(group.commands.items()):
        yield (*path, name)
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))


# -- help and documentation ----------------------------------------------------------


def test_every_command_has_help_with_an_example() -> None:
    runner = CliRunner()
    for words in [(), *commands()]:
        result = runner.invoke(main, [*words, "--help"])
        assert result.exit_code == 0, words
        assert "Example" in result.output, words
        assert "--url" in result.output, words
        assert "--json" in result.output, words


def test_every_command_is_documented_and_every_documented_command_exists() -> None:
    documented = set(re.findall(r"^### `statehub ([a-z ]+)`$", DOCS.read_text(), re.MULTILINE))
    existing = {" ".join(words) for words in commands()}
    assert documented == existing


def test_the_documented_exit_codes_are_the_ones_used() -> None:
    from statehub.cli import options

    table = DOCS.read_text().split("## Exit codes")[1].split("##")[0]
    codes = {int(code) for code in re.findall(r"^\| (\d) \|", table, re.MULTILINE)}
    assert codes == {options.OK, options.ERROR, options.USAGE, options.CONFLICT} == {0, 1, 2, 3}


# -- get, put, merge, delete ---------------------------------------------------------


def test_put_then_get_round_trips_a_json_value(url: str) -> None:
    value = {"title": "Draft", "tags": ["a", "b"], "n": 1.5, "ok": True, "none": None}
    put = run(url, "put", "global/doc", orjson.dumps(value).decode(), "--agent", "writer")
    assert put.stdout == "put global/doc: version 1 at revision 1\n"

    assert orjson.loads(run(url, "get", "global/doc").stdout) == value
    entry = data(run(url, "get", "global/doc", "--json"))
    assert entry == {
        "key": "global/doc",
        "value": value,
        "version": 1,
        "created_rev": 1,
        "modified_rev": 1,
        "updated_by": "writer",
        "updated_at": entry["updated_at"],
        "updated_ts": entry["updated_ts"],
        "expires_at": None,
        "expires_ts": None,
        "owner": None,
    }
    with statehub.open(url) as hub:
        assert entry["updated_ts"] == hub.agent("t").entry("global/doc").updated_ts  # type: ignore[union-attr]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", entry["updated_at"])


def test_put_reports_whose_value_it_replaced(url: str) -> None:
    run(url, "put", "global/doc", '"v1"', "--agent", "alice")
    second = run(url, "put", "global/doc", '"v2"', "--agent", "bob")
    assert "(replaced version 1 by alice)" in second.stdout
    document = data(run(url, "put", "global/doc", '"v3"', "--json"))
    assert document["replaced"]["value"] == "v2"
    assert document["updated_by"] == "cli"


def test_get_of_a_missing_key_exits_1_with_one_line(url: str) -> None:
    result = run(url, "get", "global/missing", code=1)
    assert result.stdout == ""
    assert result.stderr == "error: no key 'global/missing'\n"


def test_get_raw_prints_a_string_without_quotes(url: str) -> None:
    run(url, "put", "global/title", '"Hello"')
    assert run(url, "get", "global/title").stdout == '"Hello"\n'
    assert run(url, "get", "global/title", "--raw").stdout == "Hello\n"


def test_get_at_reads_the_past_by_revision_and_checkpoint(url: str) -> None:
    run(url, "put", "global/doc", '"v1"')
    run(url, "checkpoint", "create", "first")
    run(url, "put", "global/doc", '"v2"')
    assert run(url, "get", "global/doc", "--at", "1", "--raw").stdout == "v1\n"
    assert data(run(url, "get", "global/doc", "--at", "first", "--json")) == {
        "key": "global/doc",
        "value": "v1",
        "revision": 2,
    }
    assert run(url, "get", "global/doc", "--at", "0", code=1).stderr == (
        "error: no key 'global/doc' at revision 0\n"
    )


def test_put_with_a_stale_expected_version_exits_3_and_writes_nothing(url: str) -> None:
    run(url, "put", "global/doc", '"v1"')
    run(url, "put", "global/doc", '"v2"')
    stale = run(url, "put", "global/doc", '"mine"', "--expect-version", "1", code=3)
    assert stale.stderr == (
        "error: conflict on 'global/doc': expected version 1, found version 2\n"
    )
    assert run(url, "put", "global/new", "1", "--expect-version", "0").exit_code == 0
    run(url, "put", "global/new", "2", "--expect-version", "0", code=3)
    with statehub.open(url) as hub:
        assert hub.agent("t").get("global/doc") == "v2"
        assert hub.agent("t").get("global/new") == 1
        assert hub.revision == 3


def test_a_value_that_is_not_json_is_a_usage_error_and_writes_nothing(url: str) -> None:
    result = run(url, "put", "global/doc", "{not json", code=2)
    assert result.stderr.count("\n") == 1
    assert "not JSON" in result.stderr
    assert "--string" in result.stderr
    run(url, "put", "global/doc", code=2)  # no value at all
    with statehub.open(url) as hub:
        assert hub.revision == 0


def test_string_values_and_stdin(url: str) -> None:
    run(url, "put", "global/status", "in progress", "--string")
    assert run(url, "get", "global/status", "--raw").stdout == "in progress\n"
    runner = CliRunner()
    piped = runner.invoke(main, ["put", "global/report", "-", "--url", url], input='{"a": [1]}\n')
    assert piped.exit_code == 0, piped.output
    text = runner.invoke(main, ["put", "global/note", "-", "--string", "--url", url], input="hi\n")
    assert text.exit_code == 0, text.output
    with statehub.open(url) as hub:
        reader = hub.agent("t")
        assert reader.get("global/report") == {"a": [1]}
        assert reader.get("global/note") == "hi"


def test_merge_applies_a_merge_patch_and_keeps_other_fields(url: str) -> None:
    run(url, "merge", "global/report", '{"research": "done", "notes": "x"}', "--agent", "a")
    merged = run(url, "merge", "global/report", '{"draft": "Written", "notes": null}')
    assert merged.stdout.startswith("merged global/report: version 2 at revision 2")
    value = orjson.loads(run(url, "get", "global/report").stdout)
    assert value == {"research": "done", "draft": "Written"}


def test_delete_removes_a_key_and_exits_1_when_there_is_none(url: str) -> None:
    run(url, "put", "global/draft", "1")
    assert data(run(url, "delete", "global/draft", "--json"))["deleted"]["value"] == 1
    missing = run(url, "delete", "global/draft", code=1)
    assert missing.stderr == "error: no key 'global/draft'\n"


def test_an_invalid_key_exits_1_naming_it(url: str) -> None:
    result = run(url, "put", "nowhere/doc", "1", code=1)
    assert result.stderr.startswith("error: invalid key 'nowhere/doc'")
    assert result.stderr.count("\n") == 1


# -- scan: the operator's view -------------------------------------------------------


def test_scan_shows_every_agents_keys_but_not_statehubs_own_rows(url: str) -> None:
    run(url, "put", "global/doc", '{"t": 1}')
    run(url, "put", "agent/alice/notes", '"secret"', "--agent", "alice")
    run(url, "checkpoint", "create", "cp")
    plain = run(url, "scan").stdout.splitlines()
    assert plain[0] == "key\tvalue\tversion\trev\tby\tupdated"
    assert [line.split("\t")[:5] for line in plain[1:]] == [
        ["agent/alice/notes", '"secret"', "1", "2", "alice"],
        ["global/doc", '{"t":1}', "1", "1", "cli"],
    ]
    assert [e["key"] for e in data(run(url, "scan", "global/", "--json"))] == ["global/doc"]
    assert run(url, "get", "agent/alice/notes", "--raw").stdout == "secret\n"


def test_scan_at_a_point_lists_the_keys_then(url: str) -> None:
    run(url, "put", "global/a", "1")
    run(url, "checkpoint", "create", "one")
    run(url, "put", "global/b", "2")
    assert data(run(url, "scan", "--at", "one", "--json")) == [{"key": "global/a", "value": 1}]


# -- global options -------------------------------------------------------------------


def test_global_options_go_before_or_after_the_command_and_after_wins(
    url: str, tmp_path: Path
) -> None:
    other = f"sqlite:///{tmp_path / 'other.db'}"
    runner = CliRunner()
    before = runner.invoke(main, ["--url", other, "--agent", "early", "put", "global/x", "1"])
    assert before.exit_code == 0, before.output
    both = runner.invoke(main, ["--url", other, "put", "global/x", "2", "--url", url])
    assert both.exit_code == 0, both.output
    with statehub.open(other) as hub:
        assert [(c.agent, c.version) for c in hub.history()] == [("early", 1)]
    with statehub.open(url) as hub:
        assert hub.agent("t").get("global/x") == 2
    listed = runner.invoke(main, ["--json", "history", "--url", url])
    assert orjson.loads(listed.stdout)[0]["key"] == "global/x"


def test_url_and_agent_come_from_the_environment(url: str) -> None:
    runner = CliRunner()
    env = {"STATEHUB_URL": url, "STATEHUB_AGENT": "from-env"}
    assert runner.invoke(main, ["put", "global/x", "1"], env=env).exit_code == 0
    assert runner.invoke(main, ["put", "global/y", "1", "--agent", "flag"], env=env).exit_code == 0
    with statehub.open(url) as hub:
        assert [c.agent for c in hub.history()] == ["from-env", "flag"]


def test_the_default_agent_is_cli_and_the_default_hub_is_statehub_db(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"STATEHUB_URL": None, "STATEHUB_AGENT": None}
    assert CliRunner().invoke(main, ["put", "global/x", "1"], env=env).exit_code == 0
    with statehub.open(f"sqlite:///{tmp_path / 'statehub.db'}") as hub:
        assert hub.history()[0].agent == "cli"


# -- output forms and errors ----------------------------------------------------------


def test_a_terminal_gets_tables_and_colours_and_a_pipe_plain_text(url: str) -> None:
    run(url, "put", "global/doc", '{"title": "Draft"}', "--agent", "writer")
    terminal = run(url, "history", env=TERMINAL).stdout
    assert ANSI.search(terminal)
    assert "┃" in terminal
    assert "writer" in ANSI.sub("", terminal)
    piped = run(url, "history").stdout
    assert not ANSI.search(piped)
    assert "┃" not in piped
    assert piped.splitlines()[1].split("\t")[2:5] == ["writer", "put", "global/doc"]
    value = run(url, "get", "global/doc", env=TERMINAL).stdout
    assert ANSI.search(value)
    assert '"title"' in ANSI.sub("", value)


def test_json_never_has_colours_even_on_a_terminal(url: str) -> None:
    run(url, "put", "global/doc", "1")
    result = run(url, "history", "--json", env=TERMINAL)
    assert not ANSI.search(result.stdout)
    assert data(result)[0]["op"] == "put"


def test_debug_prints_the_traceback_and_keeps_the_exit_code(url: str) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["put", "global/doc", "1", "--expect-version", "3", "--url", url])
    assert result.exit_code == 3
    debug = runner.invoke(
        main, ["put", "global/doc", "1", "--expect-version", "3", "--url", url, "--debug"]
    )
    assert debug.exit_code == 3  # the same code, after the traceback
    assert debug.stderr.startswith("Traceback (most recent call last):")
    assert "statehub.errors.ConflictError: conflict on 'global/doc'" in debug.stderr
    assert debug.stderr.endswith(
        "error: conflict on 'global/doc': expected version 3, found version 0\n"
    )


def test_a_usage_error_is_one_line_with_exit_code_2() -> None:
    result = CliRunner().invoke(main, ["no-such-command"])
    assert result.exit_code == 2
    assert result.stderr == "error: No such command 'no-such-command'. (see: main --help)\n"
    option = CliRunner().invoke(main, ["get", "global/x", "--no-such-option"])
    assert option.exit_code == 2
    assert option.stderr == "error: No such option '--no-such-option'. (see: main get --help)\n"


# -- real processes ---------------------------------------------------------------------


def statehub_process(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "statehub", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_python_m_statehub_runs_with_the_documented_exit_codes(url: str, tmp_path: Path) -> None:
    done = statehub_process("put", "global/doc", '{"v": 1}', "--url", url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    got = statehub_process("get", "global/doc", "--json", "--url", url, cwd=tmp_path)
    assert orjson.loads(got.stdout)["value"] == {"v": 1}
    missing = statehub_process("get", "global/nothing", "--url", url, cwd=tmp_path)
    assert (missing.returncode, missing.stderr) == (1, "error: no key 'global/nothing'\n")
    conflict = statehub_process(
        "put", "global/doc", "2", "--expect-version", "5", "--url", url, cwd=tmp_path
    )
    assert conflict.returncode == 3
    assert "Traceback" not in conflict.stderr
    usage = statehub_process("put", "global/doc", "{", "--url", url, cwd=tmp_path)
    assert usage.returncode == 2
    assert usage.stderr.startswith("error: ")
    debug = statehub_process("get", "nowhere/x", "--debug", "--url", url, cwd=tmp_path)
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr


def test_the_installed_statehub_script_pipes_plain_text(url: str, tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "statehub"
    subprocess.run([script, "put", "global/a", "1", "--url", url], check=True, timeout=60)
    listed = subprocess.run(
        [script, "scan", "--url", url], capture_output=True, text=True, timeout=60, check=True
    )
    assert listed.stdout.splitlines()[1].startswith("global/a\t1\t1\t1\tcli\t")


def test_the_cli_works_on_postgresql_too() -> None:
    pg = postgres_url()
    run(pg, "put", "global/doc", '{"title": "Draft"}', "--agent", "writer")
    run(pg, "put", "global/doc", '{"title": "Final"}', "--expect-version", "1")
    run(pg, "put", "global/doc", '"x"', "--expect-version", "1", code=3)
    assert [c["agent"] for c in data(run(pg, "history", "--json"))] == ["writer", "cli"]
    diff = data(run(pg, "diff", "1", "head", "--json"))
    assert diff["changed"]["global/doc"]["new"] == {"title": "Final"}


def test_a_reader_that_goes_away_ends_the_command_quietly(url: str, tmp_path: Path) -> None:
    with statehub.open(url) as hub, hub.agent("filler").transaction() as tx:
        for n in range(3000):  # 3000 history lines: more than a pipe's buffer
            tx.put(f"global/key-{n}", n)
    reader = subprocess.Popen(
        [sys.executable, "-m", "statehub", "history", "--url", url],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert reader.stdout is not None
    assert reader.stdout.readline().startswith(b"rev\t")
    reader.stdout.close()  # as `statehub history | head -1` does
    _, errors = reader.communicate(timeout=60)
    assert errors == b""
    assert reader.returncode == 1
