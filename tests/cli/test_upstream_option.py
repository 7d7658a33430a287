"""`symbl-harness mock --upstream`: misses answered by an endpoint, with the user's credentials."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import mock_symbl
from harness.cli import main
from mock_symbl import MockConfig, OnMiss

URL = "http://127.0.0.1:9"
CREDENTIALS = ("SYMBL_ACCESS_TOKEN", "SYMBL_APP_ID", "SYMBL_APP_SECRET")


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[MockConfig]:
    seen: list[MockConfig] = []

    def serve(config: MockConfig, *_: Any) -> str:
        seen.append(config)
        return "SIGINT"

    monkeypatch.setattr(mock_symbl, "serve_mock", serve)
    for name in CREDENTIALS:
        monkeypatch.delenv(name, raising=False)
    return seen


def test_an_upstream_without_credentials_is_a_one_line_error(
    served: list[MockConfig], tmp_path: Path
) -> None:
    args = ["mock", "--upstream", URL, "--on-miss", "record", "--record-to", str(tmp_path)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0
    assert result.output.strip().splitlines() == [
        "error: no credentials: set SYMBL_ACCESS_TOKEN, or SYMBL_APP_ID and SYMBL_APP_SECRET"
    ]
    assert served == []


def test_an_upstream_answers_misses_with_the_token_from_the_environment(
    served: list[MockConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYMBL_ACCESS_TOKEN", "a-token-from-the-environment")
    result = CliRunner().invoke(main, ["mock", "--upstream", URL, "--on-miss", "engines"])
    assert result.exit_code == 0, result.output
    (config,) = served
    answers = config.answers
    assert answers.on_miss is OnMiss.ENGINES and answers.upstream == URL
    assert answers.upstream_token is not None
    assert answers.upstream_token() == "a-token-from-the-environment"
    assert "a-token-from-the-environment" not in result.output


def test_an_upstream_needs_a_policy_that_answers_misses(served: list[MockConfig]) -> None:
    result = CliRunner().invoke(main, ["mock", "--upstream", URL])
    assert result.exit_code == 2
    assert "--on-miss engines or record" in result.output
    assert served == []
