"""Word error rates and cost of the speech engines (`asr`, `whisper`), in one table.

    python benchmarks/bench_recognition.py [--engines asr,whisper] [--vocabulary] [-v]

Two sets: the fixtures (fixtures/sessions), and UTTERANCES, sentences no fixture holds,
synthesised at run time (deterministic, never committed) by espeak-ng with several
voices and speeds, then resampled to 8, 16, 44.1 or 48 kHz, each with silence around it.
Every piece of audio is fed to a fresh recogniser in 1024-sample frames in one thread,
as a stream would be; its finals are joined and scored against what was said: word error
rate as written ("WER raw": case and punctuation count) and normalised ("WER norm":
harness.text_norm, as speech benchmarks score), pooled over a set's words. The real-time
factor is the process's CPU seconds per second of audio (below 1: faster than real time;
the whisper engine's includes the pocketsphinx partials), and 1 / RTF is how many
real-time sessions one core could carry. Loading the Whisper model is not counted.

`-v` prints what each synthesised utterance was heard as. `--vocabulary` also decodes
the fixtures with each one's words of art as customVocabulary given to Whisper as
hotwords, to measure whether that helps.
Targets (goals, not test assertions): whisper's normalised WER <= 0.10 over the synthesised
set, with >= 2 real-time sessions per core.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, cast

import numpy as np
import soundfile as sf
from numpy.typing import NDArray

from harness.audio.pcm import float_to_int16, resample
from harness.session_folder.transcript import read_transcript
from harness.session_folder.wavfile import read_pcm16
from harness.text_norm import corpus_word_error_rates
from mock_symbl.engines.asr import AsrRecognizer
from mock_symbl.engines.base import Hypothesis, Recognizer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sessions"
FRAME = 1024
LEAD_S, TAIL_S = 0.5, 1.0
VOICES = ("en-us", "en-us+f3", "en-gb", "en-us+m3", "en-gb-x-rp", "en-us+f2")
SPEEDS = (150, 170, 190, 140, 160)
RATES = (8000, 16000, 44100, 48000)
# Meeting and support-call language, none of it in the fixtures.
UTTERANCES = (
    "The budget review has moved to Wednesday afternoon.",
    "Could you share your screen so we can see the numbers?",
    "We shipped the new onboarding flow last night.",
    "The customer said the invoice was charged twice.",
    "I think we should postpone the launch by two weeks.",
    "Sarah will write the release notes before Friday.",
    "Our response time improved by twenty percent this quarter.",
    "Please restart the router and wait for the green light.",
    "The database migration failed on the staging server.",
    "Let me check with the finance team and get back to you.",
    "How many users signed up during the trial period?",
    "The marketing campaign starts on the first of March.",
    "Your order was delivered to the wrong address yesterday.",
    "We need a volunteer to lead the security audit.",
    "The new laptop arrived but the battery will not charge.",
    "Thanks everyone, that was a very productive meeting.",
    "Can we move the design review to next Tuesday?",
    "The hiring plan includes three engineers and one designer.",
    "I am afraid the refund will take five business days.",
    "Remember to update your password before the end of the month.",
    "The sales figures look much better than last year.",
    "Who is responsible for the quarterly board presentation?",
    "The mobile app crashes whenever I open the settings page.",
    "We agreed to meet again after the product demo.",
)
# Each fixture's words of art, for --vocabulary.
VOCABULARY = {
    "standup": ("daily standup", "project dashboard", "design team", "quarterly report"),
    "feedback": ("dashboard", "support team", "release"),
    "hot": ("microphone",),
    "support-call": ("customer support", "technician", "router", "account number", "outages"),
}


@dataclass(frozen=True)
class Clip:
    """A piece of audio and what was said in it."""

    name: str
    samples: NDArray[np.int16]
    rate: int
    said: str

    @property
    def duration(self) -> float:
        return self.samples.size / self.rate


@dataclass
class Tally:
    """One engine's results over a set: CPU, audio, and (said, heard) pairs."""

    cpu: float = 0.0
    audio: float = 0.0
    rates: frozenset[int] = frozenset()
    pairs: tuple[tuple[str, str], ...] = ()

    def add(self, clip: Clip, cpu: float, heard: str) -> None:
        self.cpu += cpu
        self.audio += clip.duration
        self.rates = self.rates | {clip.rate}
        self.pairs = (*self.pairs, (clip.said, heard))


def fixtures() -> list[Clip]:
    clips = []
    for folder in sorted(p for p in FIXTURES.iterdir() if p.is_dir()):
        audio = read_pcm16(folder / "audio.wav")
        transcript = read_transcript(folder / "transcript.json")
        clips.append(Clip(folder.name, audio.samples, audio.sample_rate, transcript.text))
    return clips


def synthesised(espeak: str) -> list[Clip]:
    """UTTERANCES spoken by espeak-ng, each with its own voice, speed and sample rate."""
    clips = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "utterance.wav"
        for i, text in enumerate(UTTERANCES):
            voice, speed = VOICES[i % len(VOICES)], SPEEDS[i % len(SPEEDS)]
            rate = RATES[i % len(RATES)]
            command = [espeak, "-v", voice, "-s", str(speed), "-w", str(path), text]
            subprocess.run(command, check=True, capture_output=True)
            spoken, spoken_rate = sf.read(path, dtype="float32")
            speech = np.asarray(resample(spoken, spoken_rate, rate), dtype=np.float32)
            peak = float(np.max(np.abs(speech))) or 1.0
            padded = np.concatenate(
                [np.zeros(int(LEAD_S * rate)), speech / peak * 0.7, np.zeros(int(TAIL_S * rate))]
            )
            name = f"u{i:02d} {voice} {speed}wpm"
            clips.append(Clip(name, float_to_int16(padded), rate, text))
    return clips


def recognise(engine: Recognizer, clip: Clip) -> tuple[float, str]:
    """CPU seconds to recognise the clip as a stream, and its finals' text."""
    finals: list[str] = []
    started = time.process_time()
    for start in range(0, clip.samples.size, FRAME):
        for item in engine.accept(clip.samples[start : start + FRAME], clip.rate):
            if isinstance(item, Hypothesis) and item.is_final:
                finals.append(item.text)
    finals += [i.text for i in engine.finish() if isinstance(i, Hypothesis) and i.is_final]
    return time.process_time() - started, " ".join(finals)


HEADER = ("engine", "set", "rates kHz", "audio s", "RTF", "sessions/core", "WER raw", "WER norm")
WIDTHS = (8, 34, 14, 8, 6, 13, 8, 9)


def row(cells: Sequence[object]) -> str:
    return " ".join(
        f"{c:<{w}}" if i < 3 else f"{c:>{w}}"
        for i, (c, w) in enumerate(zip(cells, WIDTHS, strict=True))
    )


def report(engine: str, name: str, tally: Tally) -> None:
    errors = corpus_word_error_rates(tally.pairs)
    rtf = tally.cpu / tally.audio
    rates = ",".join(f"{r / 1000:g}" for r in sorted(tally.rates))
    cells = (engine, name, rates, f"{tally.audio:.1f}", f"{rtf:.3f}", f"{1 / rtf:.1f}")
    print(row((*cells, f"{errors.raw:.3f}", f"{errors.normalised:.3f}")), flush=True)


def _whisper(recognizer: Any, model: Any, vocabulary: Sequence[str]) -> Recognizer:
    return cast(Recognizer, recognizer(model, vocabulary=vocabulary))


def engines(names: Sequence[str]) -> dict[str, Callable[[Sequence[str]], Recognizer]]:
    made: dict[str, Callable[[Sequence[str]], Recognizer]] = {}
    for name in names:
        if name == "asr":
            made[name] = lambda _vocabulary: AsrRecognizer()
        elif name == "whisper":
            from mock_symbl.engines.whisper import WhisperRecognizer, shared_model  # noqa: PLC0415

            made[name] = partial(_whisper, WhisperRecognizer, shared_model())
        else:
            sys.exit(f"unknown engine {name!r} (asr, whisper)")
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default="asr,whisper")
    parser.add_argument("--vocabulary", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        sys.exit("espeak-ng is needed to synthesise the utterances: apt-get install espeak-ng")
    made = engines(args.engines.split(","))
    fixture_clips, synth_clips = fixtures(), synthesised(espeak)
    print(row(HEADER))
    for engine, make in made.items():
        whole = Tally()
        for clip in fixture_clips:
            single = Tally()
            single.add(clip, *recognise(make(()), clip))
            whole.add(clip, single.cpu, single.pairs[0][1])
            report(engine, f"fixture {clip.name}", single)
        report(engine, f"fixtures, all {len(fixture_clips)}", whole)
        synth = Tally()
        cpus: list[float] = []
        for clip in synth_clips:
            cpu, heard = recognise(make(()), clip)
            cpus.append(cpu)
            synth.add(clip, cpu, heard)
            if args.verbose:
                print(f"  {clip.name} {clip.rate} Hz: {synth.pairs[-1][1]!r}", flush=True)
        for rate in RATES:
            mine = [i for i, clip in enumerate(synth_clips) if clip.rate == rate]
            part = Tally(
                cpu=sum(cpus[i] for i in mine),
                audio=sum(synth_clips[i].duration for i in mine),
                rates=frozenset({rate}),
                pairs=tuple(synth.pairs[i] for i in mine),
            )
            report(engine, f"  of which at {rate / 1000:g} kHz ({len(mine)})", part)
        report(engine, f"synthesised, {len(synth_clips)} utterances", synth)
        if args.vocabulary and engine == "whisper":
            hinted = Tally()
            for clip in fixture_clips:
                hinted.add(clip, *recognise(make(VOCABULARY.get(clip.name, ())), clip))
            report(engine, "fixtures, vocabulary as hotwords", hinted)


if __name__ == "__main__":
    main()
