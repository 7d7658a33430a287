"""Latency figures of a recorded session, as BENCHMARKING.md defines them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from harness.sessionlog import SessionLog
from harness.transcript import Transcript


def finalisation_latency_ms(log: SessionLog, transcript: Transcript) -> list[float]:
    """For each phrase: its `message_response` receive time minus the send time of the
    frame that holds the phrase's last word end. Phrases and messages pair in order."""
    frames = log.audio_frames()
    if not frames:
        return []
    starts = np.asarray([frame.offset for frame in frames])
    finals = [
        record
        for record in log.received()
        if isinstance(record.data, dict) and record.data.get("type") == "message_response"
    ]
    scale = log.sample_rate / transcript.sample_rate
    latencies = []
    for phrase, final in zip(transcript.phrases, finals, strict=False):
        end = round(phrase.end * transcript.sample_rate * scale)
        holder = frames[max(int(np.searchsorted(starts, end, side="right")) - 1, 0)]
        latencies.append((final.t - holder.t) * 1000)
    return latencies


def percentiles(values: Sequence[float], digits: int = 1) -> dict[str, float]:
    """p50, p90, p99, max and n of some figures, rounded to `digits` decimals."""
    if not values:
        return {}
    array = np.asarray(values, dtype=np.float64)
    figures = {f"p{q}": float(np.percentile(array, q)) for q in (50, 90, 99)}
    figures["max"] = float(array.max())
    return {**{k: round(v, digits) for k, v in figures.items()}, "n": float(array.size)}


def lateness_ms(lateness_ns: Sequence[int]) -> dict[str, float]:
    """Percentiles of pacing lateness (nanoseconds in), in milliseconds to 0.1 µs."""
    return percentiles([value / 1e6 for value in lateness_ns], digits=4)
