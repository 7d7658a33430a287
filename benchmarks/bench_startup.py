"""Start-up time of `symbl-harness --help` and of each command's `--help`, against click alone.

    python benchmarks/bench_startup.py [--runs N]

Every figure is a whole process, started N times; the cases take turns in each round, so a
busy moment of a shared machine slows all of them alike. Baseline in the same run:
`python -c "import click"`, what any Click command line costs. Target (a goal, not a test):
`--help` at most 3x the baseline. Also measured: `import harness.protocol` alone, as wall
time over `python -c pass` and as `-X importtime` reports it.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from harness.cli import main as cli

TARGET = 3.0


def wall_seconds(argv: list[str]) -> float:
    """Wall time of one whole process."""
    started = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def protocol_import_us() -> int:
    """Microseconds `-X importtime` gives `import harness.protocol`, its imports included."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import harness.protocol"],
        capture_output=True,
        text=True,
        check=True,
    )
    for line in done.stderr.splitlines():
        _, cumulative, name = line.split("|")
        if name.strip() == "harness.protocol":
            return int(cumulative)
    raise RuntimeError("-X importtime did not report harness.protocol")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    script = Path(sys.executable).with_name("symbl-harness")
    command = str(script) if script.exists() else shutil.which("symbl-harness")
    if command is None:
        sys.exit("symbl-harness is not installed (pip install -e .)")
    python = sys.executable
    cases = {
        "python -c pass": [python, "-c", "pass"],
        "python -c 'import click' (baseline)": [python, "-c", "import click"],
        "python -c 'import harness.protocol'": [python, "-c", "import harness.protocol"],
        "symbl-harness --help": [command, "--help"],
        **{f"symbl-harness {n} --help": [command, n, "--help"] for n in sorted(cli.commands)},
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    importtime: list[int] = []
    for _ in range(args.runs):
        for name, argv in cases.items():
            times[name].append(wall_seconds(argv))
        importtime.append(protocol_import_us())

    click_ms = statistics.median(times["python -c 'import click' (baseline)"]) * 1e3
    print(f"{args.runs} interleaved runs of each whole process; x click: over the baseline median")
    print(f"{'case':<40} {'median ms':>10} {'min ms':>8} {'max ms':>8} {'x click':>8}")
    for name, seconds in times.items():
        ms = [s * 1e3 for s in seconds]
        median = statistics.median(ms)
        print(
            f"{name:<40} {median:>10.1f} {min(ms):>8.1f} {max(ms):>8.1f} {median / click_ms:>8.2f}"
        )
    helps = {n: statistics.median(s) * 1e3 / click_ms for n, s in times.items() if "--help" in n}
    worst = max(helps, key=lambda n: helps[n])
    verdict = "met" if helps[worst] <= TARGET else "missed"
    print(f"target --help <= {TARGET:.0f}x click: {verdict} (slowest {worst}: {helps[worst]:.2f}x)")
    floor = statistics.median(times["python -c pass"]) * 1e3
    protocol = statistics.median(times["python -c 'import harness.protocol'"]) * 1e3
    print(
        f"import harness.protocol: {protocol - floor:.1f} ms over python -c pass (median wall); "
        f"-X importtime median {statistics.median(importtime) / 1e3:.1f} ms, "
        f"min {min(importtime) / 1e3:.1f} ms"
    )


if __name__ == "__main__":
    main()
