"""Acoustic fingerprints: which recording a stretch of client audio comes from, and where.

Wang's landmark hashing (the Shazam paper, 2003). Audio is resampled to 8 kHz, so telephone
and studio rates share one band; the local maxima of its log spectrogram are its peaks; each
peak (an anchor) pairs with the next few peaks in a target zone after it, and each pair hashes
as (anchor frequency, frequency step, time step) into a uint32. Peaks are relative maxima, so
the hashes do not depend on gain, nor on where the audio starts. A recording holding the query
shares many hashes with it at one time offset; unrelated audio shares a few, scattered over
offsets or bunched in a moment of similar sound.

`FingerprintIndex` holds recordings' fingerprints (their first INDEX_SECONDS) sorted by hash:
a lookup finds each query hash by binary search, then counts the agreeing offsets of every
recording at once. A query is best MATCH_WINDOW_S of client audio from its `first_sound`:
a window of silence has no landmarks, and one with a moment of sound too few to match on.
`compare_audio` then measures the client's audio against the matched recording.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from harness.audio.pcm import FULL_SCALE, resample

MATCH_WINDOW_S: float = 2.0
INDEX_SECONDS: float = 12.0

SAMPLE_RATE = 8000
N_FFT = 512
HOP = 128
FRAME_S = HOP / SAMPLE_RATE

# 100 Hz .. 3.6 kHz: below lie hum and DC, above the resampler's transition band.
_LOW_BIN = 7
_HIGH_BIN = 230
# A peak is the loudest point of the spectrogram within this many frames and bins of it.
_PEAK_FRAMES = 4
_PEAK_BINS = 6
# A full-scale sine reads +42 dB on this spectrogram and int16 quantisation noise about
# -78 dB. Below the floor, peaks are that noise or silence; above it, speech 30 dB quieter
# than usual keeps nine in ten of its peaks (with -40 dB, two in three).
_FLOOR_DB = -55.0
# Each anchor pairs with the first _FAN_OUT peaks within _MAX_DT frames after it and
# _MAX_DF bins above or below it, looked for among its next _SEARCH peaks in time order.
# A hash packs the anchor's bin (8 bits), the bin step + _MAX_DF (7) and the frame step (6).
_FAN_OUT = 3
_MAX_DT = 63
_MAX_DF = 63
_SEARCH = 48
# The frame grid falls anywhere in the audio: a peak between two frames lands on either,
# changing its pairs' time steps. Frames are taken every half hop and split into two grids,
# so a fingerprint holds both versions of such landmarks (on the earlier frame's time).
_GRIDS = 2
# Hits bunched in a moment are a sound two recordings share (one synthesised syllable);
# a match agrees over a stretch. Slots of this many frames say where the query has sound.
_SLOT_FRAMES = 6
# Coverage is judged over at least this many slots (0.77 s), so that a query overlapping
# a recording for a moment (or holding a moment of sound) cannot match on that moment.
_MIN_SOUNDING_SLOTS = 8
# Candidates judged per lookup, so that a match ranks above near misses with more hits.
_CONSIDERED = 10
# Above this many (recording, offset) cells, offsets are counted by sorting instead.
_DENSE_CELLS = 1 << 21

DEFAULT_MIN_SCORE = 0.1
DEFAULT_MIN_HITS = 10
DEFAULT_MIN_COVERAGE = 0.4
# compare_audio works at the lower of the two rates, at most this: speech, and the seed
# conversion's defects, lie below 8 kHz.
COMPARE_RATE = 16000
# first_sound's default: above a quiet room's noise, below speech at -30 dB gain (whose
# louder moments reach -40 dBFS).
SOUND_DBFS = -50.0


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """Landmarks of a stretch of audio."""

    hashes: NDArray[np.uint32]
    # The anchor frame of each hash (FRAME_S each from the audio's start).
    times: NDArray[np.int32]
    seconds: float
    # Whole frames in the audio: times lie in [0, frames).
    frames: int


def _as_float(samples: ArrayLike) -> NDArray[np.float32]:
    array = np.asarray(samples).reshape(-1)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"audio needs real numbers, got an array of {array.dtype}")
    if array.dtype.kind == "f":
        return np.nan_to_num(array.astype(np.float32), nan=0.0, posinf=1.0, neginf=-1.0)
    return array.astype(np.float32) / np.float32(FULL_SCALE)


def _check_rate(sample_rate: int) -> None:
    if sample_rate <= 0:
        raise ValueError(f"the sample rate must be positive, got {sample_rate}")


def _spectrogram_db(audio: NDArray[np.float32]) -> NDArray[np.float32]:
    """Power in dB of frames every HOP / _GRIDS samples, bins _LOW_BIN.._HIGH_BIN."""
    if audio.size < N_FFT:
        audio = np.pad(audio, (0, N_FFT - audio.size))
    frames = np.lib.stride_tricks.sliding_window_view(audio, N_FFT)[:: HOP // _GRIDS]
    spectrum = np.fft.rfft(frames * np.hanning(N_FFT).astype(np.float32), axis=1)
    spectrum = spectrum[:, _LOW_BIN:_HIGH_BIN]
    power = np.square(spectrum.real) + np.square(spectrum.imag)
    decibels: NDArray[np.float32] = 10.0 * np.log10(np.maximum(power, np.float32(1e-12)))
    return decibels.astype(np.float32, copy=False)


def _max_filter(values: NDArray[np.float32], radius: int) -> NDArray[np.float32]:
    """The maximum of each row's values within `radius` of each point (along the last axis)."""
    length = 2 * radius + 1
    widths = [(0, 0)] * (values.ndim - 1) + [(radius, radius)]
    window = np.pad(values, widths, constant_values=-np.inf)
    # window[..., i] holds the maximum of [i, i + width); doubling width costs one pass.
    width = 1
    while 2 * width <= length:
        window = np.maximum(window[..., :-width], window[..., width:])
        width *= 2
    size = values.shape[-1]
    return np.maximum(window[..., :size], window[..., length - width : length - width + size])


def _peaks(spectrum: NDArray[np.float32]) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
    """Frames and bins of the spectrogram's peaks, in time order."""
    local = _max_filter(_max_filter(spectrum, _PEAK_BINS).T, _PEAK_FRAMES).T
    frames, bins = np.nonzero((spectrum == local) & (spectrum > _FLOOR_DB))
    return frames.astype(np.int32), bins.astype(np.int32)


def _landmarks(
    frames: NDArray[np.int32], bins: NDArray[np.int32]
) -> tuple[NDArray[np.uint32], NDArray[np.int32]]:
    """Hashes of each peak paired with the next peaks in its target zone, and their anchors."""
    count = frames.size
    if count < 2:
        return np.zeros(0, np.uint32), np.zeros(0, np.int32)
    anchors = np.arange(count)[:, None]
    targets = anchors + np.arange(1, min(_SEARCH, count - 1) + 1)[None, :]
    exists = targets < count
    targets = np.minimum(targets, count - 1)
    dt = frames[targets] - frames[anchors]
    df = bins[targets] - bins[anchors]
    valid = exists & (dt >= 1) & (dt <= _MAX_DT) & (np.abs(df) <= _MAX_DF)
    valid &= np.cumsum(valid, axis=1) <= _FAN_OUT
    rows, cols = np.nonzero(valid)
    hashes = (
        (bins[rows].astype(np.uint32) << np.uint32(13))
        | ((df[rows, cols] + _MAX_DF).astype(np.uint32) << np.uint32(6))
        | dt[rows, cols].astype(np.uint32)
    )
    return hashes, frames[rows]


def fingerprint(
    samples: ArrayLike, sample_rate: int, *, max_seconds: float | None = None
) -> Fingerprint:
    """Landmarks of mono int16 or float audio at any rate (of its first `max_seconds` only)."""
    _check_rate(sample_rate)
    audio = np.asarray(samples).reshape(-1)
    if max_seconds is not None:
        audio = audio[: max(0, math.ceil(max_seconds * sample_rate))]
    audio = _as_float(audio)
    seconds = audio.size / sample_rate
    spectrum = _spectrogram_db(np.asarray(resample(audio, sample_rate, SAMPLE_RATE), np.float32))
    pairs = []
    for grid in range(_GRIDS):
        hashes, anchors = _landmarks(*_peaks(spectrum[grid::_GRIDS]))
        pairs.append((hashes.astype(np.int64) << 32) | anchors.astype(np.int64))
    # Each landmark once, though both grids found it.
    unique = np.unique(np.concatenate(pairs))
    return Fingerprint(
        hashes=(unique >> 32).astype(np.uint32),
        times=(unique & 0xFFFFFFFF).astype(np.int32),
        seconds=seconds,
        frames=-(-spectrum.shape[0] // _GRIDS),
    )


@dataclass(frozen=True, slots=True)
class Candidate:
    """A recording sharing landmarks with a query, at the offset where most of them agree."""

    key: str
    # Hits over the query's landmarks that fall within the recording at this offset.
    score: float
    hits: int
    # recording time = query time + offset_s
    offset_s: float
    matched: bool
    # The share of the query's moments with sound (slots of _SLOT_FRAMES frames holding
    # landmarks, within the recording; at least _MIN_SOUNDING_SLOTS) where landmarks agree.
    coverage: float


def _best_offsets(
    recordings: NDArray[np.int64], offsets: NDArray[np.int64], count: int, span: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Each recording's offset (0 <= offset < span) with most votes, and its votes."""
    cells = recordings * span + offsets
    if count * span <= _DENSE_CELLS:
        votes = np.bincount(cells, minlength=count * span).reshape(count, span)
        best = votes.argmax(axis=1)
        return best, votes[np.arange(count), best]
    keys, votes = np.unique(cells, return_counts=True)
    owners = keys // span
    # Most votes first within each recording, the earliest offset among equals.
    order = np.lexsort((-votes, owners))
    firsts = order[np.flatnonzero(np.diff(owners[order], prepend=-1))]
    best = np.zeros(count, np.int64)
    most = np.zeros(count, np.int64)
    best[owners[firsts]] = keys[firsts] % span
    most[owners[firsts]] = votes[firsts]
    return best, most


class FingerprintIndex:
    """Recordings' fingerprints, looked up by a query's landmarks.

    A candidate is a match when at least `min_hits` of the query's landmarks agree on its
    best offset, they are at least `min_score` of the query's landmarks that fall within the
    recording, and they cover at least `min_coverage` of the query's moments with sound.

    `add` only queues a fingerprint; the next lookup sorts it in (the whole index again, so
    add recordings together). Lookups alone may run in several threads; an `add` and the
    lookup after it may not run alongside other lookups.
    """

    def __init__(
        self,
        *,
        min_score: float = DEFAULT_MIN_SCORE,
        min_hits: int = DEFAULT_MIN_HITS,
        min_coverage: float = DEFAULT_MIN_COVERAGE,
    ) -> None:
        self.min_score = min_score
        self.min_hits = min_hits
        self.min_coverage = min_coverage
        self._keys: list[str] = []
        self._known: set[str] = set()
        self._pending: list[Fingerprint] = []
        self._frames = np.zeros(0, np.int64)
        self._hashes = np.zeros(0, np.uint32)
        self._recordings = np.zeros(0, np.int32)
        self._times = np.zeros(0, np.int32)

    def add(self, key: str, fp: Fingerprint) -> None:
        """Index a recording's fingerprint under `key` (one fingerprint per key)."""
        if key in self._known:
            raise ValueError(f"a recording is already indexed under {key!r}")
        self._known.add(key)
        self._keys.append(key)
        self._pending.append(fp)

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def landmarks(self) -> int:
        """How many landmarks the index holds."""
        return self._hashes.size + sum(fp.hashes.size for fp in self._pending)

    def _merge_pending(self) -> None:
        added, self._pending = self._pending, []
        first = self._frames.size
        numbers = np.arange(first, first + len(added), dtype=np.int32)
        hashes = np.concatenate([self._hashes, *(fp.hashes for fp in added)])
        recordings = np.concatenate(
            [self._recordings, np.repeat(numbers, [fp.hashes.size for fp in added])]
        )
        times = np.concatenate([self._times, *(fp.times for fp in added)])
        order = np.argsort(hashes, kind="stable")
        self._hashes = hashes[order]
        self._recordings = recordings[order]
        self._times = times[order]
        self._frames = np.concatenate([self._frames, [fp.frames for fp in added]])

    def lookup(self, query: Fingerprint, limit: int = 3) -> list[Candidate]:
        """Up to `limit` recordings sharing landmarks with the query, best first (matches
        first, then by hits); [] when none shares one.

        The first candidate's `matched` says whether it is a match; when it is not, it is
        the near miss to report.
        """
        if self._pending:
            self._merge_pending()
        first = np.searchsorted(self._hashes, query.hashes, side="left")
        counts = np.searchsorted(self._hashes, query.hashes, side="right") - first
        total = int(counts.sum())
        if total == 0 or limit <= 0:
            return []
        # Every (query landmark, indexed landmark) pair sharing a hash, without a Python loop.
        which = np.repeat(np.arange(query.hashes.size), counts)
        positions = np.repeat(first - (np.cumsum(counts) - counts), counts) + np.arange(total)
        recordings = self._recordings[positions].astype(np.int64)
        # Offsets in frames from -query.frames, so that they start at 0.
        offsets = self._times[positions] - query.times[which] + np.int64(query.frames)
        span = query.frames + int(self._frames.max()) + 1
        best, votes = _best_offsets(recordings, offsets, self._frames.size, span)
        ranked = np.argsort(-votes, kind="stable")[: max(limit, _CONSIDERED)]
        agree = offsets == best[recordings]
        owners, agreeing = recordings[agree], which[agree]
        candidates = [
            self._judge(query, int(n), int(best[n]) - query.frames, agreeing[owners == n])
            for n in ranked
            if votes[n] > 0
        ]
        candidates.sort(key=lambda candidate: not candidate.matched)
        return candidates[:limit]

    def _judge(
        self, query: Fingerprint, number: int, offset: int, agreeing: NDArray[np.intp]
    ) -> Candidate:
        """A recording as a candidate, from the query landmarks agreeing on its `offset`."""
        shifted = query.times + offset
        inside = (shifted >= 0) & (shifted < self._frames[number])
        score = agreeing.size / max(int(np.count_nonzero(inside)), 1)
        sounding = np.unique(query.times[inside] // _SLOT_FRAMES).size
        covered = np.unique(query.times[agreeing] // _SLOT_FRAMES).size
        coverage = covered / max(sounding, _MIN_SOUNDING_SLOTS)
        return Candidate(
            key=self._keys[number],
            score=score,
            hits=int(agreeing.size),
            offset_s=offset * FRAME_S,
            matched=(
                agreeing.size >= self.min_hits
                and score >= self.min_score
                and coverage >= self.min_coverage
            ),
            coverage=coverage,
        )


@dataclass(frozen=True, slots=True)
class AudioComparison:
    """Client audio measured against a recording, aligned at client t <-> recording t + offset_s.

    `level_db` is NaN when both sides are silent on the overlap, infinite when one is;
    `correlation` is 0 when there is no overlap.
    """

    offset_s: float
    # Client RMS over recording RMS on the overlap.
    level_db: float
    # |normalised cross-correlation| on the overlap at offset_s, 0..1.
    correlation: float
    overlap_s: float


def _overlap(client_size: int, recording_size: int, lag: int) -> tuple[int, int]:
    """The client samples [start, end) that have a recording sample `lag` later."""
    start = max(0, -lag)
    return start, max(start, min(client_size, recording_size - lag))


def _best_lag(
    client: NDArray[np.float32], recording: NDArray[np.float32], lag: int, reach: int
) -> int:
    """The lag within `lag` +- `reach` samples where the two correlate most (either sign)."""
    # window[j] = recording[lag - reach + j], zero beyond the recording's ends.
    window = np.zeros(client.size + 2 * reach, np.float32)
    first = lag - reach
    start, end = max(0, first), min(recording.size, first + window.size)
    if start < end:
        window[start - first : end - first] = recording[start:end]
    # A circular correlation as long as the window wraps no client sample within the reach.
    size = 1 << math.ceil(math.log2(window.size))
    spectrum = np.fft.rfft(window, size) * np.conj(np.fft.rfft(client, size))
    correlation = np.fft.irfft(spectrum, size)[: 2 * reach + 1]
    return first + int(np.argmax(np.abs(correlation)))


def compare_audio(
    client: ArrayLike,
    client_rate: int,
    recording: ArrayLike,
    recording_rate: int,
    offset_s: float,
    *,
    search_s: float = 0.05,
) -> AudioComparison:
    """Refine `offset_s` within +-`search_s` by cross-correlation, then measure level and
    correlation on the overlap, at the lower of the two rates (at most 16 kHz)."""
    _check_rate(client_rate)
    _check_rate(recording_rate)
    rate = min(client_rate, recording_rate, COMPARE_RATE)
    near = _as_float(client)
    # Only the stretch of the recording the client can overlap, so a long recording costs
    # no more than the client's audio (with a margin for the resampler's edges). It starts
    # on a sample of the whole recording at `rate`, so the lags keep that grid.
    margin = search_s + 0.01
    grid = recording_rate // math.gcd(recording_rate, rate)
    cut = max(0, math.floor((offset_s - margin) * recording_rate / grid) * grid)
    end = math.ceil((offset_s + near.size / client_rate + margin) * recording_rate)
    far = _as_float(np.asarray(recording).reshape(-1)[cut : max(cut, end)])
    ours = np.asarray(resample(near, client_rate, rate), np.float32)
    theirs = np.asarray(resample(far, recording_rate, rate), np.float32)
    start_s = cut / recording_rate
    lag = _best_lag(ours, theirs, round((offset_s - start_s) * rate), round(search_s * rate))
    first, last = _overlap(ours.size, theirs.size, lag)
    # Sums of a million squares want double precision.
    ours = ours[first:last].astype(np.float64)
    theirs = theirs[first + lag : last + lag].astype(np.float64)
    own, other = float(np.dot(ours, ours)), float(np.dot(theirs, theirs))
    with np.errstate(divide="ignore", invalid="ignore"):
        level = float(10.0 * np.log10(np.float64(own) / np.float64(other)))
    product = math.sqrt(own * other)
    return AudioComparison(
        offset_s=start_s + lag / rate,
        level_db=level,
        correlation=abs(float(np.dot(ours, theirs))) / product if product > 0 else 0.0,
        overlap_s=ours.size / rate,
    )


def first_sound(
    samples: ArrayLike, sample_rate: int, *, threshold_dbfs: float = SOUND_DBFS
) -> int | None:
    """The first sample of the first 10 ms block whose RMS reaches `threshold_dbfs`, if any."""
    _check_rate(sample_rate)
    audio = _as_float(samples).astype(np.float64)
    block = max(1, sample_rate // 100)
    count = audio.size // block
    power = np.mean(np.square(audio[: count * block].reshape(count, block)), axis=1)
    loud = np.flatnonzero(power >= 10.0 ** (threshold_dbfs / 10.0))
    return int(loud[0]) * block if loud.size else None
