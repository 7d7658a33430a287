"""`symbl-harness mock`: the limits and the control opt-out become the server's MockConfig."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import mock_symbl
from harness.cli import main
from mock_symbl import Backlog, Faults, MockConfig


def config_of(monkeypatch: pytest.MonkeyPatch, *args: str) -> MockConfig:
    seen: list[MockConfig] = []

    def serve(config: MockConfig, *_: Any) -> str:
        seen.append(config)
        return "SIGINT"

    monkeypatch.setattr(mock_symbl, "serve_mock", serve)
    result = CliRunner().invoke(main, ["mock", *args])
    assert result.exit_code == 0, result.output
    (config,) = seen
    return config


def test_the_limits_default_to_the_documented_values(monkeypatch: pytest.MonkeyPatch) -> None:
    config = config_of(monkeypatch)
    assert (
        config.max_body_bytes,
        config.token_failures_per_minute,
        config.header_timeout_s,
        config.max_connection_id_chars,
        config.open_control,
    ) == (1 << 20, 30, 10.0, 256, False)
    assert config == MockConfig()


def test_each_limit_has_its_option(monkeypatch: pytest.MonkeyPatch) -> None:
    config = config_of(
        monkeypatch,
        "--max-body-bytes=4096",
        "--token-failures=0",
        "--header-timeout=2.5",
        "--max-id-length=64",
        "--open-control",
        "--fault",
        "max_data_rate=2",
    )
    assert config.max_body_bytes == 4096
    assert config.token_failures_per_minute is None
    assert config.header_timeout_s == 2.5
    assert config.max_connection_id_chars == 64
    assert config.open_control
    assert config.faults == Faults(max_data_rate=2.0)


def test_the_backlog_has_its_options(monkeypatch: pytest.MonkeyPatch) -> None:
    assert config_of(monkeypatch, "--max-lag=5", "--stop-within=2").backlog == Backlog(
        max_lag_s=5.0, stop_within_s=2.0
    )
    assert config_of(monkeypatch, "--patient").backlog == Backlog.patient()


def test_an_absurd_fault_is_a_usage_error_naming_the_field() -> None:
    result = CliRunner().invoke(main, ["mock", "--fault", "stall_s=nan"])
    assert result.exit_code == 2
    assert "stall_s must be between 0 and 3600" in result.output


def test_recordings_and_their_miss_policy_have_their_options(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    config = config_of(
        monkeypatch,
        "--recordings",
        str(tmp_path),
        "--on-miss",
        "record",
        "--record-to",
        str(tmp_path / "new"),
        "--record-expires-in",
        "30",
    )
    assert config.recordings == (tmp_path, tmp_path / "new")
    assert config.answers.on_miss == "record"
    assert config.answers.record_to == tmp_path / "new"
    assert config.answers.expires_days == 30


def test_recording_misses_without_a_folder_is_a_usage_error_naming_both_options() -> None:
    result = CliRunner().invoke(main, ["mock", "--on-miss", "record"])
    assert result.exit_code == 2
    assert "--on-miss record needs --record-to DIR" in result.output


@pytest.mark.parametrize("problem", ["no such folder", "not a database"])
def test_a_database_the_mock_cannot_use_is_one_line_naming_it(tmp_path: Path, problem: str) -> None:
    db = tmp_path / "nowhere" / "mock.db"
    if problem == "not a database":
        db = tmp_path / "notes.txt"
        db.write_text("these are notes, not a database\n" * 100)
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "mock", "--port", "0", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"error: db: cannot use {db} as the database: "), done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stdout == ""
