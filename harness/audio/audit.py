"""Measure what the seed tutorial's Float32 -> Int16 loop does to audio, against a correct one."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from harness.audio.pcm import FULL_SCALE, float_to_int16, seed_float_to_int16


@dataclass(frozen=True, slots=True)
class ConversionAudit:
    """Defects of the seed conversion on one signal, frame by frame as a browser sends it."""

    frames: int
    frame_samples: int
    first_sample_zeroed: int
    wrapped_samples: int
    beyond_full_scale: int
    worst_error_lsb: int
    seed_snr_db: float
    correct_snr_db: float

    def to_json(self) -> dict[str, Any]:
        """The audit as JSON-ready values (infinite ratios as null)."""
        return {
            k: None if isinstance(v, float) and math.isinf(v) else v
            for k, v in asdict(self).items()
        }


def _snr_db(reference: np.ndarray, converted: np.ndarray) -> float:
    error = converted.astype(np.float64) / FULL_SCALE - reference
    noise = float(np.sum(error**2))
    signal = float(np.sum(reference**2))
    if noise == 0:
        return math.inf
    return 10 * math.log10(signal / noise) if signal > 0 else -math.inf


def audit_seed_conversion(samples: ArrayLike, frame_samples: int = 1024) -> ConversionAudit:
    """Convert `samples` (float, full scale 1.0) both ways in frames and compare."""
    if frame_samples <= 0:
        raise ValueError(f"frame_samples must be positive, got {frame_samples}")
    signal = np.asarray(samples, dtype=np.float32).reshape(-1)
    frames = [signal[i : i + frame_samples] for i in range(0, signal.size, frame_samples)]
    seed = (
        np.concatenate([seed_float_to_int16(f) for f in frames])
        if frames
        else np.zeros(0, np.int16)
    )
    correct = float_to_int16(signal)
    starts = np.arange(0, signal.size, frame_samples)
    reference = np.clip(np.nan_to_num(signal.astype(np.float64)), -1.0, 1.0)
    difference = np.abs(seed.astype(np.int32) - correct.astype(np.int32))
    return ConversionAudit(
        frames=len(frames),
        frame_samples=frame_samples,
        first_sample_zeroed=int(np.sum(correct[starts] != 0)),
        wrapped_samples=int(np.sum((signal < 0) & (seed > 0))),
        beyond_full_scale=int(np.sum(np.abs(signal) > 1.0)),
        worst_error_lsb=int(difference.max()) if difference.size else 0,
        seed_snr_db=_snr_db(reference, seed),
        correct_snr_db=_snr_db(reference, correct),
    )
