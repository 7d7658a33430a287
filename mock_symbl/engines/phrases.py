"""Where phrases begin and end in 16 kHz audio: a small energy voice-activity detector.

Pure, frame by frame: `PhraseDetector.push` takes each 10 ms frame and says whether a
phrase opens or closes at it. A frame is loud when its level is ONSET_ABOVE_FLOOR_DB over
the tracked noise floor; ONSET_FRAMES loud frames in a row open a phrase. Inside one, a
frame is quiet when it falls to within PAUSE_ABOVE_FLOOR_DB of the floor (lower than the
onset threshold: hysteresis, so a word fading into the pause is not cut), and PAUSE_S of
quiet frames in a row close the phrase, or MAX_PHRASE_S of phrase.

Levels are taken after pre-emphasis. The noise floor is tracked on every frame, in
phrases too: it sinks toward quieter frames within about half a second and rises slowly,
so it settles on the background between words whatever its level, and follows a room
that gets louder within seconds (a floor frozen while a phrase is open lets a noisy
stream open one phrase and keep it open to MAX_PHRASE_S).
Benchmarked by benchmarks/bench_phrases.py against sentence ends.
"""

from __future__ import annotations

import enum

import numpy as np
from numpy.typing import NDArray

RATE = 16000
FRAME = RATE // 100  # 10 ms, pocketsphinx's own frame rate
# The level is taken after pre-emphasis (+6 dB per octave, as pocketsphinx's own front
# end does): hum, rumble and traffic noise sit low in the spectrum, speech's consonants
# high, so the pauses between sentences stand out of low-frequency noise.
PRE_EMPHASIS = 0.97
# Speech's voiced frames stand 20-40 dB over a quiet room and still 10-20 dB over the
# loud noise of a 10 dB SNR recording; steady noise rarely strays 10 dB over its minima.
ONSET_ABOVE_FLOOR_DB = 10.0
# Three 10 ms frames: a vowel lasts 50 ms or more, a click or a keyboard tap less.
ONSET_FRAMES = 3
# Within a phrase, anything this far over the floor still counts as speech: a word's end
# decays through the band between this and the onset threshold before the pause.
# Measured: 4 dB rather than 6 dB keeps noise bursts from breaking up a pause (precision
# 0.92 against 0.87 at 10 dB SNR) for one point of recall.
PAUSE_ABOVE_FLOOR_DB = 4.0
# Sentence pauses of ordinary speech last 250-700 ms; pauses inside a sentence (a comma,
# a breath, a stop consonant) less. espeak-ng's quiet at a comma measures 200-250 ms at
# 140 words a minute, at a sentence end 430-480 ms, but only 230-280 ms at 200 words a
# minute: no one length parts them all. On benchmarks/bench_phrases.py 250 ms split slow
# speech at commas more often (precision 0.84-0.87), 300 ms missed fast speech's
# sentence ends (recall 0.75); 270 ms balances the two.
PAUSE_S = 0.27
# Nothing quieter is speech, whatever the floor (digital silence puts it at -150): a
# quiet talker 25 dB under a normal level still measures over -70 dBFS pre-emphasised,
# while -60 cut such a talker's sentences into pieces (1.4 phrases per sentence).
SPEECH_MIN_DBFS = -70.0
# A quieter frame pulls the floor 2% of the way down (a time constant of 0.5 s, so the
# floor settles near the noise's average level rather than on its quietest frames, which
# noise keeps crossing: 0.2 gave precision 0.82 at 10 dB SNR); a louder one lifts it by at
# most FLOOR_RISE_DB, 3 dB/s: a sentence's few seconds lift it a few dB, a louder room
# is followed within seconds.
FLOOR_FALL = 0.02
FLOOR_RISE_DB = 0.03
FLOOR_MIN_DBFS = SPEECH_MIN_DBFS - ONSET_ABOVE_FLOOR_DB
# A longer phrase is cut: pocketsphinx slows on long utterances, and a buffered phrase
# must not grow without end on audio that never falls silent.
MAX_PHRASE_S = 20.0


class Edge(enum.Enum):
    """What a frame does to the phrase."""

    NONE = enum.auto()
    OPEN = enum.auto()
    CLOSE = enum.auto()


def frame_dbfs(frame: NDArray[np.int16]) -> float:
    """The frame's pre-emphasised RMS level in dB relative to full scale (about -150 for
    digital zero)."""
    samples = frame.astype(np.float64)
    emphasised = samples[1:] - PRE_EMPHASIS * samples[:-1]
    rms = float(np.sqrt(np.mean(emphasised**2)))
    return float(20 * np.log10(max(rms, 1e-3) / 32767))


class PhraseDetector:
    """Phrase edges of one stream of 10 ms frames at 16 kHz."""

    def __init__(self) -> None:
        self.in_phrase = False
        # Seconds from the first frame to the end of the last loud frame of the phrase.
        self.last_speech_s = 0.0
        self._floor_db: float | None = None
        self._frames = 0
        self._loud_run = 0
        self._quiet_run = 0
        self._phrase_frames = 0

    def push(self, frame: NDArray[np.int16]) -> Edge:
        """Take the next frame; OPEN on the frame that confirms an onset (the phrase began
        ONSET_FRAMES - 1 frames earlier), CLOSE at the end of its closing pause."""
        self._frames += 1
        level = frame_dbfs(frame)
        # The floor never sinks below the point where it stops mattering (thresholds over
        # SPEECH_MIN_DBFS), so noise that follows digital silence is caught up with soon.
        floor = max(level, FLOOR_MIN_DBFS) if self._floor_db is None else self._floor_db
        if level < floor:
            self._floor_db = max(floor + FLOOR_FALL * (level - floor), FLOOR_MIN_DBFS)
        else:
            self._floor_db = floor + min(FLOOR_RISE_DB, level - floor)
        loud = level > max(floor + ONSET_ABOVE_FLOOR_DB, SPEECH_MIN_DBFS)
        if not self.in_phrase:
            self._loud_run = self._loud_run + 1 if loud else 0
            if self._loud_run < ONSET_FRAMES:
                return Edge.NONE
            self.in_phrase = True
            self._quiet_run = 0
            self._phrase_frames = ONSET_FRAMES
            self.last_speech_s = self._frames / 100
            return Edge.OPEN
        self._phrase_frames += 1
        if level > max(floor + PAUSE_ABOVE_FLOOR_DB, SPEECH_MIN_DBFS):
            self._quiet_run = 0
            self.last_speech_s = self._frames / 100
        else:
            self._quiet_run += 1
        if self._quiet_run >= PAUSE_S * 100 or self._phrase_frames >= MAX_PHRASE_S * 100:
            self.end_phrase()
            return Edge.CLOSE
        return Edge.NONE

    def end_phrase(self) -> None:
        """The open phrase is over (its stream was skimmed or finished)."""
        self.in_phrase = False
        self._loud_run = 0
