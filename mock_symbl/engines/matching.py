"""The `matching` engine: hear a client's first seconds, then answer as its recording.

A connection's audio is held until it has `MATCH_WINDOW_S` of sound (or `MAX_WAIT_S` of
anything), then looked up in the library's fingerprint index. A match answers as that
recording's cassette, placed at the offset the audio was found at; the held audio then
releases what the recording had received by that point. No match: a fallback engine
answers if the mock was told to use one, otherwise the client is told which recording
came closest. Either way the first output is a `Verdict` the session keeps for the journal.
A connection whose id names exactly one recording is answered by it at once; its audio is
still compared with the recording's, for the journal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from harness.audio.fingerprint import (
    MATCH_WINDOW_S,
    Candidate,
    compare_audio,
    fingerprint,
    first_sound,
)
from harness.protocol import StartRequest
from mock_symbl.engines.base import (
    Bindable,
    Nearest,
    Pace,
    Paced,
    Recognised,
    Recognizer,
    Verdict,
)
from mock_symbl.engines.cassette import CassetteRecognizer
from mock_symbl.engines.library import Recording, RecordingLibrary

# Listen no longer than this for enough sound (a client may open with a long silence).
MAX_WAIT_S = 8.0
# A first look that finds nothing listens on until this much sound before giving up.
SECOND_LOOK_S = 5.0


@dataclass
class HeldAudio:
    """A connection's first audio, held until there is enough sound to look up."""

    window_s: float = MATCH_WINDOW_S
    max_wait_s: float = MAX_WAIT_S
    rate: int = 0
    chunks: list[NDArray[np.int16]] = field(default_factory=list)
    samples: int = 0
    sound_from: int | None = None
    rate_changed: bool = False

    def add(self, samples: NDArray[np.int16], rate: int) -> bool:
        """Hold more audio; False, holding nothing, when it comes at another rate than the
        audio held (that ends the holding: a lookup needs one rate)."""
        if self.rate and rate != self.rate:
            self.rate_changed = True
            return False
        self.rate = rate
        if self.sound_from is None:
            found = first_sound(samples, rate)
            if found is not None:
                self.sound_from = self.samples + found
        self.chunks.append(samples)
        self.samples += samples.size
        return True

    @property
    def ready(self) -> bool:
        """Whether the audio held is enough to decide on."""
        if self.rate_changed:
            return True
        if not self.rate:
            return False
        heard = self.samples - (self.sound_from if self.sound_from is not None else self.samples)
        return heard >= self.window_s * self.rate or self.samples >= self.max_wait_s * self.rate

    def audio(self) -> NDArray[np.int16]:
        """Everything held, in order."""
        return np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int16)

    def query(self) -> tuple[NDArray[np.int16], float]:
        """The audio to look up, from its first sound, and where that is (seconds in)."""
        start = self.sound_from or 0
        return self.audio()[start:], start / self.rate if self.rate else 0.0


@dataclass(frozen=True)
class Fallback:
    """The engine that answers audio no recording matches, and its name for the journal."""

    name: str
    build: Callable[[], Recognizer]


class MatchingRecognizer:
    """Answers a connection as the recording its audio (or its connection id) leads to."""

    def __init__(
        self,
        library: RecordingLibrary,
        connection_id: str,
        request: StartRequest,
        *,
        named: Recording | None = None,
        fallback: Fallback | None = None,
    ) -> None:
        self._library = library
        self._connection_id = connection_id
        self._request = request
        self._fallback = fallback
        self._held: HeldAudio | None = HeldAudio()
        self._inner: Recognizer | None = None
        self._named = named
        self._bound: tuple[str, datetime, Callable[[], str]] | None = None
        self._pace = Pace.NORMAL
        if named is not None:
            self._inner = CassetteRecognizer(library.log_of(named.folder))

    @property
    def cpu_bound(self) -> bool:
        """Looking audio up is numeric work; after that, as the engine answering."""
        return self._held is not None or bool(getattr(self._inner, "cpu_bound", False))

    def bind(self, conversation_id: str, started: datetime, new_id: Callable[[], str]) -> None:
        """Keep the conversation for whichever engine ends up answering."""
        self._bound = (conversation_id, started, new_id)
        if isinstance(self._inner, Bindable):
            self._inner.bind(conversation_id, started, new_id)

    def set_pace(self, pace: Pace) -> None:
        """Pass the pace on to an engine that can use it."""
        self._pace = pace
        if isinstance(self._inner, Paced):
            self._inner.set_pace(pace)

    def skim(self, samples: NDArray[np.int16], sample_rate: int) -> Sequence[Recognised]:
        """Skimmed audio is still heard for matching (cheap); then as the engine skims."""
        if self._held is None and isinstance(self._inner, Paced):
            return self._inner.skim(samples, sample_rate)
        return self.accept(samples, sample_rate)

    def accept(self, samples: NDArray[np.int16], sample_rate: int) -> Sequence[Recognised]:
        """Hold audio until it can be looked up; then answer as the chosen engine."""
        held = self._held
        if held is None:
            return self._inner.accept(samples, sample_rate) if self._inner is not None else []
        held_it = held.add(samples, sample_rate)
        if self._named is not None:
            out: list[Recognised] = []
            if held.ready:
                out.append(self._judge_named(held))
            assert self._inner is not None
            return [*out, *self._inner.accept(samples, sample_rate)]
        if not held.ready:
            return []
        out = self._decide(held, final=False)
        if not held_it and self._inner is not None:
            # Audio at a new rate ended the holding: it goes to the engine that answers.
            out = [*out, *self._inner.accept(samples, sample_rate)]
        return out

    def finish(self) -> Sequence[Recognised]:
        """The audio ended: decide with what was heard, then let the engine finish."""
        out: list[Recognised] = []
        held = self._held
        if held is not None and held.samples:
            if self._named is not None:
                out.append(self._judge_named(held))
            else:
                out.extend(self._decide(held, final=True))
        self._held = None
        if self._inner is not None:
            out.extend(self._inner.finish())
        return out

    def _judge_named(self, held: HeldAudio) -> Verdict:
        """The verdict for a recording chosen by name: how the audio compares with it."""
        self._held = None
        named = self._named
        assert named is not None
        audio = held.audio()
        candidates = self._library.lookup(fingerprint(audio, held.rate))
        mine = next((c for c in candidates if c.key == named.key), None)
        assert isinstance(self._inner, CassetteRecognizer)
        return Verdict(
            recording=named.key,
            by="connection_id",
            rewrite=self._inner.rewrite,
            score=mine.score if mine else 0.0,
            offset_s=0.0,
            nearest=_nearest(candidates[0]) if candidates else None,
            audio=self._compare(named, audio, held.rate, 0.0),
        )

    def _decide(self, held: HeldAudio, *, final: bool) -> list[Recognised]:
        query, start_s = held.query()
        best, nearest = self._library.choose(
            fingerprint(query, held.rate), self._connection_id, self._request
        )
        if best is None and not final and held.window_s < SECOND_LOOK_S:
            # Two seconds may hold little speech (a pause, a noisy start): listen longer.
            held.window_s = SECOND_LOOK_S
            if not held.ready:
                return []
            return self._decide(held, final=True)
        self._held = None
        audio = held.audio()
        if best is not None:
            recording = self._library.get(best.key)
            # Where the stream (not the query) starts in the recording.
            offset_s = best.offset_s - start_s
            cassette = CassetteRecognizer(self._library.log_of(recording.folder), offset_s)
            self._use(cassette)
            verdict = Verdict(
                recording=best.key,
                by="audio",
                score=best.score,
                offset_s=offset_s,
                nearest=_nearest(best),
                audio=self._compare(recording, audio, held.rate, offset_s),
                rewrite=cassette.rewrite,
            )
        elif self._fallback is not None:
            verdict = Verdict(
                recording=None,
                by="",
                score=nearest.score if nearest else 0.0,
                offset_s=0.0,
                nearest=_nearest(nearest) if nearest else None,
                fallback=self._fallback.name,
            )
            self._use(self._fallback.build())
        else:
            return [
                Verdict(
                    recording=None,
                    by="",
                    score=nearest.score if nearest else 0.0,
                    offset_s=0.0,
                    nearest=_nearest(nearest) if nearest else None,
                    refusal=self._refusal(nearest, held),
                )
            ]
        assert self._inner is not None
        return [verdict, *self._inner.accept(audio, held.rate)]

    def _use(self, engine: Recognizer) -> None:
        self._inner = engine
        if self._bound is not None and isinstance(engine, Bindable):
            engine.bind(*self._bound)
        if isinstance(engine, Paced):
            engine.set_pace(self._pace)

    def _compare(
        self, recording: Recording, audio: NDArray[np.int16], rate: int, offset_s: float
    ) -> dict[str, float] | None:
        recorded = self._library.audio(recording)
        if recorded is None or not audio.size:
            return None
        comparison = compare_audio(audio, rate, recorded[0], recorded[1], offset_s)
        return {
            "offsetS": round(comparison.offset_s, 4),
            "levelDb": round(comparison.level_db, 2),
            "correlation": round(comparison.correlation, 4),
            "overlapS": round(comparison.overlap_s, 3),
        }

    def _refusal(self, nearest: Candidate | None, held: HeldAudio) -> str:
        heard = held.samples / held.rate if held.rate else 0.0
        loaded = len(self._library)
        if nearest is None:
            names = [recording.key for recording in self._library][:3]
            more = ", …" if loaded > len(names) else ""
            listed = f" ({', '.join(names)}{more})" if names else ""
            return (
                f"No recording matches this audio ({heard:.1f} s heard, {loaded} recordings "
                f"loaded{listed}): none shares any sound with it."
            )
        return (
            f"No recording matches this audio ({heard:.1f} s heard, {loaded} recordings "
            f"loaded): the closest is {nearest.key} (score {nearest.score:.2f}, "
            f"{nearest.hits} landmarks at {nearest.offset_s:+.2f} s; "
            f"a match needs {self._library.index.min_score:.2f})."
        )


def _nearest(candidate: Candidate) -> Nearest:
    return Nearest(candidate.key, candidate.score, candidate.offset_s)
