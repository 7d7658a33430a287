"""Where phrases begin and end in 16 kHz audio: a small energy voice-activity detector.

Pure, frame by frame: `PhraseDetector.push` takes each 10 ms frame and says whether a
phrase opens or closes at it. A frame is loud when its level is ONSET_ABOVE_FLOOR_DB over
the tracked noise floor; ONSET_FRAMES loud frames in a row open a phrase. Inside one, a
frame is quiet when it falls to within PAUSE_ABOVE_FLOOR_DB of the floor (lower than the
onset threshold: hysteresis, so a word fading into the pause is not cut), and a pause of
quiet frames in a row closes the phrase (its length learnt from the stream's pace: see
PAUSE_OF_SENTENCE_PAUSE), or MAX_PHRASE_S of phrase.

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
# a breath, a stop consonant) less. No one length parts them for every pace: espeak-ng's
# quiet at a comma measures 200-250 ms at 140 words a minute, at a sentence end 430-480
# ms, but only 230-280 ms at 200 words a minute. The comma's is about 0.45 of the
# sentence end's at every pace, so the closing pause is learnt per stream: it is
# PAUSE_OF_SENTENCE_PAUSE of the stream's sentence pause (the quiet between a phrase
# closed by a pause and the next onset, an average moving PAUSE_LEARNING of the way to
# each new one, so one odd pause moves it little), within PAUSE_MIN_S-PAUSE_MAX_S.
# Measured on benchmarks/bench_phrases.py: any fixed length either split slow speech at
# commas (250 ms: precision 0.84-0.87) or missed fast speech's sentence ends (300 ms:
# recall 0.75); learnt, precision 0.92-0.94 and recall 0.87-0.94.
PAUSE_S = 0.27  # until the stream's first sentence pause is heard
PAUSE_OF_SENTENCE_PAUSE = 0.65  # between a comma's 0.45 and a short sentence pause's 0.85
PAUSE_LEARNING = 0.3
# A long silence (someone thinking, the other party talking) says nothing of the pace.
GAP_CAP_S = 0.7
# Below 200 ms a stop consonant or a breath could end a phrase; above 350 ms a user
# waits for a final longer than ordinary speech's shortest sentence pause.
PAUSE_MIN_S = 0.2
PAUSE_MAX_S = 0.35
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
        self._pause_frames = PAUSE_S * 100  # the closing pause this speaker needs
        self._sentence_pause = PAUSE_S / PAUSE_OF_SENTENCE_PAUSE  # seconds, learnt
        # Frames since the last speech of a phrase a pause closed, until the next onset.
        self._gap_frames: int | None = None

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
            if self._gap_frames is not None:
                self._gap_frames += 1
            self._loud_run = self._loud_run + 1 if loud else 0
            if self._loud_run < ONSET_FRAMES:
                return Edge.NONE
            if self._gap_frames is not None:
                self._learn_pace((self._gap_frames - ONSET_FRAMES + 1) / 100)
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
        if self._quiet_run >= self._pause_frames:
            self.end_phrase()
            self._gap_frames = self._quiet_run
            return Edge.CLOSE
        if self._phrase_frames >= MAX_PHRASE_S * 100:
            self.end_phrase()
            return Edge.CLOSE
        return Edge.NONE

    def _learn_pace(self, pause_s: float) -> None:
        """A sentence pause of `pause_s` was heard: adjust the closing pause to it."""
        self._sentence_pause += PAUSE_LEARNING * (min(pause_s, GAP_CAP_S) - self._sentence_pause)
        closing = PAUSE_OF_SENTENCE_PAUSE * self._sentence_pause
        self._pause_frames = 100 * min(max(closing, PAUSE_MIN_S), PAUSE_MAX_S)
        self._gap_frames = None

    def end_phrase(self) -> None:
        """The open phrase is over (its stream was skimmed or finished); no-op if none is."""
        if not self.in_phrase:
            return
        self.in_phrase = False
        self._loud_run = 0
        self._gap_frames = None
