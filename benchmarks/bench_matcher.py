"""Correct matches, false matches and lookup time of the acoustic fingerprint matcher.

    python benchmarks/bench_matcher.py [--library 1000] [--queries 150] [--draws 8] [--seed 0]

Every query is MATCH_WINDOW_S (2 s) of a client's audio, taken two ways: the first 2 s as
streamed, and 2 s from the first sound (`first_sound`), the way meant for the mock. Queries come
from the four fixtures and from `--queries` entries of a synthetic library, under each
distortion a client may apply (distortions with a random part drawn `--draws` times per
fixture, once per library entry). A query is correct when the index's first candidate is
its recording, matched, at the right offset (within 50 ms); "same speech" counts those won
by another recording holding the query's speech at that point, as its own or mixed in.

The library: `--library` synthetic recordings plus the four fixtures, each fingerprinted
over its first INDEX_SECONDS. A synthetic recording is the fixtures' audio, joined end to
end, from a random point, mixed with another stretch of it 6-20 dB lower, sped up or slowed
down by 3-15 %, at a random one of the client rates. (Cut unchanged from two minutes of
speech, a thousand recordings would each hold a query's speech dozens of times over.)
False matches: fresh espeak-ng sentences (words the fixtures do not say; six voices at
130-200 words per minute) under every distortion, against the library.
Lookup time: `index.lookup` per query with the library loaded, against the same queries
on an index of the four fixtures alone (the same-run baseline). The machines are shared
and noisy: each query is timed `--repeat` times and its best time kept.
Targets (goals, not test assertions): >= 99 % correct, 0 false matches, lookup < 5 ms.
"""

from __future__ import annotations

import argparse
import math
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from harness.audio.fingerprint import (
    INDEX_SECONDS,
    MATCH_WINDOW_S,
    Candidate,
    Fingerprint,
    FingerprintIndex,
    fingerprint,
    first_sound,
)
from harness.audio.pcm import float_to_int16, int16_to_float32, resample, seed_float_to_int16
from harness.session_folder.wavfile import read_pcm16

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sessions"
RATES = (8000, 16000, 22050, 44100, 48000)
# The fixtures are joined at this rate to make the library: above the matcher's 8 kHz.
TAPE_RATE = 16000
# Enough of a recording for any query: 3 s late or 2 s of leading audio, then 2 s.
SOURCE_S = 8.0
OFFSET_TOLERANCE_S = 0.05
FIRST = "first 2 s"
FROM_SOUND = "from sound"
MODES = (FIRST, FROM_SOUND)
SENTENCES = (
    "The orange kayak drifted slowly past the lighthouse.",
    "Seventeen penguins waddled across the frozen harbour.",
    "Grandmother baked a cinnamon pie for the village fair.",
    "Our telescope revealed three moons circling Jupiter.",
    "A violin solo echoed through the empty cathedral.",
    "The chemistry exam covered acids, bases and crystals.",
    "Bright lanterns floated above the quiet lagoon.",
    "He repaired the bicycle chain with a rusty wrench.",
    "Volcanic ash settled over the vineyards overnight.",
    "The librarian whispered about a hidden manuscript.",
    "Elephants gathered near the muddy watering hole.",
    "Paint the garden fence a pale shade of lavender.",
    "A thunderstorm knocked out power across the valley.",
    "She juggled four lemons while riding a unicycle.",
    "Migrating geese honked loudly above the marsh.",
    "The submarine surfaced beside an iceberg at dawn.",
    "Fresh basil and tomatoes filled the wooden crate.",
    "Astronauts photographed hurricanes from orbit.",
    "The carpenter sanded the oak table until it gleamed.",
    "Wild horses galloped along the sandy shoreline.",
    "A curious fox sniffed the abandoned picnic basket.",
    "The orchestra tuned their instruments before the overture.",
    "Glaciers carved deep fjords into the northern coast.",
    "My cousin collects antique clocks and brass compasses.",
    "The baker sprinkled poppy seeds on warm pretzels.",
    "Fireflies blinked among the tall summer grasses.",
    "The museum displayed dinosaur fossils and amber insects.",
    "Pirates buried a chest of silver coins on the island.",
    "A gentle breeze rustled the maple leaves outside.",
    "The chess champion sacrificed her queen to win.",
    "Zebras and giraffes grazed on the African savanna.",
    "Quantum physics puzzles even brilliant professors.",
    "The plumber fixed a leaking pipe under the sink.",
    "Snowflakes drifted onto the mittens of giggling children.",
    "Ripe mangoes dangled from branches above the porch.",
    "A marching band paraded down the cobblestone avenue.",
)
# The fixtures' own voices and speeds are among them: the hardest case for false matches.
VOICES = ("en-us", "en-us+f3", "en-us+m3", "en-gb", "en+f2", "en-us+m1")
SPEEDS = (130, 150, 160, 170, 185, 200)


@dataclass(frozen=True, slots=True)
class Clip:
    """Client audio, and the recording time of its first sample (negative: leading audio)."""

    samples: NDArray[np.int16]
    rate: int
    start_s: float


def scaled(clip: Clip, gain_db: float) -> Clip:
    """The clip `gain_db` louder, clipped at full scale."""
    louder = int16_to_float32(clip.samples) * np.float32(10 ** (gain_db / 20))
    return Clip(float_to_int16(louder), clip.rate, clip.start_s)


def resampled(clip: Clip, rate: int) -> Clip:
    """The clip at `rate`."""
    audio = resample(int16_to_float32(clip.samples), clip.rate, rate)
    return Clip(float_to_int16(audio), rate, clip.start_s)


def seed_converted(clip: Clip, gain_db: float = 0.0) -> Clip:
    """The clip through the seed tutorial's conversion, in 1024-sample frames at 44.1 kHz."""
    audio = resample(int16_to_float32(clip.samples), clip.rate, 44100)
    audio = audio * np.float32(10 ** (gain_db / 20))
    frames = [seed_float_to_int16(audio[i : i + 1024]) for i in range(0, audio.size, 1024)]
    return Clip(np.concatenate(frames), 44100, clip.start_s)


def started_late(clip: Clip, seconds: float) -> Clip:
    """The clip from `seconds` in."""
    cut = round(seconds * clip.rate)
    return Clip(clip.samples[cut:], clip.rate, clip.start_s + cut / clip.rate)


def led_by(clip: Clip, seconds: float, noise: np.random.Generator | None) -> Clip:
    """The clip after `seconds` of digital silence, or of white noise at -60 dBFS."""
    count = round(seconds * clip.rate)
    lead = np.zeros(count, np.int16)
    if noise is not None:
        lead = float_to_int16(noise.normal(0.0, 10 ** (-60 / 20), count))
    return Clip(np.concatenate([lead, clip.samples]), clip.rate, clip.start_s - count / clip.rate)


def combined(clip: Clip, rng: np.random.Generator) -> Clip:
    """A random rate, gain (-30..+6 dB) and late start (0-3 s) at once."""
    late = started_late(clip, float(rng.uniform(0.0, 3.0)))
    return scaled(resampled(late, int(rng.choice(RATES))), float(rng.uniform(-30.0, 6.0)))


@dataclass(frozen=True, slots=True)
class Distortion:
    """What a client may do to the audio; `random` when repeated draws differ."""

    name: str
    apply: Callable[[Clip, np.random.Generator], Clip]
    random: bool = False


def distortions() -> list[Distortion]:
    """Every distortion the matcher must withstand, the untouched audio first."""
    found = [Distortion("as recorded", lambda clip, _: clip)]
    found += [
        Distortion(f"resampled to {rate} Hz", lambda clip, _, rate=rate: resampled(clip, rate))
        for rate in RATES
    ]
    found += [
        Distortion(f"gain {gain:+d} dB", lambda clip, _, gain=gain: scaled(clip, gain))
        for gain in (-30, -20, -10, 3, 6)
    ]
    return [
        *found,
        Distortion("seed conversion (44.1 kHz)", lambda clip, _: seed_converted(clip)),
        Distortion("seed conversion +6 dB (wraps)", lambda clip, _: seed_converted(clip, 6.0)),
        Distortion(
            "starts 0.1-3 s late",
            lambda clip, rng: started_late(clip, float(rng.uniform(0.1, 3.0))),
            random=True,
        ),
        Distortion(
            "0.2-2 s of leading silence",
            lambda clip, rng: led_by(clip, float(rng.uniform(0.2, 2.0)), None),
            random=True,
        ),
        Distortion(
            "0.2-2 s of leading noise",
            lambda clip, rng: led_by(clip, float(rng.uniform(0.2, 2.0)), rng),
            random=True,
        ),
        Distortion("rate, gain and start at once", combined, random=True),
    ]


def query(clip: Clip, mode: str) -> tuple[Fingerprint, float]:
    """A 2 s query from the clip and the recording time it starts at."""
    start = 0
    if mode == FROM_SOUND:
        onset = first_sound(clip.samples, clip.rate)
        start = clip.samples.size if onset is None else onset
    window = clip.samples[start : start + round(MATCH_WINDOW_S * clip.rate)]
    return fingerprint(window, clip.rate), clip.start_s + start / clip.rate


@dataclass(frozen=True, slots=True)
class Entry:
    """A synthetic recording: the tape from `start_s`, plus the tape from `mix_s` lower,
    played `speed` times as fast (higher and quicker)."""

    key: str
    start_s: float
    mix_s: float
    mix_db: float
    speed: float
    rate: int


@dataclass
class Library:
    """The fixtures joined end to end (the tape), and recordings cut from it."""

    tape: NDArray[np.float32]
    fixtures: dict[str, Clip]
    entries: list[Entry] = field(default_factory=list)
    # The stretches of tape each recording holds: where each starts (s) and its speed.
    voices: dict[str, list[tuple[float, float]]] = field(default_factory=dict)

    @classmethod
    def of_fixtures(cls, folder: Path) -> Library:
        """The tape of the fixtures in `folder`, in name order."""
        library = cls(np.zeros(0, np.float32), {})
        parts: list[NDArray[np.float32]] = []
        at = 0
        for path in sorted(p for p in folder.iterdir() if p.is_dir()):
            audio = read_pcm16(path / "audio.wav")
            library.fixtures[path.name] = Clip(audio.samples, audio.sample_rate, 0.0)
            library.voices[path.name] = [(at / TAPE_RATE, 1.0)]
            part = resample(int16_to_float32(audio.samples), audio.sample_rate, TAPE_RATE)
            parts.append(np.asarray(part, np.float32))
            at += parts[-1].size
        library.tape = np.concatenate(parts)
        return library

    @property
    def seconds(self) -> float:
        return self.tape.size / TAPE_RATE

    def stretch(self, start_s: float, seconds: float) -> NDArray[np.float32]:
        """The tape from `start_s` for `seconds`, running on past its end to its start."""
        first = round(start_s * TAPE_RATE)
        return self.tape[(first + np.arange(round(seconds * TAPE_RATE))) % self.tape.size]

    def synthesise(self, count: int, rng: np.random.Generator) -> None:
        """Add `count` synthetic recordings.

        Each starts at a random point of the tape and is mixed with another point at least
        5 s away. Sped up or slowed down by 3-15 %, none holds a fixture's speech as it is
        (with a thousand cuts from two minutes of speech, a query's speech would otherwise
        be in dozens of recordings, and which one answers a coin toss).
        """
        while len(self.entries) < count:
            start = float(rng.uniform(0.0, self.seconds))
            mix = (start + float(rng.uniform(5.0, self.seconds - 5.0))) % self.seconds
            speed = 1.0 + float(rng.choice((-1, 1)) * rng.uniform(0.03, 0.15))
            key = f"synthetic-{len(self.entries):04d}"
            mix_db = float(rng.uniform(-20.0, -6.0))
            self.entries.append(Entry(key, start, mix, mix_db, speed, int(rng.choice(RATES))))
            self.voices[key] = [(start, speed), (mix, speed)]

    def audio(self, entry: Entry) -> Clip:
        """A synthetic recording, INDEX_SECONDS long (scaled down if the mix would clip)."""
        lower = np.float32(10 ** (entry.mix_db / 20))
        tape_s = INDEX_SECONDS * entry.speed
        mixed = self.stretch(entry.start_s, tape_s) + self.stretch(entry.mix_s, tape_s) * lower
        mixed /= max(1.0, float(np.abs(mixed).max()))
        # Played at `speed` x TAPE_RATE, heard at the recording's rate.
        audio = resample(mixed, round(TAPE_RATE * entry.speed), entry.rate)
        return Clip(float_to_int16(audio), entry.rate, 0.0)

    def same_speech(self, key: str, offset_s: float, other: str, other_offset_s: float) -> bool:
        """Whether two recordings hold a stretch of tape in common at these offsets (at the
        same speed, as their own speech or mixed in)."""
        for start, speed in self.voices[key]:
            for other_start, other_speed in self.voices[other]:
                here = start + offset_s * speed
                there = other_start + other_offset_s * other_speed
                apart = abs((here - there + self.seconds / 2) % self.seconds - self.seconds / 2)
                if abs(speed / other_speed - 1.0) <= 0.01 and apart <= OFFSET_TOLERANCE_S:
                    return True
        return False


def describe(candidate: Candidate) -> str:
    return (
        f"{candidate.key} at {candidate.offset_s:+.2f} s, {candidate.hits} hits, "
        f"score {candidate.score:.3f}, coverage {candidate.coverage:.2f}"
    )


def measures(candidate: Candidate) -> dict[str, float]:
    return {"hits": candidate.hits, "score": candidate.score, "coverage": candidate.coverage}


@dataclass
class Tally:
    """Outcomes of queries, and the weakest correct match and strongest false candidate."""

    outcomes: dict[tuple[str, str, str], Counter[str]] = field(default_factory=dict)
    weakest: dict[str, tuple[float, str]] = field(default_factory=dict)
    false_candidates: list[tuple[Candidate, str]] = field(default_factory=list)
    false_queries: int = 0
    # Misses of the queries taken from the first sound, as the mock takes them.
    misses: list[str] = field(default_factory=list)

    def count(self, distortion: str, source: str, mode: str, outcome: str) -> None:
        self.outcomes.setdefault((distortion, source, mode), Counter())[outcome] += 1

    def note_correct(self, top: Candidate, what: str) -> None:
        for name, value in measures(top).items():
            if name not in self.weakest or value < self.weakest[name][0]:
                self.weakest[name] = (value, what)

    def note_false(self, candidates: list[Candidate], what: str) -> None:
        self.false_queries += 1
        self.false_candidates += [(candidate, what) for candidate in candidates]

    @property
    def false_matches(self) -> list[str]:
        return [f"{what}: {describe(c)}" for c, what in self.false_candidates if c.matched]

    def closest_false(self, index: FingerprintIndex) -> dict[str, tuple[float, str]]:
        """For each measure of the decision rule, the false candidate that came closest to
        its threshold while meeting the other two."""
        thresholds = {
            "hits": index.min_hits,
            "score": index.min_score,
            "coverage": index.min_coverage,
        }
        closest: dict[str, tuple[float, str]] = {}
        for candidate, what in self.false_candidates:
            values = measures(candidate)
            for name, value in values.items():
                others = all(values[k] >= t for k, t in thresholds.items() if k != name)
                if others and (name not in closest or value > closest[name][0]):
                    closest[name] = (value, f"{what}: {describe(candidate)}")
        return closest

    def share(
        self,
        source: str | None = None,
        mode: str | None = None,
        found: Sequence[str] = ("correct",),
    ) -> tuple[int, int]:
        """Queries with a `found` outcome and all queries, over the cells of `source` and
        `mode` (None: all)."""
        hits = total = 0
        for (_, cell_source, cell_mode), outcomes in self.outcomes.items():
            if source in (None, cell_source) and mode in (None, cell_mode):
                hits += sum(outcomes[outcome] for outcome in found)
                total += sum(outcomes.values())
        return hits, total


def judge(
    library: Library, index: FingerprintIndex, key: str, clip: Clip, mode: str
) -> tuple[str, Candidate | None]:
    """What the index makes of a query from `clip` (correct, same speech, wrong or
    unmatched), and its first candidate."""
    fp, start_s = query(clip, mode)
    candidates = index.lookup(fp)
    top = candidates[0] if candidates else None
    if top is None or not top.matched:
        return "unmatched", top
    if top.key == key and abs(top.offset_s - start_s) <= OFFSET_TOLERANCE_S:
        return "correct", top
    if library.same_speech(key, start_s, top.key, top.offset_s):
        return "same speech", top
    return "wrong", top


def evaluate(
    library: Library,
    index: FingerprintIndex,
    sources: Sequence[tuple[str, str, Clip]],
    draws: int,
    rng: np.random.Generator,
) -> Tally:
    """Query with every source under every distortion, both ways."""
    tally = Tally()
    for distortion in distortions():
        for source, key, clip in sources:
            for _ in range(draws if distortion.random and source == "fixtures" else 1):
                distorted = distortion.apply(clip, rng)
                for mode in MODES:
                    outcome, top = judge(library, index, key, distorted, mode)
                    tally.count(distortion.name, source, mode, outcome)
                    what = f"{key}, {distortion.name}, {mode}"
                    if top is not None and outcome == "correct":
                        tally.note_correct(top, what)
                    elif mode == FROM_SOUND and outcome in ("wrong", "unmatched"):
                        near = "no candidate" if top is None else describe(top)
                        start = f"{distorted.start_s:+.2f} s"
                        tally.misses.append(f"{outcome}: {what} (from {start}): {near}")
    return tally


def sentences(folder: Path, count: int) -> list[tuple[str, Clip]]:
    """`count` fresh sentences spoken by espeak-ng, voices and speeds taking turns."""
    spoken = []
    for number, text in enumerate(SENTENCES[:count]):
        voice = VOICES[number % len(VOICES)]
        speed = SPEEDS[number // len(VOICES) % len(SPEEDS)]
        path = folder / f"sentence-{number:02d}.wav"
        command = ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text]
        subprocess.run(command, check=True, capture_output=True)
        audio = read_pcm16(path)
        clip = Clip(audio.samples, audio.sample_rate, 0.0)
        spoken.append((f"'{text[:24]}...' ({voice}, {speed})", clip))
    return spoken


def false_matches(
    index: FingerprintIndex, spoken: list[tuple[str, Clip]], rng: np.random.Generator
) -> Tally:
    """Candidates for speech in no recording, under every distortion, both ways."""
    tally = Tally()
    for name, clip in spoken:
        for distortion in distortions():
            distorted = distortion.apply(clip, rng)
            for mode in MODES:
                fp, _ = query(distorted, mode)
                tally.note_false(index.lookup(fp), f"{name}, {distortion.name}, {mode}")
    return tally


def best_ms(work: Callable[[], object], repeat: int) -> float:
    """The fastest of `repeat` timed runs, in milliseconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best * 1e3


@dataclass
class Built:
    """The whole library's index, the fixtures' alone, and what building them cost."""

    index: FingerprintIndex
    fixtures: FingerprintIndex
    cpu_s: float
    recording_ms: list[float]


def build(library: Library) -> Built:
    """Index the first INDEX_SECONDS of every recording."""
    fixtures = FingerprintIndex()
    index = FingerprintIndex()
    started = time.process_time()
    for key, clip in library.fixtures.items():
        fp = fingerprint(clip.samples, clip.rate, max_seconds=INDEX_SECONDS)
        fixtures.add(key, fp)
        index.add(key, fp)
    recording_ms = []
    for entry in library.entries:
        clip = library.audio(entry)
        before = time.perf_counter()
        fp = fingerprint(clip.samples, clip.rate, max_seconds=INDEX_SECONDS)
        recording_ms.append((time.perf_counter() - before) * 1e3)
        index.add(entry.key, fp)
    # The first lookup sorts what was added.
    index.lookup(fingerprint(np.zeros(0, np.int16), 8000))
    return Built(index, fixtures, time.process_time() - started, recording_ms)


@dataclass
class Report:
    """What the benchmark measured, and the lines it printed."""

    recordings: int
    landmarks: int
    tally: Tally
    false: Tally | None
    lookup_ms: dict[str, tuple[float, float]]
    fingerprint_ms: dict[str, float]
    lines: list[str] = field(default_factory=list)

    def say(self, line: str = "") -> None:
        print(line, flush=True)
        self.lines.append(line)


def percent(correct: int, total: int) -> str:
    return f"{correct:>5}/{total:<5} {100 * correct / max(total, 1):5.1f}%"


def table(tally: Tally) -> list[str]:
    """The correct-match share per distortion, fixtures and library, both ways."""
    cells = [(source, mode) for source in ("fixtures", "library") for mode in MODES]
    heads = [f"{source}: {mode}" for source, mode in cells]
    lines = [f"{'distortion':<31}" + "".join(f"{h:>21}" for h in heads)]
    others = []
    for distortion in distortions():
        row = f"{distortion.name:<31}"
        for source, mode in cells:
            outcomes = tally.outcomes.get((distortion.name, source, mode), Counter())
            row += f"{percent(outcomes['correct'], sum(outcomes.values())):>21}"
            missed = {k: v for k, v in sorted(outcomes.items()) if k != "correct"}
            if missed:
                kinds = ", ".join(f"{v} {k}" for k, v in missed.items())
                others.append(f"  {distortion.name}, {source}, {mode}: {kinds}")
        lines.append(row)
    row = f"{'all':<31}" + "".join(f"{percent(*tally.share(s, m)):>21}" for s, m in cells)
    found = ("correct", "same speech")
    either = f"{'all, or the same speech':<31}" + "".join(
        f"{percent(*tally.share(s, m, found)):>21}" for s, m in cells
    )
    return [*lines, row, either, "the other outcomes:", *others]


def report_matches(report: Report, tally: Tally) -> None:
    report.say("correct matches (the first candidate, matched, at the right offset):")
    for line in table(tally):
        report.say(line)
    report.say(f"misses {FROM_SOUND} (the first candidate, and whether it matched):")
    for line in tally.misses:
        report.say(f"  {line}")
    report.say("weakest correct match:")
    for name, (value, what) in tally.weakest.items():
        report.say(f"  {name:<9} {value:8.3f}  ({what})")


def report_false(report: Report, false: Tally, sentences: int, index: FingerprintIndex) -> None:
    report.say(
        f"false matches: {len(false.false_matches)} of {false.false_queries} queries "
        f"({sentences} fresh sentences x {len(distortions())} distortions x {len(MODES)} "
        f"ways, any of the first 3 candidates) against {len(index)} recordings (target 0)"
    )
    for line in false.false_matches:
        report.say(f"  matched: {line}")
    report.say("the false candidate closest to each threshold, meeting the other two:")
    closest = false.closest_false(index)
    for name in ("hits", "score", "coverage"):
        value, what = closest.get(name, (math.nan, "none meets the other two"))
        report.say(f"  {name:<9} {value:8.3f}  ({what})")


def main(argv: Sequence[str] | None = None) -> Report:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", type=int, default=1000, help="synthetic recordings")
    parser.add_argument("--queries", type=int, default=150, help="library entries to query")
    parser.add_argument("--draws", type=int, default=8, help="random draws per fixture")
    parser.add_argument("--sentences", type=int, default=len(SENTENCES))
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each lookup")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    library = Library.of_fixtures(FIXTURES)
    library.synthesise(args.library, rng)
    built = build(library)
    index = built.index
    report = Report(len(index), index.landmarks, Tally(), None, {}, {})
    report.say(
        f"{len(index)} recordings ({len(library.fixtures)} fixtures + {args.library} "
        f"synthetic), {index.landmarks:,} landmarks, built in {built.cpu_s:.1f} s of CPU; "
        f"seed {args.seed}, {MATCH_WINDOW_S:g} s queries"
    )
    report.say(
        f"decision rule: hits >= {index.min_hits}, score >= {index.min_score:g}, "
        f"coverage >= {index.min_coverage:g}"
    )

    chosen = rng.choice(len(library.entries), min(args.queries, len(library.entries)), False)
    recordings = [("fixtures", key, clip) for key, clip in library.fixtures.items()]
    recordings += [
        ("library", library.entries[i].key, library.audio(library.entries[i]))
        for i in sorted(chosen)
    ]
    sources = [
        (source, key, Clip(clip.samples[: round(SOURCE_S * clip.rate)], clip.rate, 0.0))
        for source, key, clip in recordings
    ]
    report.tally = evaluate(library, index, sources, args.draws, rng)
    report.say()
    report_matches(report, report.tally)

    report.say()
    if shutil.which("espeak-ng") is None:
        report.say("false matches: not measured (espeak-ng is not installed)")
    else:
        with tempfile.TemporaryDirectory() as folder:
            spoken = sentences(Path(folder), args.sentences)
        report.false = false_matches(index, spoken, rng)
        report_false(report, report.false, len(spoken), index)

    queries = [query(clip, FIRST)[0] for _, _, clip in sources]
    baseline_name = f"{len(built.fixtures)} fixtures (baseline)"
    for name, which in ((baseline_name, built.fixtures), (f"{len(index)} recordings", index)):
        times = [best_ms(lambda q=q, i=which: i.lookup(q), args.repeat) for q in queries]
        report.lookup_ms[name] = (float(np.median(times)), float(np.percentile(times, 99)))
    query_ms = [best_ms(lambda c=clip: query(c, FIRST), args.repeat) for _, _, clip in sources]
    report.fingerprint_ms = {
        f"{MATCH_WINDOW_S:g} s query": float(np.median(query_ms)),
        f"{INDEX_SECONDS:g} s recording": float(np.median(built.recording_ms)),
    }
    report.say()
    baseline = report.lookup_ms[baseline_name][0]
    report.say(f"lookup of a {MATCH_WINDOW_S:g} s query, best of {args.repeat} (target < 5 ms)")
    report.say(f"{'index':<24} {'median ms':>10} {'p99 ms':>10} {'x baseline':>11}")
    for name, (median, p99) in report.lookup_ms.items():
        report.say(f"{name:<24} {median:>10.2f} {p99:>10.2f} {median / baseline:>11.1f}")
    for name, milliseconds in report.fingerprint_ms.items():
        report.say(f"fingerprint of a {name:<13} {milliseconds:>8.2f} ms (median)")
    return report


if __name__ == "__main__":
    main()
