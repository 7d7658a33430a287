"""The `asr` engine's phrase detector splits speech at its sentence pauses, not at the
shorter pauses inside a sentence, and finds no phrase in noise alone.

Boundaries are checked against the fixtures' forced-alignment times within 300 ms, the
tolerance of benchmarks/bench_phrases.py (which measures precision and recall over many
voices, paces, rates and noises); espeak-ng speech is synthesised here.
"""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
from numpy.typing import NDArray

from harness.audio.pcm import float_to_int16, seed_float_to_int16
from harness.session_folder.transcript import read_transcript
from harness.session_folder.wavfile import read_pcm16
from mock_symbl.engines.asr import AsrRecognizer
from mock_symbl.engines.base import Hypothesis
from mock_symbl.engines.phrases import FRAME, ONSET_FRAMES, RATE, Edge, PhraseDetector

from helpers import FIXTURES

TOLERANCE_S = 0.3
SIX_SENTENCES = (
    "Good morning everyone, let us start the daily standup. "
    "Can you send me the quarterly report by Friday? "
    "I will update the project dashboard tomorrow morning. "
    "Please schedule a meeting with the design team next week. "
    "What is the status of the mobile release? "
    "Let us follow up with the customer on Monday."
)
THREE_SENTENCES = (
    "Good morning everyone, let us start the daily standup. "
    "Can you send me the quarterly report by Friday? "
    "Well, I will update the dashboard tomorrow."
)


def phrases(samples: NDArray[np.int16], rate: int) -> list[tuple[float, float]]:
    """(onset, end of the last speech) of each phrase the detector finds, in seconds."""
    audio = samples
    if rate != RATE:
        audio = np.asarray(soxr.resample(samples, rate, RATE, quality="HQ"), dtype=np.int16)
    detector = PhraseDetector()
    found: list[tuple[float, float]] = []
    onset = 0.0
    for index in range(audio.size // FRAME):
        edge = detector.push(audio[index * FRAME : (index + 1) * FRAME])
        if edge is Edge.OPEN:
            onset = (index + 1 - ONSET_FRAMES) / 100
        elif edge is Edge.CLOSE:
            found.append((onset, detector.last_speech_s))
    if detector.in_phrase:
        found.append((onset, detector.last_speech_s))
    return found


def speak(
    espeak: str, tmp: Path, voice: str, speed: int, text: str = THREE_SENTENCES
) -> tuple[NDArray[np.float64], int]:
    path = tmp / f"{voice}-{speed}.wav"
    subprocess.run(
        [espeak, "-v", voice, "-s", str(speed), "-w", str(path), text],
        check=True,
        capture_output=True,
    )
    samples, rate = sf.read(path, dtype="float64")
    return samples, rate


def pink_noise(size: int, rng: np.random.Generator) -> NDArray[np.float64]:
    spectrum = np.fft.rfft(rng.standard_normal(size))
    freqs = np.fft.rfftfreq(size)
    freqs[0] = freqs[1]
    noise = np.fft.irfft(spectrum / np.sqrt(freqs), size)
    return noise / np.sqrt(np.mean(noise**2))


def recorded(
    speech: NDArray[np.float64], rate: int, target: int, snr_db: float | None, tutorial: bool
) -> NDArray[np.int16]:
    """The speech as a microphone at `target` Hz would send it: with a second of the
    room before and after, its noise `snr_db` under the speech."""
    room = np.zeros(rate)
    audio = soxr.resample(np.concatenate([room, speech, room]), rate, target, quality="HQ")
    if snr_db is not None:
        level = np.sqrt(np.mean(speech[np.abs(speech) > 1e-4] ** 2))
        audio = audio + pink_noise(audio.size, np.random.default_rng(5)) * level / 10 ** (
            snr_db / 20
        )
    if tutorial:
        return np.concatenate(
            [seed_float_to_int16(audio[s : s + 4096]) for s in range(0, audio.size, 4096)]
        )
    return float_to_int16(audio)


@pytest.mark.parametrize("name", ["standup", "feedback", "hot", "support-call"])
def test_each_fixture_sentence_is_one_phrase_at_its_times(name: str) -> None:
    audio = read_pcm16(FIXTURES / name / "audio.wav")
    transcript = read_transcript(FIXTURES / name / "transcript.json")
    found = phrases(audio.samples, audio.sample_rate)
    assert len(found) == len(transcript.phrases)
    for (onset, end), sentence in zip(found, transcript.phrases, strict=True):
        assert abs(onset - sentence.start) <= TOLERANCE_S, (sentence.text, onset)
        assert abs(end - sentence.end) <= TOLERANCE_S, (sentence.text, end)


# (voice, words a minute, sample rate, SNR in dB or None, the tutorial's Int16 conversion)
SPOKEN = [
    ("en-us", 160, 16000, None, False),
    ("en-gb+m3", 140, 44100, None, True),
    ("en-us", 175, 8000, 30.0, False),
    ("en-us+f3", 140, 48000, 20.0, True),
]


@pytest.mark.parametrize("case", SPOKEN, ids=lambda c: "-".join(map(str, c)))
def test_three_spoken_sentences_are_three_phrases(
    espeak_ng: str, tmp_path: Path, case: tuple[str, int, int, float | None, bool]
) -> None:
    voice, speed, rate, snr_db, tutorial = case
    speech, source_rate = speak(espeak_ng, tmp_path, voice, speed)
    found = phrases(recorded(speech, source_rate, rate, snr_db, tutorial), rate)
    # The commas' pauses ("everyone, let", "Well, I") do not split a sentence.
    assert len(found) == 3
    assert all(end > onset for onset, end in found)


def test_asr_gives_one_message_per_spoken_sentence(espeak_ng: str, tmp_path: Path) -> None:
    speech, source_rate = speak(espeak_ng, tmp_path, "en-us", 160)
    audio = recorded(speech, source_rate, 44100, 30.0, True)
    recognizer = AsrRecognizer()
    out: list[Hypothesis] = []
    for start in range(0, audio.size, 4096):
        out += recognizer.accept(audio[start : start + 4096], 44100)
    out += recognizer.finish()
    finals = [h for h in out if h.is_final]
    assert len(finals) == 3
    # In order, each after the one before: the phrases are the three sentences.
    for before, after in itertools.pairwise(finals):
        assert before.words[-1].end <= after.words[0].start


def test_a_fast_speaker_s_pace_is_learnt_through_the_engine(espeak_ng: str, tmp_path: Path) -> None:
    # At 185 words a minute espeak-ng's sentence pauses are 230-300 ms: the first one long
    # enough ends a phrase, and the closing pause then shortens to this speaker's pace
    # (with the starting pause alone, four phrases).
    speech, source_rate = speak(espeak_ng, tmp_path, "en-us", 185, SIX_SENTENCES)
    audio = recorded(speech, source_rate, 16000, None, False)
    recognizer = AsrRecognizer()
    out: list[Hypothesis] = []
    for start in range(0, audio.size, 1600):
        out += recognizer.accept(audio[start : start + 1600], 16000)
    out += recognizer.finish()
    assert len([h for h in out if h.is_final]) == 6


@pytest.mark.parametrize("kind", ["white", "pink"])
def test_noise_alone_is_no_phrase(kind: str) -> None:
    rng = np.random.default_rng(3)
    size = 4 * RATE
    noise = rng.standard_normal(size) if kind == "white" else pink_noise(size, rng)
    audio = float_to_int16(noise * 10 ** (-40 / 20))
    assert phrases(audio, RATE) == []
    recognizer = AsrRecognizer()
    out: list[Hypothesis] = []
    for start in range(0, audio.size, 1600):
        out += recognizer.accept(audio[start : start + 1600], RATE)
    assert out + recognizer.finish() == []


def test_a_room_that_gets_louder_is_followed() -> None:
    # A fan switched on: the room is 12 dB louder from 2 s. Its onset is a phrase like any,
    # but the floor catches up with it and closes the phrase; then the room is quiet again.
    noise = pink_noise(10 * RATE, np.random.default_rng(4))
    level = np.full(noise.size, 10 ** (-40 / 20))
    level[2 * RATE :] *= 10 ** (12 / 20)
    found = phrases(float_to_int16(noise * level), RATE)
    assert len(found) == 1
    onset, end = found[0]
    assert 1.9 <= onset <= 2.1
    assert end < 6.0
