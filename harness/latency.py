"""Latency figures of a recorded session, as BENCHMARKING.md defines them."""

from __future__ import annotations

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


def percentiles(values: list[float]) -> dict[str, float]:
    """p50, p90, p99 and max of some figures, rounded to 0.1."""
    if not values:
        return {}
    array = np.asarray(values, dtype=np.float64)
    return {
        "p50": round(float(np.percentile(array, 50)), 1),
        "p90": round(float(np.percentile(array, 90)), 1),
        "p99": round(float(np.percentile(array, 99)), 1),
        "max": round(float(array.max()), 1),
        "n": float(array.size),
    }
