"""PCM audio: Float32 <-> Int16 conversion, resampling and level metering.

Full scale is symmetric: 1.0 maps to 32767 and -1.0 to -32767, so the conversion is
odd-symmetric and `float_to_int16` never produces -32768.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import soxr
from numpy.typing import ArrayLike, NDArray

FULL_SCALE = 32767
# Work in blocks small enough to stay in cache: each pass over a block then costs little
# more than reading it once (measured in benchmarks/bench_pcm.py).
_BLOCK = 65536


def _real_array(samples: ArrayLike, name: str) -> NDArray[np.generic]:
    array = np.asarray(samples)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} needs real numbers, got an array of {array.dtype}")
    return array.reshape(-1)


def float_to_int16(samples: ArrayLike) -> NDArray[np.int16]:
    """Convert float samples in [-1, 1] to Int16: clamped, rounded to nearest, NaN to 0."""
    source = _real_array(samples, "float_to_int16")
    out = np.empty(source.size, dtype=np.int16)
    block = np.empty(min(_BLOCK, source.size), dtype=np.float32)
    scale = np.float32(FULL_SCALE)
    # Overflow to inf (float64 beyond float32's range) and NaN are handled explicitly below.
    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, source.size, _BLOCK):
            chunk = source[start : start + _BLOCK]
            work = block[: chunk.size]
            np.multiply(chunk, scale, out=work, casting="unsafe")
            np.clip(work, -FULL_SCALE, FULL_SCALE, out=work)
            np.rint(work, out=work)
            work[np.isnan(work)] = 0
            out[start : start + chunk.size] = work
    return out


def int16_to_float32(samples: ArrayLike) -> NDArray[np.float32]:
    """Convert Int16 samples to float32 with the same full scale (32767 -> 1.0)."""
    array = np.asarray(samples, dtype=np.int16).reshape(-1)
    return array.astype(np.float32) / np.float32(FULL_SCALE)


def seed_float_to_int16(frame: ArrayLike) -> NDArray[np.int16]:
    """Model the seed tutorial's JavaScript conversion of one Float32 frame, defects included.

    The tutorial runs `for (index = length; index > 0; index--) target[index] =
    32767 * Math.min(1, input[index])` into an `Int16Array`. So sample 0 is never written
    (stays 0), the write at `length` falls outside the array and is dropped, values below -1
    are not clamped, and the store applies ECMAScript ToInt16: NaN and infinities become 0,
    the rest is truncated toward zero and wrapped modulo 2**16.
    """
    source = _real_array(frame, "seed_float_to_int16")
    with np.errstate(over="ignore", invalid="ignore"):
        # getChannelData() yields a Float32Array; JavaScript then computes in doubles.
        values = source.astype(np.float32).astype(np.float64)
        scaled = FULL_SCALE * np.minimum(1.0, values)
        scaled[~np.isfinite(scaled)] = 0.0
        # fmod of doubles is exact, so this is the modular wrap for any magnitude.
        wrapped = np.fmod(np.trunc(scaled), 65536.0)
        wrapped[wrapped < 0] += 65536.0
        wrapped[wrapped >= 32768.0] -= 65536.0
    out: NDArray[np.int16] = wrapped.astype(np.int16)
    if out.size:
        out[0] = 0
    return out


def resample(samples: ArrayLike, from_rate: int, to_rate: int) -> NDArray[np.generic]:
    """Resample mono audio with libsoxr (high quality), keeping float or int16 dtype."""
    if from_rate <= 0 or to_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {from_rate} -> {to_rate}")
    array = np.asarray(samples).reshape(-1)
    if array.dtype not in (np.float32, np.float64, np.int16, np.int32):
        array = array.astype(np.float32)
    if from_rate == to_rate:
        return array.copy()
    resampled: NDArray[np.generic] = soxr.resample(array, from_rate, to_rate, quality="HQ")
    return resampled


@dataclass(frozen=True, slots=True)
class Level:
    """Signal level in dBFS; -inf for digital silence or no samples.

    The reference is a full-scale square wave, so a full-scale sine reads -3.01 dB RMS.
    """

    rms_dbfs: float
    peak_dbfs: float


def _dbfs(value: float) -> float:
    return 20.0 * math.log10(value) if value > 0 else -math.inf


def level(samples: ArrayLike) -> Level:
    """Measure RMS and peak level of float ([-1, 1]) or int16 (±32767) samples."""
    array = _real_array(samples, "level")
    if array.size == 0:
        return Level(-math.inf, -math.inf)
    if array.dtype.kind == "f":
        values = array.astype(np.float64)
    else:
        values = array.astype(np.float64) / FULL_SCALE
    rms = float(np.sqrt(np.mean(np.square(values))))
    peak = float(np.max(np.abs(values)))
    return Level(_dbfs(rms), _dbfs(peak))
