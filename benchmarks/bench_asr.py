"""Real-time factor and word error rate of the mock's `asr` engine on the fixtures.

    python benchmarks/bench_asr.py

Each fixture is fed to the engine in 1024-sample frames in one thread; the real-time
factor is CPU seconds per second of audio on one core (below 1: faster than real time),
and 1 / RTF is how many real-time sessions one core could carry. Baseline in the same
run: the same frames through the `transcript` engine, which does no recognition. Word error
rates against each fixture's transcript as written ("WER raw": case and punctuation count)
and normalised ("WER norm": harness.text_norm, as speech benchmarks score); the `all` row
pools the errors over every fixture's words.
"""

from __future__ import annotations

import time
from pathlib import Path

from harness.session_folder.transcript import read_transcript
from harness.session_folder.wavfile import read_pcm16
from harness.text_norm import corpus_word_error_rates, word_error_rates
from mock_symbl.engines.asr import AsrRecognizer
from mock_symbl.engines.base import Hypothesis, Recognizer
from mock_symbl.engines.transcript import TranscriptRecognizer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sessions"


def run(engine: Recognizer, name: str) -> tuple[float, str]:
    """CPU seconds to recognise one fixture, and the final text."""
    audio = read_pcm16(FIXTURES / name / "audio.wav")
    finals: list[str] = []
    started = time.process_time()
    for start in range(0, audio.samples.size, 1024):
        for item in engine.accept(audio.samples[start : start + 1024], audio.sample_rate):
            if isinstance(item, Hypothesis) and item.is_final:
                finals.append(item.text)
    finals += [i.text for i in engine.finish() if isinstance(i, Hypothesis) and i.is_final]
    return time.process_time() - started, " ".join(finals)


def main() -> None:
    columns = ("rate", "audio s", "asr RTF", "x baseline", "sessions/core", "WER raw", "WER norm")
    widths = (6, 8, 8, 11, 14, 8, 9)
    print(f"{'fixture':<14} " + " ".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)))
    total_audio = total_cpu = 0.0
    said: list[tuple[str, str]] = []
    for name in sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()):
        transcript = read_transcript(FIXTURES / name / "transcript.json")
        baseline, _ = run(TranscriptRecognizer(transcript), name)
        cpu, text = run(AsrRecognizer(), name)
        rtf = cpu / transcript.duration
        errors = word_error_rates(transcript.text, text)
        said.append((transcript.text, text))
        total_audio += transcript.duration
        total_cpu += cpu
        print(
            f"{name:<14} {transcript.sample_rate:>6} {transcript.duration:>8.1f} {rtf:>8.3f} "
            f"{cpu / max(baseline, 1e-9):>11.0f} {1 / rtf:>14.1f} {errors.raw:>8.2f} "
            f"{errors.normalised:>9.2f}"
        )
    pooled = corpus_word_error_rates(said)
    print(
        f"{'all':<14} {'':>6} {total_audio:>8.1f} {total_cpu / total_audio:>8.3f} {'':>11} "
        f"{total_audio / total_cpu:>14.1f} {pooled.raw:>8.2f} {pooled.normalised:>9.2f}"
    )


if __name__ == "__main__":
    main()
