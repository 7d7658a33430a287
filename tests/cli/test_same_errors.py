"""The same failure reads the same in every command: one line, `error: ...`, one exit code."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from harness.cli import main

from helpers import FIXTURES

HOT = str(FIXTURES / "hot")


@pytest.mark.parametrize(
    "args",
    [
        ["proxy", "--mock", "--listen", "127.0.0.1:0", "--out", "/proc/x"],
        ["bench", HOT, "--mock", "--out", "/proc/x"],
        ["replay", HOT, "--mock", "--out", "/proc/x"],
        ["browser", "page.html", "--audio", "a.wav", "--mock", "--out", "/proc/x"],
    ],
    ids=lambda args: args[0],
)
def test_an_out_folder_that_cannot_be_made_is_one_line_naming_it_and_why(
    args: list[str],
) -> None:
    result = CliRunner().invoke(main, args)
    assert result.stderr == "error: cannot make the folder /proc/x: No such file or directory\n"
    assert result.exit_code == 2


@pytest.mark.parametrize("value", ["wer=-1", "timing_ms=nan", "timing_ms=inf", "extra_insights=-2"])
def test_a_tolerance_that_bounds_nothing_is_a_usage_error_naming_it(value: str) -> None:
    result = CliRunner().invoke(main, ["compare", HOT, HOT, "--tolerance", value])
    assert result.exit_code == 2
    name = value.partition("=")[0]
    assert f"tolerance {name} needs a finite number >= 0" in result.stderr


def test_a_bad_symbl_tolerance_is_one_usage_error_not_an_error_per_test(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        def test_one(symbl_replay):
            pass

        def test_two(symbl_replay):
            pass
        """
    )
    result = pytester.runpytest_subprocess("--symbl-tolerance=wer=nan")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.errlines if "--symbl-tolerance" in line]
    assert errors == [
        "ERROR: --symbl-tolerance: tolerance wer needs a finite number >= 0, got 'nan'"
    ]
    assert "test_one" not in result.stdout.str()
