"""Float32 <-> Int16 conversion, the seed client's conversion model, resampling, levels."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from harness.audio.pcm import (
    FULL_SCALE,
    float_to_int16,
    int16_to_float32,
    level,
    resample,
    seed_float_to_int16,
)

float_dtypes = st.sampled_from([np.float16, np.float32, np.float64])
# Any float array, NaN, infinities and huge values included, of any length from 0.
any_floats = hnp.arrays(dtype=float_dtypes, shape=st.integers(0, 300))
unit_floats = hnp.arrays(
    dtype=np.float32, shape=st.integers(0, 300), elements=st.floats(-1, 1, width=32)
)
finite_floats = hnp.arrays(
    dtype=np.float64,
    shape=st.integers(1, 300),
    elements=st.floats(allow_nan=False, allow_infinity=False),
)


@given(any_floats)
def test_output_stays_within_symmetric_full_scale(samples: np.ndarray) -> None:
    out = float_to_int16(samples)
    assert out.dtype == np.int16
    assert out.shape == (samples.size,)
    if out.size:
        assert out.min() >= -FULL_SCALE
        assert out.max() <= FULL_SCALE


@given(finite_floats)
def test_conversion_is_monotonic_non_decreasing(samples: np.ndarray) -> None:
    ordered = np.sort(samples)
    assert np.all(np.diff(float_to_int16(ordered).astype(np.int32)) >= 0)


@given(any_floats)
def test_conversion_is_odd_symmetric(samples: np.ndarray) -> None:
    assert np.array_equal(float_to_int16(-samples), -float_to_int16(samples))


def test_zero_and_full_scale_are_exact() -> None:
    assert float_to_int16([0.0, -0.0, 1.0, -1.0]).tolist() == [0, 0, 32767, -32767]


def test_nan_maps_to_zero_and_infinities_to_the_rails() -> None:
    assert float_to_int16([math.nan, math.inf, -math.inf]).tolist() == [0, 32767, -32767]


@given(finite_floats)
def test_rounds_to_nearest_after_clamping(samples: np.ndarray) -> None:
    exact = np.clip(samples, -1.0, 1.0) * FULL_SCALE
    # float32 arithmetic adds at most half a float32 ulp at 32767 (2**-9) to the rounding.
    assert np.all(np.abs(float_to_int16(samples) - exact) <= 0.5 + 2**-9)


@given(finite_floats)
def test_overflow_clamps_instead_of_wrapping(samples: np.ndarray) -> None:
    out = float_to_int16(samples)
    assert np.all(out[samples >= 1.0] == FULL_SCALE)
    assert np.all(out[samples <= -1.0] == -FULL_SCALE)
    assert np.all(out[samples > 0] >= 0)
    assert np.all(out[samples < 0] <= 0)


@given(unit_floats)
def test_round_trip_within_one_lsb(samples: np.ndarray) -> None:
    back = int16_to_float32(float_to_int16(samples))
    assert np.all(np.abs(back - samples) <= 1.0 / FULL_SCALE)


def test_int16_round_trip_is_exact_over_the_whole_range() -> None:
    values = np.arange(-FULL_SCALE, FULL_SCALE + 1, dtype=np.int16)
    assert np.array_equal(float_to_int16(int16_to_float32(values)), values)


@given(
    hnp.arrays(dtype=hnp.integer_dtypes() | hnp.unsigned_integer_dtypes(), shape=st.integers(0, 50))
)
def test_integer_input_is_taken_as_float_values(samples: np.ndarray) -> None:
    assert np.array_equal(float_to_int16(samples), float_to_int16(samples.astype(np.float64)))


def test_scalars_lists_and_booleans_are_accepted() -> None:
    assert float_to_int16(0.5).tolist() == [16384]
    assert float_to_int16([True, False]).tolist() == [32767, 0]


def test_complex_input_is_refused_with_a_clear_error() -> None:
    with pytest.raises(TypeError, match="real numbers"):
        float_to_int16(np.array([1j]))


def test_long_inputs_convert_the_same_as_their_pieces() -> None:
    samples = np.linspace(-1.5, 1.5, 200_003, dtype=np.float32)
    pieces = [float_to_int16(samples[i : i + 999]) for i in range(0, samples.size, 999)]
    assert np.array_equal(float_to_int16(samples), np.concatenate(pieces))


def _libsndfile_pcm16(samples: np.ndarray) -> np.ndarray:
    buffer = io.BytesIO()
    sf.write(buffer, samples, 16000, format="WAV", subtype="PCM_16")
    buffer.seek(0)
    out, _ = sf.read(buffer, dtype="int16")
    return np.asarray(out, dtype=np.int32)


@given(unit_floats)
def test_agrees_with_libsndfile_within_one_lsb(samples: np.ndarray) -> None:
    # libsndfile's full scale is 32768 (see the next test); scale its input so that both
    # conversions share ours, 32767, and compare clamping and rounding.
    theirs = _libsndfile_pcm16(samples.astype(np.float64) * (FULL_SCALE / 32768))
    assert np.all(np.abs(theirs - float_to_int16(samples)) <= 1)


def test_libsndfile_converts_with_floor_at_full_scale_32768() -> None:
    # Pins the independent reference's own rule, so a change in it shows up here.
    samples = np.random.default_rng(7).uniform(-1, 1, 10_000)
    expected = np.clip(np.floor(samples * 32768), -32768, 32767)
    assert np.array_equal(_libsndfile_pcm16(samples), expected)


# The seed tutorial's conversion, defects included.


def test_seed_model_matches_hand_computed_javascript_results() -> None:
    # 32767*0.3=9830.1->9830; 16383.5->16383 (truncation); 32767*-1.5=-49150.5->-49150,
    # which ToInt16 wraps to 16386; Math.min caps 2 at 1; NaN and -Infinity store 0.
    frame = [0.7, 0.3, 0.5, -1.5, 2.0, math.nan, -math.inf, math.inf]
    assert seed_float_to_int16(frame).tolist() == [0, 9830, 16383, 16386, 32767, 0, 0, 32767]


def test_seed_model_keeps_empty_and_single_sample_frames() -> None:
    assert seed_float_to_int16([]).tolist() == []
    assert seed_float_to_int16([0.9]).tolist() == [0]


@given(any_floats)
def test_seed_model_never_writes_sample_zero(samples: np.ndarray) -> None:
    out = seed_float_to_int16(samples)
    assert out.shape == (samples.size,)
    if out.size:
        assert out[0] == 0


@given(
    hnp.arrays(
        dtype=np.float32,
        shape=st.integers(2, 100),
        elements=st.floats(-1.9375, -1.0078125, width=32),
    )
)
def test_seed_model_wraps_values_below_minus_one_to_positive(samples: np.ndarray) -> None:
    assert np.all(seed_float_to_int16(samples)[1:] > 0)


@given(
    hnp.arrays(
        dtype=np.float32,
        shape=st.integers(1, 300),
        elements=st.floats(-1, None, width=32) | st.just(math.nan),
    )
)
def test_seed_model_agrees_with_correct_conversion_elsewhere(samples: np.ndarray) -> None:
    # At -1 and above, only truncation (instead of rounding) separates the two.
    seed = seed_float_to_int16(samples)[1:].astype(np.int32)
    correct = float_to_int16(samples)[1:].astype(np.int32)
    assert np.all(np.abs(seed - correct) <= 1)


# Resampling and levels.


def test_resample_keeps_a_tone_at_its_frequency() -> None:
    rate_in, rate_out, tone = 44100, 16000, 1000.0
    t = np.arange(rate_in) / rate_in
    out = resample(np.sin(2 * np.pi * tone * t).astype(np.float32), rate_in, rate_out)
    assert out.dtype == np.float32
    assert abs(out.size - rate_out) <= 1
    spectrum = np.abs(np.fft.rfft(out))
    assert abs(np.argmax(spectrum) * rate_out / out.size - tone) < 2


def test_resample_keeps_int16_and_refuses_bad_rates() -> None:
    out = resample(np.zeros(800, dtype=np.int16), 8000, 16000)
    assert out.dtype == np.int16
    assert out.size == 1600
    with pytest.raises(ValueError, match="positive"):
        resample(np.zeros(10), 0, 16000)


def test_level_of_full_scale_sine_and_square() -> None:
    t = np.arange(48000) / 48000
    sine = level(np.sin(2 * np.pi * 440 * t))
    assert sine.rms_dbfs == pytest.approx(-3.01, abs=0.01)
    assert sine.peak_dbfs == pytest.approx(0.0, abs=0.01)
    square = level(np.array([FULL_SCALE, -FULL_SCALE] * 100, dtype=np.int16))
    assert square.rms_dbfs == pytest.approx(0.0)


def test_level_of_silence_and_nothing_is_minus_infinity() -> None:
    assert level(np.zeros(10, dtype=np.int16)).rms_dbfs == -math.inf
    assert level([]).peak_dbfs == -math.inf
