"""Hub URLs: schemes, paths, options, and what reaches libpq."""

from __future__ import annotations

import pytest

import statehub
from statehub.url import DEFAULT_HUB, mask_password, parse_url


@pytest.mark.parametrize(
    ("url", "scheme", "path"),
    [
        ("memory://", "memory", ""),
        ("sqlite:///team.db", "sqlite", "team.db"),
        ("sqlite:////var/lib/team.db", "sqlite", "/var/lib/team.db"),
        ("team.db", "sqlite", "team.db"),
        ("./state/team.db", "sqlite", "./state/team.db"),
    ],
)
def test_scheme_and_path(url: str, scheme: str, path: str) -> None:
    parsed = parse_url(url)
    assert (parsed.scheme, parsed.path, parsed.hub) == (scheme, path, DEFAULT_HUB)


def test_hub_and_options_are_taken_from_the_query() -> None:
    parsed = parse_url("sqlite:///team.db?hub=run-42&sync=full&max_value_bytes=10")
    assert parsed.hub == "run-42"
    assert parsed.options == {"sync": "full", "max_value_bytes": "10"}


def test_postgres_options_reach_libpq_without_statehubs_own() -> None:
    parsed = parse_url(
        "postgres://u:pw@db:5432/app?hub=h&busy_timeout=5&options=-c statement_timeout=5000"
    )
    assert parsed.scheme == "postgresql"
    assert parsed.hub == "h"
    assert parsed.path == ("postgresql://u:pw@db:5432/app?options=-c%20statement_timeout%3D5000")


def test_password_is_masked_in_the_text_shown() -> None:
    parsed = parse_url("postgresql://u:secret@db/app?hub=h")
    assert "secret" not in parsed.text
    assert parsed.text == "postgresql://u:***@db/app?hub=h"
    assert mask_password("sqlite:///x.db") == "sqlite:///x.db"


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("redis://localhost", "unknown hub URL scheme"),
        ("sqlite:///x.db?colour=red", "unknown option"),
        ("sqlite:///x.db?hub=bad name", "bad hub name"),
        ("sqlite://host/x.db", "three slashes"),
        ("sqlite:///:memory:", "memory://"),
        ("sqlite://", "names no file"),
    ],
)
def test_bad_urls_raise_invalid_argument_naming_the_problem(url: str, named: str) -> None:
    with pytest.raises(statehub.InvalidArgument, match=named):
        parse_url(url)
