"""Phrase boundaries of the `asr` engine's phrase detector against true sentence ends.

    python benchmarks/bench_phrases.py [--detail] [--count N]

The detector (mock_symbl.engines.phrases) is run alone, frame by frame on 16 kHz audio
resampled as the engine does, over three sets:

- the fixtures (fixtures/sessions/*/audio.wav), whose transcript.json gives each
  sentence's end from forced alignment;
- "espeak": espeak-ng speech synthesised here, each sentence spoken alone, its digital
  silence at either end trimmed (so its end is exact), joined by pauses of 250-700 ms,
  the pauses between sentences of ordinary speech;
- "espeak one-utterance": four sentences in one espeak-ng utterance, with espeak-ng's
  own pauses between them (shorter at a faster pace).

Voices, speeds (140-200 words a minute) and sample rates (8, 16, 44.1, 48 kHz) vary; so
do gain (-25 dB quiet to +12 dB clipping), background noise (white, pink and brown, at
10, 20 and 30 dB SNR against the speech) and the tutorial page's Float32 -> Int16
conversion (`seed_float_to_int16`, defects included). --detail prints a row per rate,
noise and gain.

A detected phrase end is the end of its last speech frame (where its closing pause
began). It matches a true sentence end within TOLERANCE_S, one to one: precision is the
share of detected ends that match, recall the share of sentence ends found. 300 ms is
shorter than the shortest pause measured here, so an end cannot match the neighbouring
sentence, and wider than an energy detector's honest error at a sentence end (a final
fricative or the synthesiser's decay fading into noise; the alignment's own +-20 ms).
"Latency" is how long after the true sentence end the phrase closes: what a user waits
for the final. "per sentence" is detected phrases over sentences (1.0 is ideal).
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from numpy.typing import NDArray

from harness.audio.pcm import float_to_int16, seed_float_to_int16
from harness.session_folder.transcript import read_transcript
from harness.session_folder.wavfile import read_pcm16
from mock_symbl.engines.phrases import FRAME, RATE, Edge, PhraseDetector

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sessions"
TOLERANCE_S = 0.3
SENTENCES = (
    "Good morning everyone, let us start the daily standup.",
    "Can you send me the quarterly report by Friday?",
    "I think, to be honest, the numbers look fine.",
    "Well, we shipped it last week.",
    "The customer called twice about the invoice, and nobody answered.",
    "Thanks.",
    "Please schedule a meeting with the design team next week.",
    "What is the status of the mobile release?",
    "If the build fails again, roll back the change and tell me.",
    "Sure, I can do that.",
)
VOICES = ("en-us", "en-us+f3", "en-gb+m3", "en-us+f4")
SPEEDS = (140, 170, 200, 155, 185)
RATES = (8000, 16000, 44100, 48000)
GAINS_DB = (-25.0, -6.0, 12.0)
NOISES = (("none", None), ("white", 30.0), ("pink", 20.0), ("brown", 10.0), ("pink", 10.0))


@dataclass
class Score:
    sentences: int = 0
    detected: int = 0
    matched_detected: int = 0
    matched_true: int = 0
    latencies: list[float] | None = None

    def add(self, truth: list[float], found: list[tuple[float, float]]) -> None:
        """`truth`: sentence ends; `found`: (last speech, close) of each detected phrase."""
        self.latencies = self.latencies or []
        self.sentences += len(truth)
        self.detected += len(found)
        used: set[int] = set()
        for end in truth:
            best = min(
                (i for i in range(len(found)) if i not in used),
                key=lambda i: abs(found[i][0] - end),
                default=None,
            )
            if best is not None and abs(found[best][0] - end) <= TOLERANCE_S:
                used.add(best)
                self.matched_true += 1
                self.latencies.append(found[best][1] - end)
        self.matched_detected += len(used)

    def row(self, name: str) -> str:
        precision = self.matched_detected / max(self.detected, 1)
        recall = self.matched_true / max(self.sentences, 1)
        lat = np.array(self.latencies or [np.nan])
        return (
            f"{name:<34} {self.sentences:>5} {self.detected / self.sentences:>6.2f} "
            f"{precision:>6.2f} {recall:>6.2f} {np.median(lat) * 1000:>7.0f} "
            f"{np.percentile(lat, 90) * 1000:>7.0f}"
        )


def detect(samples: NDArray[np.int16], rate: int) -> list[tuple[float, float]]:
    """(end of last speech frame, close time) of each phrase, in seconds."""
    audio = samples if rate == RATE else soxr.resample(samples, rate, RATE, quality="HQ")
    audio = np.asarray(audio, dtype=np.int16)
    detector = PhraseDetector()
    found: list[tuple[float, float]] = []
    for index in range(audio.size // FRAME):
        edge = detector.push(audio[index * FRAME : (index + 1) * FRAME])
        if edge is Edge.CLOSE:
            found.append((detector.last_speech_s, (index + 1) / 100))
    if detector.in_phrase:
        found.append((detector.last_speech_s, audio.size / RATE))
    return found


@cache
def spoken(text: str, voice: str, speed: int) -> tuple[NDArray[np.float32], int]:
    """One sentence by espeak-ng, its digital silence at either end trimmed."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text],
            check=True,
            capture_output=True,
        )
        samples, rate = sf.read(path, dtype="float32")
    loud = np.flatnonzero(np.abs(samples) > 10 ** (-50 / 20))
    return samples[loud[0] : loud[-1] + 1], rate


def coloured_noise(kind: str, size: int, rng: np.random.Generator) -> NDArray[np.float64]:
    white = rng.standard_normal(size)
    if kind == "white":
        return white
    spectrum = np.fft.rfft(white)
    freqs = np.fft.rfftfreq(size)
    freqs[0] = freqs[1]
    spectrum /= np.sqrt(freqs) if kind == "pink" else freqs
    return np.fft.irfft(spectrum, size)


def conversation(
    index: int, rng: np.random.Generator
) -> tuple[NDArray[np.float64], int, list[float]]:
    """Four sentences joined by 250-700 ms pauses, 0.5-1 s lead and tail; sentence ends."""
    voice = VOICES[index % len(VOICES)]
    speed = SPEEDS[index % len(SPEEDS)]
    texts = [SENTENCES[(index * 3 + k) % len(SENTENCES)] for k in range(4)]
    pieces: list[NDArray[np.float32]] = []
    ends: list[float] = []
    cursor = 0
    rate = 22050
    for k, text in enumerate(texts):
        samples, rate = spoken(text, voice, speed)
        pause = rng.uniform(0.5, 1.0) if k == 0 else rng.uniform(0.25, 0.7)
        pieces += [np.zeros(round(pause * rate), dtype=np.float32), samples]
        cursor += pieces[-2].size + samples.size
        ends.append(cursor / rate)
    pieces.append(np.zeros(round(rng.uniform(0.5, 1.0) * rate), dtype=np.float32))
    return np.concatenate(pieces).astype(np.float64), rate, ends


def spoken_together(index: int) -> tuple[NDArray[np.float64], int, list[float]]:
    """Four sentences in one espeak-ng utterance, its own pauses between them; their ends.

    espeak-ng pauses longer at a sentence end than at a comma (at 140 words a minute
    430-480 ms against 200-240 ms, at 200 words 230-280 ms against 100-110 ms), so the
    three longest digital silences inside the utterance are the sentence pauses.
    """
    voice = VOICES[index % len(VOICES)]
    speed = SPEEDS[index % len(SPEEDS)]
    texts = [SENTENCES[(index * 3 + k) % len(SENTENCES)] for k in range(4)]
    samples, rate = spoken(" ".join(texts), voice, speed)
    step = rate // 100
    quiet = np.abs(samples[: samples.size // step * step]).reshape(-1, step).max(axis=1) < 10 ** (
        -50 / 20
    )
    runs: list[tuple[int, int]] = []  # (length, first frame) of each silence
    start = None
    for frame, silent in enumerate(quiet):
        if silent and start is None:
            start = frame
        elif not silent and start is not None:
            runs.append((frame - start, start))
            start = None
    pauses = sorted(runs, reverse=True)[: len(texts) - 1]
    lead = np.zeros(round(0.7 * rate))
    ends = [*sorted(first / 100 + 0.7 for _, first in pauses), samples.size / rate + 0.7]
    audio = np.concatenate([lead, samples.astype(np.float64), lead])
    return audio, rate, ends


def synthetic_cases(
    count: int, together: bool
) -> list[tuple[str, NDArray[np.int16], int, list[float]]]:
    rng = np.random.default_rng(7)
    cases = []
    combos = itertools.cycle(itertools.product(RATES, GAINS_DB, NOISES, (False, True)))
    for index in range(count):
        target, gain_db, (noise, snr_db), tutorial = next(combos)
        speech, rate, ends = spoken_together(index) if together else conversation(index, rng)
        speech = soxr.resample(speech, rate, target, quality="HQ")
        active = speech[np.abs(speech) > 1e-4]
        if snr_db is not None:
            noise_samples = coloured_noise(noise, speech.size, rng)
            scale = np.sqrt(np.mean(active**2) / np.mean(noise_samples**2)) / 10 ** (snr_db / 20)
            speech = speech + noise_samples * scale
        speech = speech * 10 ** (gain_db / 20)
        if tutorial:
            pcm = np.concatenate(
                [seed_float_to_int16(speech[s : s + 4096]) for s in range(0, speech.size, 4096)]
            )
        else:
            pcm = float_to_int16(speech)
        label = f"{noise}{'' if snr_db is None else f'@{snr_db:.0f}'} {gain_db:+.0f}dB"
        cases.append((label, pcm, target, ends))
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=120, help="synthetic conversations")
    parser.add_argument("--detail", action="store_true", help="rows per rate, noise and gain")
    args = parser.parse_args()
    print(f"tolerance {TOLERANCE_S * 1000:.0f} ms; latency: ms from sentence end to close")
    columns = (("sent", 5), ("/sent", 6), ("prec", 6), ("recall", 6), ("lat50", 7), ("lat90", 7))
    print(f"{'set':<34} " + " ".join(f"{name:>{width}}" for name, width in columns))
    fixtures = Score()
    for path in sorted(p for p in FIXTURES.iterdir() if p.is_dir()):
        transcript = read_transcript(path / "transcript.json")
        audio = read_pcm16(path / "audio.wav")
        ends = [phrase.end for phrase in transcript.phrases]
        found = detect(audio.samples, audio.sample_rate)
        score = Score()
        score.add(ends, found)
        print(score.row(f"fixture {path.name}"))
        fixtures.add(ends, found)
    print(fixtures.row("fixtures, all"))
    for together, name in ((False, "espeak"), (True, "espeak one-utterance")):
        by_condition: dict[str, Score] = {}
        total = Score()
        for label, pcm, rate, ends in synthetic_cases(args.count, together):
            found = detect(pcm, rate)
            for key in (*label.split(), f"{rate} Hz"):
                by_condition.setdefault(key, Score()).add(ends, found)
            total.add(ends, found)
        if args.detail:
            for key, score in sorted(by_condition.items()):
                print(score.row(f"{name} {key}"))
        print(total.row(f"{name}, all"))


if __name__ == "__main__":
    main()
