"""Which engine answers a connection: engines by name, and the recording a cassette replays."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.modes import ModeError
from harness.session_folder.log import read_session
from mock_symbl import MockConfig
from mock_symbl.engines.names import Engine
from mock_symbl.engines.select import ENGINES, EngineChoice

from helpers import FIXTURES


def test_the_engine_names_are_the_enum_values_in_order() -> None:
    assert ENGINES == ("auto", "asr", "transcript", "cassette")


@pytest.mark.parametrize("name", ENGINES)
def test_an_engine_named_by_a_string_is_held_as_an_engine(name: str) -> None:
    assert MockConfig(engine=name).engine is Engine(name)
    assert EngineChoice(name, (), ()).engine is Engine(name)


def test_the_default_engine_is_auto() -> None:
    assert MockConfig().engine is Engine.AUTO


def test_an_unknown_engine_is_refused_with_every_valid_name() -> None:
    valid = "one of: auto, asr, transcript, cassette"
    with pytest.raises(ModeError, match=f"unknown engine 'whisper' \\({valid}\\)"):
        MockConfig(engine="whisper")
    with pytest.raises(ModeError, match=valid):
        EngineChoice("whisper", (), ())


def cassette(tmp_path: Path, name: str = "hot") -> Path:
    """A session folder without transcript.json, so only its recording can answer."""
    folder = tmp_path / name
    folder.mkdir()
    for part in ("audio.wav", "events.jsonl"):
        shutil.copy(FIXTURES / "hot" / part, folder / part)
    return folder


@pytest.mark.parametrize("connection_id", ["hot", "hot--worker-3"])
def test_a_connection_answered_by_a_cassette_gets_its_recording(
    tmp_path: Path, connection_id: str
) -> None:
    folder = cassette(tmp_path)
    recording = EngineChoice(Engine.AUTO, (folder,), ()).recording(connection_id)
    assert recording is not None
    assert recording.records == read_session(folder).records


def test_the_only_cassette_answers_any_connection_under_the_cassette_engine(
    tmp_path: Path,
) -> None:
    folder = cassette(tmp_path)
    assert EngineChoice(Engine.CASSETTE, (folder,), ()).recording("anyone") is not None
    assert EngineChoice(Engine.AUTO, (folder,), ()).recording("anyone") is None


@pytest.mark.parametrize("engine", [Engine.ASR, Engine.TRANSCRIPT])
def test_connections_not_answered_by_a_cassette_have_no_recording(
    tmp_path: Path, engine: Engine
) -> None:
    folder = cassette(tmp_path)
    assert EngineChoice(engine, (folder,), (FIXTURES / "hot",)).recording("hot") is None


def test_a_transcript_wins_over_a_cassette_of_the_same_name(tmp_path: Path) -> None:
    folder = cassette(tmp_path)
    choice = EngineChoice(Engine.AUTO, (folder,), (FIXTURES / "hot",))
    assert choice.recording("hot") is None


def test_an_unreadable_cassette_has_no_recording(tmp_path: Path) -> None:
    folder = cassette(tmp_path)
    (folder / "events.jsonl").unlink()
    assert EngineChoice(Engine.CASSETTE, (folder,), ()).recording("hot") is None
