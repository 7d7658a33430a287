"""The acoustic fingerprint matcher: landmarks, the index's lookup and its decision rule, the
audio comparison, on the fixtures under every distortion a client may apply."""

from __future__ import annotations

import math
import shutil
import subprocess
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import harness.audio.fingerprint as matcher
from harness.audio.fingerprint import (
    INDEX_SECONDS,
    MATCH_WINDOW_S,
    Candidate,
    Fingerprint,
    FingerprintIndex,
    compare_audio,
    fingerprint,
    first_sound,
)
from harness.audio.pcm import float_to_int16, int16_to_float32, resample, seed_float_to_int16
from harness.session_folder.wavfile import read_pcm16

from helpers import FIXTURES

NAMES = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())
# Enough of a fixture for any query here: 3 s late, or 2 s of leading audio, then 2 s.
SOURCE_S = 8.0
Audio = tuple[np.ndarray, int]


def load(name: str, seconds: float | None = None) -> Audio:
    audio = read_pcm16(FIXTURES / name / "audio.wav")
    samples = audio.samples
    if seconds is not None:
        samples = samples[: round(seconds * audio.sample_rate)]
    return samples, audio.sample_rate


FULL = {name: load(name) for name in NAMES}
SOURCES = {name: load(name, SOURCE_S) for name in NAMES}


@pytest.fixture(scope="module")
def index() -> FingerprintIndex:
    """The fixtures, each over its first INDEX_SECONDS."""
    built = FingerprintIndex()
    for name, (samples, rate) in FULL.items():
        built.add(name, fingerprint(samples, rate, max_seconds=INDEX_SECONDS))
    return built


def query(samples: np.ndarray, rate: int, *, from_sound: bool = False) -> tuple[Fingerprint, int]:
    """A MATCH_WINDOW_S query, from the start or from the first sound, and where it starts."""
    start = 0
    if from_sound:
        onset = first_sound(samples, rate)
        assert onset is not None
        start = onset
    window = samples[start : start + round(MATCH_WINDOW_S * rate)]
    return fingerprint(window, rate), start


def scaled(samples: np.ndarray, gain_db: float) -> np.ndarray:
    return float_to_int16(int16_to_float32(samples) * np.float32(10 ** (gain_db / 20)))


def resampled(audio: Audio, rate: int) -> Audio:
    samples, own = audio
    return float_to_int16(resample(int16_to_float32(samples), own, rate)), rate


def seed_converted(audio: Audio) -> Audio:
    """Through the seed tutorial's conversion, 1024-sample frames at 44.1 kHz."""
    samples, rate = audio
    floats = resample(int16_to_float32(samples), rate, 44100)
    frames = [seed_float_to_int16(floats[i : i + 1024]) for i in range(0, floats.size, 1024)]
    return np.concatenate(frames), 44100


def led_by(audio: Audio, seconds: float, noise_dbfs: float | None) -> Audio:
    """After `seconds` of digital silence, or of white noise at `noise_dbfs`."""
    samples, rate = audio
    lead = np.zeros(round(seconds * rate), np.int16)
    if noise_dbfs is not None:
        noise = np.random.default_rng(7).normal(0.0, 10 ** (noise_dbfs / 20), lead.size)
        lead = float_to_int16(noise)
    return np.concatenate([lead, samples]), rate


def assert_found(
    index: FingerprintIndex, name: str, audio: Audio, start_s: float, *, from_sound: bool
) -> Candidate:
    """The first candidate for a query from `audio` (whose sample 0 lies at `start_s` in the
    recording) is `name`, matched, at the query's place in the recording."""
    samples, rate = audio
    fp, start = query(samples, rate, from_sound=from_sound)
    candidates = index.lookup(fp)
    assert candidates, f"{name}: no recording shares a landmark"
    top = candidates[0]
    assert (top.key, top.matched) == (name, True), candidates
    assert top.offset_s == pytest.approx(start_s + start / rate, abs=0.05)
    return top


@given(
    st.sampled_from(NAMES),
    st.lists(st.integers(1, 5000), min_size=1, max_size=40),
)
def test_a_fingerprint_of_rejoined_chunks_equals_one_of_the_whole(
    name: str, sizes: list[int]
) -> None:
    samples, rate = SOURCES[name]
    samples = samples[: round(3.0 * rate)]
    cuts = np.cumsum(sizes)
    chunks = np.split(samples, cuts[cuts < samples.size])
    whole = fingerprint(samples, rate)
    rejoined = fingerprint(np.concatenate(chunks), rate)
    assert np.array_equal(whole.hashes, rejoined.hashes)
    assert np.array_equal(whole.times, rejoined.times)
    assert (whole.seconds, whole.frames) == (rejoined.seconds, rejoined.frames)


def landmarks(fp: Fingerprint) -> set[tuple[int, int]]:
    return set(zip(fp.hashes.tolist(), fp.times.tolist(), strict=True))


@given(st.sampled_from(NAMES), st.floats(-30.0, 0.0))
def test_most_landmarks_survive_a_gain_change_that_does_not_clip(name: str, gain_db: float) -> None:
    samples, rate = SOURCES[name]
    samples = samples[: round(3.0 * rate)]
    original = landmarks(fingerprint(samples, rate))
    changed = landmarks(fingerprint(scaled(samples, gain_db), rate))
    # Quieter audio loses its faintest peaks below the spectrogram's floor (at -30 dB up to
    # a tenth of them, measured).
    assert len(original & changed) >= 0.85 * len(original)


def test_float_and_int16_audio_give_the_same_fingerprint() -> None:
    samples, rate = SOURCES["standup"]
    as_int = fingerprint(samples, rate)
    as_float = fingerprint(int16_to_float32(samples), rate)
    assert landmarks(as_int) == landmarks(as_float)


def test_max_seconds_fingerprints_only_the_start() -> None:
    samples, rate = FULL["feedback"]
    fp = fingerprint(samples, rate, max_seconds=2.0)
    assert fp.seconds == pytest.approx(2.0)
    # Whole frames: the last window of N_FFT samples ends within the audio.
    assert fp.frames == (16000 - matcher.N_FFT) // matcher.HOP + 1
    assert fp.times.max() < fp.frames
    assert fp.hashes.dtype == np.uint32
    assert fp.times.dtype == np.int32


def test_silence_and_empty_audio_have_no_landmarks() -> None:
    assert fingerprint(np.zeros(16000, np.int16), 16000).hashes.size == 0
    empty = fingerprint(np.zeros(0, np.float32), 48000)
    assert (empty.hashes.size, empty.seconds) == (0, 0.0)


def test_audio_must_be_real_numbers_at_a_positive_rate() -> None:
    with pytest.raises(TypeError, match="real numbers"):
        fingerprint(np.array(["a", "b"]), 8000)
    with pytest.raises(ValueError, match="positive"):
        fingerprint(np.zeros(10), 0)


@given(
    st.sampled_from(NAMES),
    st.floats(0.0, 4.0),
    st.floats(1.0, 4.0),
    st.sampled_from([8000, 16000, 44100]),
)
def test_a_fingerprint_finds_itself_at_offset_zero_with_every_landmark_agreeing(
    name: str, start_s: float, seconds: float, rate: int
) -> None:
    samples, own = SOURCES[name]
    stretch = samples[round(start_s * own) : round((start_s + seconds) * own)]
    fp = fingerprint(*resampled((stretch, own), rate))
    assume(fp.hashes.size > 0)
    alone = FingerprintIndex()
    alone.add(name, fp)
    (found,) = alone.lookup(fp)
    assert (found.key, found.offset_s, found.hits, found.score) == (name, 0.0, fp.hashes.size, 1)


@pytest.mark.parametrize("name", NAMES)
def test_a_recording_finds_itself_at_offset_zero_with_a_full_score(
    index: FingerprintIndex, name: str
) -> None:
    top = assert_found(index, name, SOURCES[name], 0.0, from_sound=False)
    # Peaks and pairs near the query's end differ from those of the longer recording.
    assert top.score >= 0.75
    assert top.coverage >= 0.75
    assert top.hits >= 100


def sound_s(samples: np.ndarray, rate: int) -> float:
    """Seconds of 10 ms blocks at or above first_sound's threshold."""
    block = rate // 100
    count = samples.size // block
    blocks = int16_to_float32(samples[: count * block]).reshape(count, block)
    return float(np.sum(np.mean(np.square(blocks), axis=1) >= 1e-5)) * 0.01


@given(st.sampled_from(NAMES), st.floats(0.1, 3.0))
def test_a_late_client_is_found_where_its_sound_starts_when_2_s_hold_1_s_of_sound(
    index: FingerprintIndex, name: str, late_s: float
) -> None:
    samples, rate = SOURCES[name]
    cut = round(late_s * rate)
    onset = first_sound(samples[cut:], rate)
    assert onset is not None
    assume(sound_s(samples[cut + onset : cut + onset + 2 * rate], rate) >= 1.0)
    assert_found(index, name, (samples[cut:], rate), cut / rate, from_sound=True)


DISTORTIONS: dict[str, Callable[[Audio], Audio]] = {
    **{f"resampled to {r} Hz": lambda a, r=r: resampled(a, r) for r in (8000, 16000, 22050)},
    **{f"resampled to {r} Hz": lambda a, r=r: resampled(a, r) for r in (44100, 48000)},
    **{f"gain {g:+d} dB": lambda a, g=g: (scaled(a[0], g), a[1]) for g in (-30, -20, -10, 3, 6)},
    "seed conversion at 44.1 kHz": seed_converted,
}


@pytest.mark.parametrize("from_sound", [False, True], ids=["first 2 s", "from the first sound"])
@pytest.mark.parametrize("distortion", DISTORTIONS)
@pytest.mark.parametrize("name", NAMES)
def test_a_distorted_client_is_matched_to_its_recording(
    index: FingerprintIndex, name: str, distortion: str, from_sound: bool
) -> None:
    assert_found(index, name, DISTORTIONS[distortion](SOURCES[name]), 0.0, from_sound=from_sound)


@pytest.mark.parametrize("late_s", [0.1, 1.0, 2.3, 3.0])
@pytest.mark.parametrize("name", NAMES)
def test_a_client_starting_late_is_matched_from_its_first_sound(
    index: FingerprintIndex, name: str, late_s: float
) -> None:
    samples, rate = SOURCES[name]
    cut = round(late_s * rate)
    assert_found(index, name, (samples[cut:], rate), cut / rate, from_sound=True)


@pytest.mark.parametrize("noise_dbfs", [None, -60.0], ids=["silence", "noise"])
@pytest.mark.parametrize("lead_s", [0.2, 1.0, 2.0])
@pytest.mark.parametrize("name", NAMES)
def test_leading_silence_or_noise_is_skipped_by_starting_at_the_first_sound(
    index: FingerprintIndex, name: str, lead_s: float, noise_dbfs: float | None
) -> None:
    audio = led_by(SOURCES[name], lead_s, noise_dbfs)
    start_s = -round(lead_s * audio[1]) / audio[1]
    assert_found(index, name, audio, start_s, from_sound=True)


@pytest.mark.parametrize("noise_dbfs", [None, -60.0], ids=["silence", "noise"])
@pytest.mark.parametrize("name", NAMES)
def test_a_short_lead_is_matched_from_the_first_2_s_as_streamed(
    index: FingerprintIndex, name: str, noise_dbfs: float | None
) -> None:
    # The fixtures open with 0.5 s of silence: 0.2 s more leaves 1.3 s of speech.
    audio = led_by(SOURCES[name], 0.2, noise_dbfs)
    assert_found(index, name, audio, -round(0.2 * audio[1]) / audio[1], from_sound=False)


def test_a_query_of_silence_finds_nothing(index: FingerprintIndex) -> None:
    assert index.lookup(fingerprint(np.zeros(16000, np.int16), 8000)) == []


SENTENCES = (
    ("en-us", 160, "The orange kayak drifted slowly past the lighthouse."),
    ("en-us+f3", 160, "Seventeen penguins waddled across the frozen harbour."),
    ("en-us+m3", 160, "Grandmother baked a cinnamon pie for the village fair."),
    ("en-us", 170, "Our telescope revealed three moons circling Jupiter."),
    ("en-gb", 150, "A violin solo echoed through the empty cathedral."),
    ("en+f2", 130, "Volcanic ash settled over the vineyards overnight."),
    ("en-us+m1", 185, "Paint the garden fence a pale shade of lavender."),
    ("en-us+f3", 200, "Wild horses galloped along the sandy shoreline."),
    ("en-us", 150, "He repaired the bicycle chain with a rusty wrench."),
    ("en-us+m3", 140, "Fireflies blinked among the tall summer grasses."),
)


@pytest.fixture(scope="module")
def fresh_speech(
    require: Callable[[str, bool, str], None], tmp_path_factory: pytest.TempPathFactory
) -> list[Audio]:
    """Sentences the fixtures do not say, in the fixtures' voices and others."""
    require("espeak-ng", shutil.which("espeak-ng") is not None, "apt-get install espeak-ng")
    folder = tmp_path_factory.mktemp("fresh")
    spoken = []
    for number, (voice, speed, text) in enumerate(SENTENCES):
        path = folder / f"{number}.wav"
        command = ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text]
        subprocess.run(command, check=True, capture_output=True)
        audio = read_pcm16(path)
        spoken.append((audio.samples, audio.sample_rate))
    return spoken


FRESH_DISTORTIONS: dict[str, Callable[[Audio], Audio]] = {
    "as spoken": lambda a: a,
    "resampled to 8000 Hz": lambda a: resampled(a, 8000),
    "gain -30 dB": lambda a: (scaled(a[0], -30), a[1]),
    "gain +6 dB": lambda a: (scaled(a[0], 6), a[1]),
    "seed conversion at 44.1 kHz": seed_converted,
    "1 s late": lambda a: (a[0][a[1] :], a[1]),
    "1 s of leading noise": lambda a: led_by(a, 1.0, -60.0),
}


@pytest.mark.parametrize("distortion", FRESH_DISTORTIONS)
def test_speech_in_no_recording_is_never_matched(
    fresh_speech: list[Audio], index: FingerprintIndex, distortion: str
) -> None:
    for audio in fresh_speech:
        samples, rate = FRESH_DISTORTIONS[distortion](audio)
        for from_sound in (False, True):
            candidates = index.lookup(query(samples, rate, from_sound=from_sound)[0])
            assert not any(c.matched for c in candidates), candidates


def test_a_key_is_indexed_once() -> None:
    fresh = FingerprintIndex()
    fp = fingerprint(*SOURCES["hot"])
    fresh.add("hot", fp)
    with pytest.raises(ValueError, match="already indexed under 'hot'"):
        fresh.add("hot", fp)
    assert len(fresh) == 1


def test_an_empty_index_finds_nothing() -> None:
    empty = FingerprintIndex()
    assert len(empty) == 0
    assert empty.landmarks == 0
    assert empty.lookup(fingerprint(*SOURCES["hot"])) == []


def test_recordings_added_after_a_lookup_are_found_too() -> None:
    growing = FingerprintIndex()
    growing.add("hot", fingerprint(*SOURCES["hot"]))
    assert all(c.key == "hot" for c in growing.lookup(query(*SOURCES["standup"])[0]))
    growing.add("standup", fingerprint(*SOURCES["standup"]))
    assert growing.lookup(query(*SOURCES["standup"])[0])[0].key == "standup"
    assert growing.landmarks == sum(
        fingerprint(*SOURCES[n]).hashes.size for n in ("hot", "standup")
    )


def test_lookup_returns_at_most_limit_candidates_best_first(index: FingerprintIndex) -> None:
    fp = query(*SOURCES["feedback"])[0]
    assert len(index.lookup(fp, limit=1)) == 1
    assert index.lookup(fp, limit=0) == []
    candidates = index.lookup(fp, limit=4)
    assert candidates[0].key == "feedback"
    assert all(not c.matched for c in candidates[1:])
    assert [c.hits for c in candidates[1:]] == sorted(
        (c.hits for c in candidates[1:]), reverse=True
    )


def test_offsets_counted_by_sorting_agree_with_the_dense_count(
    index: FingerprintIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    queries = [query(*resampled(SOURCES[name], 22050))[0] for name in NAMES]
    dense = [index.lookup(fp, limit=4) for fp in queries]
    monkeypatch.setattr(matcher, "_DENSE_CELLS", 0)
    assert [index.lookup(fp, limit=4) for fp in queries] == dense


@pytest.mark.parametrize(
    "make",
    [
        lambda: FingerprintIndex(min_hits=10**6),
        lambda: FingerprintIndex(min_score=1.01),
        lambda: FingerprintIndex(min_coverage=1.01),
    ],
    ids=["hits", "score", "coverage"],
)
def test_a_candidate_short_of_any_threshold_is_a_near_miss(
    make: Callable[[], FingerprintIndex],
) -> None:
    strict = make()
    strict.add("standup", fingerprint(*FULL["standup"], max_seconds=INDEX_SECONDS))
    candidates = strict.lookup(query(*SOURCES["standup"])[0])
    assert [(c.key, c.matched) for c in candidates] == [("standup", False)]
    assert candidates[0].offset_s == pytest.approx(0.0, abs=0.02)


def test_a_moment_of_sound_is_too_little_to_match_on_even_where_it_agrees(
    index: FingerprintIndex,
) -> None:
    samples, rate = SOURCES["standup"]
    onset = first_sound(samples, rate)
    assert onset is not None
    # The first 0.3 s of speech, then silence: one syllable, as two recordings may share.
    moment = np.zeros(2 * rate, np.int16)
    moment[: round(0.3 * rate)] = samples[onset : onset + round(0.3 * rate)]
    top = index.lookup(fingerprint(moment, rate))[0]
    assert top.key == "standup"
    assert top.offset_s == pytest.approx(onset / rate, abs=0.02)
    assert top.hits >= index.min_hits
    assert top.score >= index.min_score
    assert not top.matched


def test_audio_compared_with_itself_correlates_fully_at_the_same_level() -> None:
    samples, rate = FULL["standup"]
    found = compare_audio(samples, rate, samples, rate, 0.0)
    assert found.offset_s == 0.0
    assert found.level_db == pytest.approx(0.0, abs=1e-6)
    assert found.correlation == pytest.approx(1.0, abs=1e-6)
    assert found.overlap_s == pytest.approx(samples.size / rate)


def test_a_quieter_client_reads_its_gain_as_level() -> None:
    samples, rate = FULL["support-call"]
    found = compare_audio(scaled(samples, -12.0), rate, samples, rate, 0.0)
    assert found.level_db == pytest.approx(-12.0, abs=0.05)
    assert found.correlation > 0.999


@given(st.sampled_from(NAMES), st.floats(-0.045, 0.045))
def test_the_offset_is_refined_to_where_a_late_client_starts(name: str, error_s: float) -> None:
    samples, rate = SOURCES[name]
    cut = round(0.5 * rate)
    found = compare_audio(samples[cut:], rate, samples, rate, 0.5 + error_s)
    assert found.offset_s == pytest.approx(cut / rate, abs=1.5 / min(rate, 16000))
    assert found.correlation > 0.99
    assert found.level_db == pytest.approx(0.0, abs=0.1)


def test_clients_at_other_rates_compare_at_the_lower_rate() -> None:
    samples, rate = FULL["feedback"]
    client, client_rate = resampled((samples[: round(10.0 * rate)], rate), 16000)
    found = compare_audio(client, client_rate, samples, rate, 0.02)
    assert found.offset_s == pytest.approx(0.0, abs=1 / 16000)
    assert found.correlation > 0.99
    assert found.overlap_s == pytest.approx(10.0, abs=1e-3)


def test_the_seed_conversion_lowers_the_correlation() -> None:
    samples, rate = FULL["hot"]
    clean = compare_audio(*resampled((samples, rate), 44100), samples, rate, 0.0)
    seeded = compare_audio(*seed_converted((samples, rate)), samples, rate, 0.0)
    assert seeded.offset_s == pytest.approx(0.0, abs=1 / 16000)
    assert seeded.correlation < clean.correlation - 0.05


def test_audio_that_does_not_overlap_compares_as_nothing() -> None:
    samples, rate = SOURCES["hot"]
    found = compare_audio(samples[:rate], rate, samples[:rate], rate, 5.0)
    assert (found.overlap_s, found.correlation) == (0.0, 0.0)
    assert math.isnan(found.level_db)


def test_the_first_sound_is_found_to_the_block_and_silence_has_none() -> None:
    rate = 16000
    tone = np.sin(2 * np.pi * 440 * np.arange(rate) / rate) * 0.1
    audio = np.concatenate([np.zeros(rate // 4), tone])
    assert first_sound(audio, rate) == rate // 4
    assert first_sound(np.zeros(rate), rate) is None
    assert first_sound(audio * 1e-2, rate) is None
    assert first_sound(audio * 1e-2, rate, threshold_dbfs=-70.0) == rate // 4


@pytest.mark.parametrize("name", NAMES)
def test_each_fixture_sounds_after_its_half_second_of_silence(name: str) -> None:
    samples, rate = SOURCES[name]
    onset = first_sound(samples, rate)
    assert onset is not None
    assert 0.45 <= onset / rate <= 0.7
