"""Throughput of Float32 -> Int16 conversion against a plain NumPy copy, measured in one run.

    python benchmarks/bench_pcm.py [--samples N] [--repeat K]

The machines are shared and noisy, so each figure is the best of K runs and every ratio
is taken against the baseline measured in the same process moments before. Target
(a goal, not a test): float_to_int16 at >= 0.5x the copy's speed.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from harness.audio.pcm import float_to_int16, seed_float_to_int16


def best_seconds(work: Callable[[], object], repeat: int) -> float:
    """The fastest of `repeat` timed runs, after one warm-up run."""
    work()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    # Speech-like levels with some overs, NaN-free: the common case on the hot path.
    samples = rng.normal(0, 0.3, args.samples).astype(np.float32)
    megabytes = samples.nbytes / 1e6
    copy = best_seconds(samples.copy, args.repeat)
    frame = samples[:1024]
    cases: list[tuple[str, Callable[[], object], int]] = [
        ("float_to_int16", lambda: float_to_int16(samples), samples.size),
        (
            "one-line rint(clip(x)*32767)",
            lambda: np.rint(np.clip(samples, -1, 1) * 32767).astype(np.int16),
            samples.size,
        ),
        ("seed model, one 1024-sample frame", lambda: seed_float_to_int16(frame), frame.size),
    ]
    print(f"{args.samples:,} float32 samples ({megabytes:.0f} MB), best of {args.repeat}")
    print(f"{'case':<36} {'ms':>9} {'MB/s':>9} {'x copy':>8}")
    print(f"{'numpy copy (baseline)':<36} {copy * 1e3:>9.3f} {megabytes / copy:>9.0f} {1:>8.2f}")
    for name, work, count in cases:
        seconds = best_seconds(work, args.repeat)
        rate = count * 4 / 1e6 / seconds
        ratio = (copy / samples.size) / (seconds / count)
        print(f"{name:<36} {seconds * 1e3:>9.3f} {rate:>9.0f} {ratio:>8.2f}")


if __name__ == "__main__":
    main()
