"""The `asr` engine: offline speech recognition with pocketsphinx, streaming.

Audio is resampled to 16 kHz as it arrives (libsoxr's streaming resampler) and cut into
10 ms frames for an energy voice-activity detector: a phrase opens when a frame rises
SPEECH_ABOVE_FLOOR_DB over the tracked noise floor, and ends after PHRASE_END_SILENCE_S of
frames below it. While a phrase is open, pocketsphinx decodes it incrementally; its
hypothesis goes out as a partial at least every PARTIAL_EVERY_S, and the utterance's
word segmentation gives the final words and their times.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any

import numpy as np
import soxr
from numpy.typing import NDArray

from mock_symbl.engines.base import PARTIAL_EVERY_S, PHRASE_END_SILENCE_S, Hypothesis, Word

RATE = 16000
FRAME = RATE // 100  # 10 ms, pocketsphinx's own frame rate
PRE_ROLL_FRAMES = 20  # decode 200 ms before the detected onset, so word starts are kept
SPEECH_ABOVE_FLOOR_DB = 15.0
SPEECH_MIN_DBFS = -55.0
_FILLERS = re.compile(r"^(<.*>|\[.*\])$")


def _frame_dbfs(frame: NDArray[np.int16]) -> float:
    rms = float(np.sqrt(np.mean(frame.astype(np.float64) ** 2)))
    return float(20 * np.log10(max(rms, 1e-3) / 32767))


class AsrRecognizer:
    """pocketsphinx recognition of one audio stream, phrase by phrase."""

    cpu_bound = True

    def __init__(self) -> None:
        self._decoder: Any = None
        self._resampler: soxr.ResampleStream | None = None
        self._rate = 0
        self._pending = np.zeros(0, dtype=np.int16)
        self._pre_roll: deque[NDArray[np.int16]] = deque(maxlen=PRE_ROLL_FRAMES)
        self._frames = 0  # 10 ms frames seen since the stream began
        self._floor_db = -70.0
        self._in_phrase = False
        self._phrase_start = 0  # in frames
        self._silent_frames = 0
        self._last_partial = 0

    @property
    def decoder(self) -> Any:
        """The pocketsphinx decoder, created on first use (loading the model takes ~0.2 s)."""
        if self._decoder is None:
            from pocketsphinx import Decoder  # noqa: PLC0415

            self._decoder = Decoder(samprate=RATE, loglevel="FATAL")
        return self._decoder

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

    def finish(self) -> list[Hypothesis]:
        """Decode what is buffered and finalise the open phrase."""
        self._flush_resampler()
        out = self._drain()
        if self._in_phrase:
            if self._pending.size:
                self.decoder.process_raw(self._pending.tobytes(), False, False)
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

    def _frame(self, frame: NDArray[np.int16]) -> list[Hypothesis]:
        self._frames += 1
        level = _frame_dbfs(frame)
        speech = level > max(self._floor_db + SPEECH_ABOVE_FLOOR_DB, SPEECH_MIN_DBFS)
        if not self._in_phrase:
            # The floor follows quiet frames quickly and loud ones slowly.
            rate = 0.1 if level < self._floor_db else 0.002
            self._floor_db += rate * (level - self._floor_db)
            self._pre_roll.append(frame)
            if speech:
                self._open_phrase()
            return []
        self.decoder.process_raw(frame.tobytes(), False, False)
        self._silent_frames = 0 if speech else self._silent_frames + 1
        if self._silent_frames * FRAME >= PHRASE_END_SILENCE_S * RATE:
            return self._close_phrase()
        if (self._frames - self._last_partial) * FRAME >= PARTIAL_EVERY_S * RATE:
            self._last_partial = self._frames
            words = self._words()
            if words:
                return [Hypothesis(words, is_final=False)]
        return []

    def _open_phrase(self) -> None:
        self._in_phrase = True
        self._silent_frames = 0
        self._phrase_start = self._frames - len(self._pre_roll)
        self._last_partial = self._frames
        self.decoder.start_utt()
        self.decoder.process_raw(np.concatenate(list(self._pre_roll)).tobytes(), False, False)
        self._pre_roll.clear()

    def _words(self) -> tuple[Word, ...]:
        if self.decoder.hyp() is None:
            return ()
        offset = self._phrase_start / 100
        return tuple(
            Word(
                word=re.sub(r"\(\d+\)$", "", segment.word),
                start=round(offset + segment.start_frame / 100, 3),
                end=round(offset + (segment.end_frame + 1) / 100, 3),
            )
            for segment in self.decoder.seg()
            if not _FILLERS.match(segment.word)
        )

    def _close_phrase(self) -> list[Hypothesis]:
        self.decoder.end_utt()
        self._in_phrase = False
        words = self._words()
        return [Hypothesis(words, is_final=True)] if words else []
