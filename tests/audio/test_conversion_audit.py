"""Measuring the seed conversion's defects on a signal."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.audio.audit import audit_seed_conversion


def test_silence_has_no_defects() -> None:
    audit = audit_seed_conversion(np.zeros(4096, dtype=np.float32))
    assert (audit.frames, audit.first_sample_zeroed, audit.wrapped_samples) == (4, 0, 0)
    assert audit.worst_error_lsb == 0
    assert math.isinf(audit.seed_snr_db)


def test_counts_each_defect_where_it_happens() -> None:
    frame = np.array([0.5, 0.25, -1.5, 2.0], dtype=np.float32)
    audit = audit_seed_conversion(np.tile(frame, 3), frame_samples=4)
    assert audit.frames == 3
    assert audit.first_sample_zeroed == 3
    assert audit.wrapped_samples == 3
    assert audit.beyond_full_scale == 6
    # -1.5 should give -32767; the loop stores 16386.
    assert audit.worst_error_lsb == 16386 + 32767


def test_a_clean_quiet_signal_differs_only_by_truncation_and_sample_zero() -> None:
    t = np.arange(44100) / 44100
    audit = audit_seed_conversion(0.3 * np.sin(2 * np.pi * 220 * t))
    assert audit.wrapped_samples == 0
    assert audit.correct_snr_db > audit.seed_snr_db
    assert audit.correct_snr_db > 80


def test_frame_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        audit_seed_conversion(np.zeros(4), frame_samples=0)
