"""The `asr` engine: offline speech recognition with pocketsphinx, streaming.

Audio is resampled to 16 kHz as it arrives (libsoxr's streaming resampler) and cut into
10 ms frames for the phrase detector (`mock_symbl.engines.phrases`: an energy detector
over an adaptive noise floor that splits at sentence pauses). While a phrase is open,
pocketsphinx decodes it incrementally; its hypothesis goes out as a partial at least
every PARTIAL_EVERY_S, and the utterance's word segmentation gives the final words and
their times.

A pocketsphinx decoder holds ~90 MB, so decoders are shared by every session of the
process (`DecoderPool`): a phrase holds one of FULL_DECODERS full decoders while it is
open. A phrase that opens while recognition is behind (`Pace.BEHIND`), or while every
full decoder is busy, is buffered and decoded whole when it ends by one of CHEAP_DECODERS
cheap decoders (narrower beams, every other frame: ~10x less CPU, more word errors), with
no partials. The engine's memory is thus bounded by FULL_DECODERS + CHEAP_DECODERS
decoders and the open phrases' audio (phrases.MAX_PHRASE_S each), whatever the number
of sessions.
"""

from __future__ import annotations

import contextlib
import re
import threading
import weakref
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import soxr
from numpy.typing import NDArray

from mock_symbl.engines.base import PARTIAL_EVERY_S, Hypothesis, Pace, Word
from mock_symbl.engines.phrases import FRAME, RATE, Edge, PhraseDetector

PRE_ROLL_FRAMES = 20  # decode 200 ms before the detected onset, so word starts are kept
FULL_DECODERS = 4
CHEAP_DECODERS = 2
# Measured on the fixtures: real-time factor 0.26-0.47 -> 0.03-0.05; WER 0.66-0.84 -> 0.85-0.92.
CHEAP_DECODE: dict[str, float | int] = {
    "beam": 1e-30,
    "wbeam": 1e-20,
    "pbeam": 1e-30,
    "maxhmmpf": 2000,
    "ds": 2,
    "topn": 2,
}
_FILLERS = re.compile(r"^(<.*>|\[.*\])$")


@dataclass(slots=True)
class Decoder:
    """A pocketsphinx decoder and its initial cepstral mean.

    The decoder adapts its cepstral mean to the voice it hears. A stream carries its own
    from phrase to phrase, so a phrase decodes the same whichever decoder (and whichever
    sessions before) it gets.
    """

    ps: Any
    cmn: str

    @classmethod
    def load(cls, **options: float | int) -> Decoder:
        """Load the bundled model (~0.5 s, ~90 MB)."""
        from pocketsphinx import Decoder as PsDecoder  # noqa: PLC0415

        ps = PsDecoder(samprate=RATE, loglevel="FATAL", **options)
        return cls(ps, ps.get_cmn(False))

    def start(self, audio: NDArray[np.int16], cmn: str | None) -> None:
        """Begin an utterance with `audio`, from the stream's cepstral mean (None: none yet)."""
        self.ps.set_cmn(cmn or self.cmn)
        self.ps.start_utt()
        self.ps.process_raw(audio.tobytes(), False, False)

    def words(self, offset_s: float) -> tuple[Word, ...]:
        """The current hypothesis' words, timed from `offset_s`."""
        if self.ps.hyp() is None:
            return ()
        return tuple(
            Word(
                word=re.sub(r"\(\d+\)$", "", segment.word),
                start=round(offset_s + segment.start_frame / 100, 3),
                end=round(offset_s + (segment.end_frame + 1) / 100, 3),
            )
            for segment in self.ps.seg()
            if not _FILLERS.match(segment.word)
        )


class DecoderPool:
    """The process's decoders: `full` ones lent for a phrase, `cheap` ones lent per call.

    A full decoder is only ever taken without waiting, so a session never waits for
    another's phrase to end; a cheap one is held for one whole-phrase decode at a time,
    so waiting for one always ends.
    """

    def __init__(self, full: int, cheap: int = CHEAP_DECODERS) -> None:
        self._capacity = full
        self._free: list[Decoder] = []
        self._loaded = 0
        self._lock = threading.Lock()
        self._cheap_free: list[Decoder] = []
        self._cheap_loaded = 0
        self._cheap_capacity = cheap
        self._cheap_ready = threading.Condition()

    def take(self) -> Decoder | None:
        """A full decoder, or None if all are lent."""
        with self._lock:
            if self._free:
                return self._free.pop()
            if self._loaded >= self._capacity:
                return None
            self._loaded += 1
        try:
            return Decoder.load()
        except BaseException:
            with self._lock:
                self._loaded -= 1
            raise

    def give_back(self, decoder: Decoder) -> None:
        """Return a full decoder taken with `take()`."""
        with self._lock:
            self._free.append(decoder)

    @contextmanager
    def cheap(self, *, wait: bool = True) -> Iterator[Decoder | None]:
        """A cheap decoder for the block; None if all are lent and `wait` is False."""
        decoder, to_load = None, False
        with self._cheap_ready:
            while wait and not self._cheap_free and self._cheap_loaded >= self._cheap_capacity:
                self._cheap_ready.wait()
            if self._cheap_free:
                decoder = self._cheap_free.pop()
            elif self._cheap_loaded < self._cheap_capacity:
                self._cheap_loaded += 1
                to_load = True
        if decoder is None and not to_load:
            yield None
            return
        try:
            if decoder is None:
                decoder = Decoder.load(**CHEAP_DECODE)
        except BaseException:
            with self._cheap_ready:
                self._cheap_loaded -= 1
                self._cheap_ready.notify()
            raise
        try:
            yield decoder
        finally:
            with contextlib.suppress(Exception):
                # A decode that failed midway must not leave the decoder inside an utterance.
                decoder.ps.end_utt()
            with self._cheap_ready:
                self._cheap_free.append(decoder)
                self._cheap_ready.notify()


POOL = DecoderPool(FULL_DECODERS)


def _give_back_held(pool: DecoderPool, held: list[Decoder]) -> None:
    """A recognizer dropped with a phrase open (its session failed) returns its decoder."""
    while held:
        decoder = held.pop()
        decoder.ps.end_utt()
        pool.give_back(decoder)


class AsrRecognizer:
    """pocketsphinx recognition of one audio stream, phrase by phrase."""

    cpu_bound = True

    def __init__(self, pool: DecoderPool = POOL) -> None:
        self._pool = pool
        # The full decoder of the open phrase, if it has one (a list for the finalizer).
        self._held: list[Decoder] = []
        weakref.finalize(self, _give_back_held, pool, self._held)
        self._buffered: list[NDArray[np.int16]] = []  # the open phrase, when it has none
        self._pace = Pace.NORMAL
        self._cmn: str | None = None  # this stream's cepstral mean, as its last phrase left it
        self._resampler: soxr.ResampleStream | None = None
        self._rate = 0
        self._pending = np.zeros(0, dtype=np.int16)
        self._pre_roll: deque[NDArray[np.int16]] = deque(maxlen=PRE_ROLL_FRAMES)
        self._frames = 0  # 10 ms frames seen since the stream began
        self._skimmed = 0.0  # 16 kHz samples skimmed but not yet counted as frames
        self._detector = PhraseDetector()
        self._in_phrase = False
        self._phrase_start = 0  # in frames
        self._last_partial = 0

    def set_pace(self, pace: Pace) -> None:
        """How much work to do on what follows (`Pace.SKIM` is `skim()`'s business)."""
        self._pace = pace

    def accept(self, samples: NDArray[np.int16], sample_rate: int) -> list[Hypothesis]:
        """Resample, detect speech and decode; return new partials and finals."""
        if sample_rate != self._rate:
            self._flush_resampler()
            self._rate = sample_rate
            if sample_rate != RATE:
                self._resampler = soxr.ResampleStream(
                    sample_rate, RATE, 1, dtype="int16", quality="HQ"
                )
        audio = samples if self._resampler is None else self._resampler.resample_chunk(samples)
        self._pending = np.concatenate([self._pending, np.asarray(audio, dtype=np.int16)])
        return self._drain()

    def skim(self, samples: NDArray[np.int16], sample_rate: int) -> list[Hypothesis]:
        """Count the samples without recognising them; finalise the open phrase first
        (without its words if every cheap decoder is busy: skimming never waits)."""
        out = self._close_phrase(wait=False) if self._in_phrase else []
        self._flush_resampler()
        self._skimmed += self._pending.size + samples.size * RATE / sample_rate
        self._pending = np.zeros(0, dtype=np.int16)
        self._resampler = None
        self._rate = 0
        self._pre_roll.clear()
        whole = int(self._skimmed) // FRAME
        self._frames += whole
        self._skimmed -= whole * FRAME
        return out

    def finish(self) -> list[Hypothesis]:
        """Decode what is buffered and finalise the open phrase."""
        self._flush_resampler()
        out = self._drain()
        if self._in_phrase:
            if self._pending.size:
                self._feed(self._pending)
            out += self._close_phrase()
        self._pending = np.zeros(0, dtype=np.int16)
        return out

    def _flush_resampler(self) -> None:
        if self._resampler is not None:
            tail = self._resampler.resample_chunk(np.zeros(0, dtype=np.int16), last=True)
            self._pending = np.concatenate([self._pending, np.asarray(tail, dtype=np.int16)])
            self._resampler = None

    def _drain(self) -> list[Hypothesis]:
        out: list[Hypothesis] = []
        usable = self._pending.size - self._pending.size % FRAME
        for start in range(0, usable, FRAME):
            out.extend(self._frame(self._pending[start : start + FRAME]))
        self._pending = self._pending[usable:]
        return out

    def _feed(self, audio: NDArray[np.int16]) -> None:
        if self._held:
            self._held[0].ps.process_raw(audio.tobytes(), False, False)
        else:
            self._buffered.append(audio.copy())

    def _frame(self, frame: NDArray[np.int16]) -> list[Hypothesis]:
        self._frames += 1
        edge = self._detector.push(frame)
        if not self._in_phrase:
            self._pre_roll.append(frame)
            if edge is Edge.OPEN:
                self._open_phrase()
            return []
        self._feed(frame)
        if edge is Edge.CLOSE:
            return self._close_phrase()
        if (
            self._held
            and self._pace is Pace.NORMAL
            and (self._frames - self._last_partial) * FRAME >= PARTIAL_EVERY_S * RATE
        ):
            self._last_partial = self._frames
            words = self._held[0].words(self._phrase_start / 100)
            if words:
                return [Hypothesis(words, is_final=False)]
        return []

    def _open_phrase(self) -> None:
        self._in_phrase = True
        self._phrase_start = self._frames - len(self._pre_roll)
        self._last_partial = self._frames
        onset = np.concatenate(list(self._pre_roll))
        self._pre_roll.clear()
        decoder = self._pool.take() if self._pace is Pace.NORMAL else None
        if decoder is None:
            self._buffered = [onset]
            return
        self._held.append(decoder)
        decoder.start(onset, self._cmn)

    def _close_phrase(self, *, wait: bool = True, final: bool = True) -> list[Hypothesis]:
        """End the open phrase; its final unless `final` is false (a subclass that decodes
        the phrase's final itself: a buffered phrase is then not decoded at all)."""
        self._in_phrase = False
        self._detector.end_phrase()
        offset = self._phrase_start / 100
        words: tuple[Word, ...] = ()
        if self._held:
            decoder = self._held[0]
            try:
                decoder.ps.end_utt()
                if final:
                    words = decoder.words(offset)
                self._cmn = decoder.ps.get_cmn(False)
            finally:
                self._held.clear()
                self._pool.give_back(decoder)
        else:
            buffered, self._buffered = self._buffered, []
            if final:
                words = self._decode_cheaply(buffered, offset, wait=wait)
        return [Hypothesis(words, is_final=True)] if words else []

    def _decode_cheaply(
        self, buffered: list[NDArray[np.int16]], offset: float, *, wait: bool
    ) -> tuple[Word, ...]:
        """A buffered phrase's words, by a cheap decoder (none if none is free and not `wait`)."""
        with self._pool.cheap(wait=wait) as cheap:
            if cheap is None:
                return ()
            cheap.start(np.concatenate(buffered), self._cmn)
            cheap.ps.end_utt()
            self._cmn = cheap.ps.get_cmn(False)
            return cheap.words(offset)
