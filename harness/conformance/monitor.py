"""What a client does wrong, measured from its traffic, sans I/O.

A `ConformanceMonitor` takes every frame a client sends, with the time it arrived
(monotonic nanoseconds), and the close; `report()` says what it found. The mock runs one
per streaming connection; `symbl-harness check` feeds one from a recorded session.
Each finding has a code, a one-line explanation and its evidence.

Memory is bounded whatever the session's length: audio and arrivals are kept as running
figures, and a closed monitor keeps only its final report.

How fast the audio comes, against the wall clock, is judged once, by its pace (audio seconds
per wall-clock second over the steady part of the stream, see `ArrivalFigures.pace`):
- within RATE_TOLERANCE of 1: real time, nothing to say;
- at most REPLAY_FACTOR, and the measured rate within RATE_TOLERANCE of another common rate:
  `sample_rate_mismatch`, a client that paces at its audio's true rate but declares another
  (44.1 kHz audio declared 48 kHz comes at ~0.92x, 48 kHz declared 44.1 kHz at ~1.09x);
- otherwise faster than real time, with the audio more than LEAD_S ahead of the wall clock
  at the end: `faster_than_real_time`, a sender that does not pace (a file streamed as fast
  as it can be). The lead tells it from an initial buffer flush, which puts a live client
  ahead by its buffer and no more however long it streams; busy-machine jitter makes frames
  late, never early.
The two are exclusive by construction, so one cause is never reported twice.
`band_too_narrow` judges the samples, not the clock, and may accompany either.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.conformance.arrivals import GAP_S, ArrivalFigures
from harness.conformance.figures import EVIDENCE_POSITIONS, SPECTRUM_BLOCK, AudioFigures
from harness.protocol import StartRequest, StartRequestError
from harness.protocol.bounded_json import loads

MAX_FRAME_BYTES = 8192
COMMON_RATES = (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000)
# A real-time stream's measured rate is off when it differs from the declared one by more
# than this, measured over at least MIN_RATE_SPAN_S of wall-clock time.
RATE_TOLERANCE = 0.03
MIN_RATE_SPAN_S = 2.0
# Faster than this, the client is replaying, not streaming live: no wall-clock rate.
REPLAY_FACTOR = 1.5
# A live client is never further ahead of the wall clock than what it buffered before
# connecting; a sender that does not pace gets further ahead with every second it sends.
LEAD_S = 3.0
SILENCE_RMS_DBFS = -70.0
LOW_LEVEL_DBFS = -45.0
DC_OFFSET_LSB = 1000.0
BURST_SHARE = 0.2
BEHIND_S = 2.0
KEEP_REPORTS = 1000
# Audio with sound whose band (99.9 % of its energy, over at least MIN_BAND_SECONDS) ends
# below SPEECH_BAND_HZ at the declared rate is faster than declared. Measured on the
# fixtures: 3.7-9.9 kHz at their true rates; 1.2-3.3 kHz when 48 kHz audio is declared 16 kHz.
SPEECH_BAND_HZ = 3000.0
MIN_BAND_SECONDS = 2.0
BAND_LEVEL_DBFS = -50.0


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a client does wrong."""

    code: str
    explanation: str
    evidence: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """As the report carries it."""
        return {"code": self.code, "explanation": self.explanation, "evidence": self.evidence}


def dbfs(rms: float) -> float:
    """An RMS in LSB as dB relative to full scale (-inf for digital silence)."""
    return 20 * math.log10(rms / 32767) if rms > 0 else -math.inf


def nearest_rate(rate: float) -> int:
    """The common sample rate closest to a measured one."""
    return min(COMMON_RATES, key=lambda common: abs(common - rate))


class ConformanceMonitor:
    """Watches one client's frames and says what it does wrong."""

    def __init__(self) -> None:
        self.request: StartRequest | None = None
        self.started = False
        self.stopped = False
        self.closed = False
        self.close_code: int | None = None
        self.early_frames = 0
        self.early_bytes = 0
        self.stop_not_json: list[str] = []
        self.large_frames = 0
        self.largest_frame = 0
        self.large_at: list[int] = []
        self.odd_frames = 0
        self.odd_at: list[int] = []
        self.frame_index = 0
        self._arrivals = ArrivalFigures()
        self._audio = AudioFigures()
        self._carry = b""
        # The report as it stood at the close, as JSON: all a closed monitor keeps.
        self._final: str | None = None

    def text(self, at_ns: int, text: str) -> None:
        """A text frame arrived."""
        if self.closed:
            return
        try:
            message = loads(text)
        except ValueError:
            if "stop_request" in text or "stop_recognition" in text:
                self.stopped = True
                self.stop_not_json.append(text[:80])
            return
        if not isinstance(message, dict):
            return
        kind = message.get("type")
        if kind == "start_request" and not self.started:
            try:
                self.request = StartRequest.from_json(message)
            except StartRequestError:
                return
            self.started = True
            self._audio.rate = self._arrivals.rate = self.rate
        elif kind in ("stop_request", "stop_recognition"):
            self.stopped = True

    def audio(self, at_ns: int, data: bytes) -> None:
        """A binary (audio) frame arrived."""
        if self.closed:
            return
        index = self.frame_index
        self.frame_index += 1
        if not self.started:
            self.early_frames += 1
            self.early_bytes += len(data)
            return
        if len(data) > MAX_FRAME_BYTES:
            self.large_frames += 1
            self.largest_frame = max(self.largest_frame, len(data))
            if len(self.large_at) < EVIDENCE_POSITIONS:
                self.large_at.append(index)
        if self.encoding != "LINEAR16":
            self._arrivals.add(at_ns, len(data))
            return
        if len(data) % 2:
            self.odd_frames += 1
            if len(self.odd_at) < EVIDENCE_POSITIONS:
                self.odd_at.append(index)
        # Frames are analysed as they arrive; an odd byte joins the next frame, as the
        # server would decode it.
        data = self._carry + data
        even = len(data) - len(data) % 2
        self._carry = data[even:]
        samples = np.frombuffer(data[:even], dtype="<i2").astype(np.int16)
        self._arrivals.add(at_ns, samples.size)
        self._audio.add(samples)

    def close(self, at_ns: int, code: int | None) -> None:
        """The connection closed: the report is final, and the figures behind it go."""
        if self.closed:
            return
        self.closed = True
        self.close_code = code
        self._final = json.dumps(self._judge())
        self._audio.release()

    @property
    def encoding(self) -> str:
        """The declared encoding."""
        return self.request.encoding if self.request else "LINEAR16"

    @property
    def rate(self) -> int:
        """The declared sample rate."""
        if self.request and self.request.sample_rate_hertz:
            return self.request.sample_rate_hertz
        return 8000 if self.encoding == "MULAW" else 16000

    def report(self) -> dict[str, Any]:
        """The findings so far, with the figures they rest on."""
        if self._final is not None:
            return dict(json.loads(self._final))
        return self._judge()

    def _judge(self) -> dict[str, Any]:
        self._audio.flush()
        findings = (
            self._protocol()
            + self._rate()
            + self._faster()
            + self._band()
            + self._conversion()
            + self._timing()
        )
        audio = self._audio
        return {
            "declared": {"encoding": self.encoding, "sample_rate": self.rate}
            if self.started
            else None,
            "frames": self.frame_index,
            "samples": audio.samples,
            "audio_seconds": round(audio.samples / self.rate, 3),
            "wall_seconds": round(self._arrivals.span_s, 3),
            "arrival_rate_hz": self._arrival_rate(),
            "level_dbfs": round(dbfs(audio.rms), 1) if audio.samples else None,
            "complete": self.closed,
            "findings": [finding.to_json() for finding in findings],
        }

    def findings(self) -> list[str]:
        """The codes of the findings so far."""
        return [finding["code"] for finding in self.report()["findings"]]

    def _protocol(self) -> list[Finding]:
        out = []
        if self.early_frames and self.started:
            out.append(
                Finding(
                    "audio_before_start",
                    f"{self.early_frames} audio frames arrived before the start_request; "
                    "the server ignores them",
                    {"frames": self.early_frames, "bytes": self.early_bytes},
                )
            )
        if not self.started and (self.frame_index or self.closed):
            out.append(
                Finding(
                    "no_start_request",
                    "no valid start_request was sent, so no audio was recognised",
                    {"audio_frames": self.frame_index},
                )
            )
        if self.stop_not_json:
            out.append(
                Finding(
                    "stop_request_not_json",
                    "the stop_request is not JSON (single quotes?); servers may not read it",
                    {"frames": len(self.stop_not_json), "first": self.stop_not_json[0]},
                )
            )
        if self.closed and self.started and not self.stopped:
            out.append(
                Finding(
                    "no_stop_request",
                    "the client closed without a stop_request; the last phrase may be lost",
                    {"close_code": self.close_code},
                )
            )
        if self.large_frames:
            out.append(
                Finding(
                    "frame_too_large",
                    f"{self.large_frames} frames are over {MAX_FRAME_BYTES} bytes; "
                    "the server ignores them",
                    {
                        "frames": self.large_frames,
                        "largest_bytes": self.largest_frame,
                        "first_frames": self.large_at,
                    },
                )
            )
        if self.odd_frames:
            out.append(
                Finding(
                    "odd_frame_length",
                    f"{self.odd_frames} LINEAR16 frames have an odd number of bytes "
                    "(a sample split across frames)",
                    {"frames": self.odd_frames, "first_frames": self.odd_at},
                )
            )
        return out

    def _arrival_rate(self) -> float | None:
        """Samples per wall-clock second, from the first frame's arrival to the last's."""
        rate = self._arrivals.arrival_rate()
        return None if rate is None else round(rate, 1)

    def _pace(self) -> float | None:
        """Audio seconds per wall-clock second over the stream's steady part (see the module
        docstring); None when it says nothing (too short, or not LINEAR16)."""
        if self._arrivals.span_s < MIN_RATE_SPAN_S or self.encoding != "LINEAR16":
            return None
        return self._arrivals.pace()

    def _rate_mismatch(self) -> int | None:
        """The common rate the audio arrives at, if it is not the declared one."""
        pace = self._pace()
        if pace is None or pace > REPLAY_FACTOR or abs(pace - 1) <= RATE_TOLERANCE:
            return None
        measured = pace * self.rate
        likely = nearest_rate(measured)
        # Not another common rate: a stream that falls behind (see `_timing`).
        return likely if abs(likely - measured) / likely <= RATE_TOLERANCE else None

    def _rate(self) -> list[Finding]:
        likely = self._rate_mismatch()
        pace = self._pace()
        if likely is None or pace is None:
            return []
        declared = self.rate
        evidence: dict[str, Any] = {
            "declared_hz": declared,
            "measured_hz": round(pace * declared, 1),
            "likely_hz": likely,
            "wall_seconds": round(self._arrivals.span_s, 2),
        }
        edge = self._audio.band_edge()
        if edge is not None:
            evidence["band_edge_hz"] = round(edge)
        return [
            Finding(
                "sample_rate_mismatch",
                f"declared {declared} Hz, audio arrives at ~{likely} Hz "
                f"(pitch and timing off by {abs(likely / declared - 1):.1%})",
                evidence,
            )
        ]

    def _faster(self) -> list[Finding]:
        """A sender that does not pace; the pace is measured on the steady part, or over the
        whole stream when it all came within a couple of seconds."""
        arrivals = self._arrivals
        if arrivals.frames < 2 or self.encoding != "LINEAR16" or self._rate_mismatch():
            return []
        pace = arrivals.pace()
        ahead = arrivals.ahead_s()
        if ahead <= LEAD_S or (pace is not None and pace <= 1 + RATE_TOLERANCE):
            return []
        # No pace: every frame arrived in the same instant.
        speed = "all at once" if pace is None else f"at {pace:.1f} x real time"
        return [
            Finding(
                "faster_than_real_time",
                f"audio arrives {speed}: the client sends without pacing, "
                f"{ahead:.1f} s ahead of the clock by the end (a live source cannot be)",
                {
                    "times_real_time": None if pace is None else round(pace, 2),
                    "ahead_s": round(ahead, 2),
                    "audio_seconds": round(arrivals.units / self.rate, 3),
                    "wall_seconds": round(arrivals.span_s, 3),
                },
            )
        ]

    def _band(self) -> list[Finding]:
        """Speech carries energy to 3 kHz and beyond (telephone speech to 3.4 kHz); at the
        declared rate, a band that ends far below says the samples come faster than declared."""
        audio = self._audio
        edge = audio.band_edge()
        seconds = audio.spectrum_blocks * SPECTRUM_BLOCK / self.rate
        if edge is None or seconds < MIN_BAND_SECONDS or dbfs(audio.rms) < BAND_LEVEL_DBFS:
            return []
        if edge >= SPEECH_BAND_HZ:
            return []
        return [
            Finding(
                "band_too_narrow",
                f"at the declared {self.rate} Hz, 99.9 % of the energy lies below {edge:.0f} Hz, "
                f"where speech reaches {SPEECH_BAND_HZ:g} Hz and more: the samples are likely "
                f"at {SPEECH_BAND_HZ / edge:.1f}x the declared rate or more",
                {
                    "declared_hz": self.rate,
                    "band_edge_hz": round(edge),
                    "seconds": round(seconds, 1),
                },
            )
        ]

    def _conversion(self) -> list[Finding]:
        audio = self._audio
        out: list[Finding] = []
        if not audio.samples:
            return out
        if audio.telling_frames >= 10 and audio.zero_first / audio.telling_frames >= 0.5:
            out.append(
                Finding(
                    "first_sample_zero",
                    f"the first sample of {audio.zero_first} of {audio.telling_frames} frames is "
                    "exactly 0 where its neighbours say it is not (a conversion loop that skips "
                    "index 0)",
                    {
                        "frames": audio.zero_first,
                        "of": audio.telling_frames,
                        "first_positions": audio.zero_first_at,
                    },
                )
            )
        if audio.wraps:
            out.append(
                Finding(
                    "sign_flip",
                    f"{audio.wraps} full-scale jumps between neighbouring samples: negative peaks "
                    "wrapped to positive (no lower clamp before the Int16 conversion)",
                    {"jumps": audio.wraps, "first_positions": audio.wraps_at},
                )
            )
        if audio.clipped_samples:
            clipped_s, audio_s = audio.clipped_samples / self.rate, audio.samples / self.rate
            out.append(
                Finding(
                    "clipping",
                    f"the audio clips: in {clipped_s:.1f} s of its {audio_s:.1f} s (judged a "
                    "second at a time) its samples crowd within 0.5 dB of full scale instead of "
                    "thinning out toward it",
                    {
                        "clipped_seconds": round(clipped_s, 1),
                        "audio_seconds": round(audio_s, 1),
                        "samples_near_full_scale": audio.near_full_scale,
                        "first_positions": audio.clips_at,
                    },
                )
            )
        mean = audio.sum / audio.samples
        level = dbfs(audio.rms)
        if level < SILENCE_RMS_DBFS:
            out.append(
                Finding(
                    "silence_only",
                    "the audio is silent: the microphone is muted or the wrong input is used",
                    {"level_dbfs": None if math.isinf(level) else round(level, 1)},
                )
            )
        elif level < LOW_LEVEL_DBFS:
            out.append(
                Finding(
                    "level_too_low",
                    f"the audio level is {level:.0f} dBFS, far too low to recognise well",
                    {"level_dbfs": round(level, 1)},
                )
            )
        if abs(mean) > DC_OFFSET_LSB:
            out.append(
                Finding(
                    "dc_offset",
                    f"the audio is offset by {mean:.0f} LSB from zero",
                    {"mean_lsb": round(mean, 1)},
                )
            )
        return out

    def _timing(self) -> list[Finding]:
        arrivals = self._arrivals
        if arrivals.frames < 3 or self.encoding != "LINEAR16":
            return []
        out = []
        if arrivals.gaps:
            out.append(
                Finding(
                    "gaps",
                    f"{arrivals.gaps} pauses of over {GAP_S:g} s between audio frames",
                    {
                        "gaps": arrivals.gaps,
                        "longest_s": round(arrivals.longest_gap_s, 3),
                        "after_frames": arrivals.gaps_after,
                    },
                )
            )
        pace = self._pace()
        if pace is None or pace > REPLAY_FACTOR:
            return out
        intervals = arrivals.frames - 1
        if arrivals.bunched / intervals >= BURST_SHARE:
            out.append(
                Finding(
                    "bursts",
                    f"{arrivals.bunched} of {intervals} frames arrived in bursts (within a "
                    "tenth of a frame's duration of the previous one) instead of steadily",
                    {"bunched_frames": arrivals.bunched, "of": intervals},
                )
            )
        behind = -arrivals.ahead_s()
        if behind > BEHIND_S:
            out.append(
                Finding(
                    "behind_real_time",
                    f"the audio fell {behind:.1f} s behind real time",
                    {"behind_s": round(behind, 2)},
                )
            )
        return out


class ConformanceReports:
    """The monitors of the latest connections, by owner (an app) and connection id (bounded)."""

    def __init__(self, keep: int = KEEP_REPORTS) -> None:
        self._keep = keep
        self._monitors: OrderedDict[tuple[str, str], ConformanceMonitor] = OrderedDict()

    def watch(self, owner: str, connection_id: str) -> ConformanceMonitor:
        """A new monitor for a connection; it replaces the owner's earlier one with the id."""
        monitor = ConformanceMonitor()
        self._monitors.pop((owner, connection_id), None)
        self._monitors[(owner, connection_id)] = monitor
        while len(self._monitors) > self._keep:
            self._monitors.popitem(last=False)
        return monitor

    def report(self, connection_id: str, owner: str | None = None) -> dict[str, Any] | None:
        """The report of the latest connection with this id (of `owner` only, if given),
        live while it streams."""
        latest = [
            monitor
            for (whose, seen), monitor in self._monitors.items()
            if seen == connection_id and owner in (None, whose)
        ]
        if not latest:
            return None
        return {"connectionId": connection_id, **latest[-1].report()}
