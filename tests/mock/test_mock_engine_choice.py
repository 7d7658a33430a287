"""Which engine answers a connection: engines by name, and the recording a cassette replays."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.modes import ModeError
from harness.protocol import StartRequest
from harness.session_folder.log import read_session
from mock_symbl import MockConfig
from mock_symbl.engines.asr import AsrRecognizer
from mock_symbl.engines.matching import MatchingRecognizer
from mock_symbl.engines.names import Engine, OnMiss
from mock_symbl.engines.select import ENGINES, EngineChoice, EngineUnavailableError
from mock_symbl.engines.whisper_model import INSTALL, available

from helpers import FIXTURES


def test_the_engine_names_are_the_enum_values_in_order() -> None:
    assert ENGINES == ("auto", "asr", "whisper", "transcript", "cassette")


@pytest.mark.parametrize("name", ENGINES)
def test_an_engine_named_by_a_string_is_held_as_an_engine(
    name: str, require: Callable[[str, bool, str], None]
) -> None:
    assert MockConfig(engine=name).engine is Engine(name)
    if name == Engine.WHISPER:
        require("the whisper extra", available(), INSTALL)
    assert EngineChoice(name, (), ()).engine is Engine(name)


def test_the_default_engine_is_auto() -> None:
    assert MockConfig().engine is Engine.AUTO


def test_an_unknown_engine_is_refused_with_every_valid_name() -> None:
    valid = "one of: auto, asr, whisper, transcript, cassette"
    with pytest.raises(ModeError, match=f"unknown engine 'kaldi' \\({valid}\\)"):
        MockConfig(engine="kaldi")
    with pytest.raises(ModeError, match=valid):
        EngineChoice("kaldi", (), ())


def cassette(tmp_path: Path, name: str = "hot") -> Path:
    """A session folder without transcript.json, so only its recording can answer."""
    folder = tmp_path / name
    folder.mkdir(parents=True)
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


@pytest.mark.parametrize("engine", [Engine.CASSETTE, Engine.AUTO])
def test_a_connection_no_recording_is_named_for_is_left_to_its_audio(
    tmp_path: Path, engine: Engine
) -> None:
    folder = cassette(tmp_path)
    choice = EngineChoice(engine, (folder,), ())
    assert choice.recording("anyone") is None
    assert isinstance(choice.for_request(StartRequest(), "anyone"), MatchingRecognizer)


def test_without_recordings_auto_answers_with_asr_and_cassette_refuses() -> None:
    assert isinstance(
        EngineChoice(Engine.AUTO, (), ()).for_request(StartRequest(), "x"), AsrRecognizer
    )
    with pytest.raises(EngineUnavailableError, match="no recordings loaded"):
        EngineChoice(Engine.CASSETTE, (), ()).for_request(StartRequest(), "x")


@pytest.mark.parametrize("policy", [OnMiss.ENGINES, OnMiss.RECORD])
def test_a_miss_policy_other_than_error_matches_even_with_nothing_loaded(policy: OnMiss) -> None:
    choice = EngineChoice(Engine.AUTO, (), (), policy)
    assert isinstance(choice.for_request(StartRequest(), "x"), MatchingRecognizer)


def test_two_recordings_of_one_name_in_different_folders_are_both_known(tmp_path: Path) -> None:
    first, second = cassette(tmp_path / "a"), cassette(tmp_path / "b")
    choice = EngineChoice(Engine.AUTO, (first, second), ())
    assert {r.folder for r in choice.library.named("hot")} == {first.resolve(), second.resolve()}
    assert choice.recording("hot") is None


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
